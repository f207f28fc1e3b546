// The RDS front refuses what RDS refuses and answers what moto cannot (infra/rds-front/checks.ts,
// refusals.ts, parameters.ts, engines.ts): KMS keys of the call's region, parameter groups of the
// instance's family, known and modifiable parameters applied as RDS applies them, subnet groups
// over two AZs, security groups that exist, master passwords RDS takes, groups in use, deletion
// protection, a restore's lifecycle. Through the SDK at a front this test starts (the stack's
// runs main's code), with moto's RDS, EC2 and KMS as the witnesses.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  CreateDBSnapshotCommand,
  CreateDBSubnetGroupCommand,
  DeleteDBInstanceCommand,
  DeleteDBParameterGroupCommand,
  DeleteDBSnapshotCommand,
  DeleteDBSubnetGroupCommand,
  DescribeDBEngineVersionsCommand,
  DescribeDBInstancesCommand,
  DescribeDBParametersCommand,
  DescribeEngineDefaultParametersCommand,
  ModifyDBInstanceCommand,
  ModifyDBParameterGroupCommand,
  RDSClient,
  RebootDBInstanceCommand,
  ResetDBParameterGroupCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  type CreateDBInstanceCommandInput,
  type DescribeDBEngineVersionsCommandInput,
  type DBInstance,
} from '@aws-sdk/client-rds';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { INSTANT, startRdsFront, type RdsFront } from '../../infra/rds-front.js';
import { config, eventually, tools, uniqueName } from '../support/env.js';
import { motoInstance } from '../support/rds.js';

const REGION = config.aws.region;
const OTHER_REGION = REGION === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1';
const password = randomBytes(12).toString('hex');
let front: RdsFront;
const rdsIn = new Map<string, RDSClient>();
/** instances, groups and snapshots to remove after, by region */
const made: { region: string; kind: 'instance' | 'pg' | 'subnets' | 'snapshot'; name: string }[] =
  [];

/** The SDK at this test's front, in a region (one attempt: a refusal is the answer). */
function rds(region = REGION): RDSClient {
  let client = rdsIn.get(region);
  if (!client) {
    client = new RDSClient({ region, endpoint: front.url, maxAttempts: 1 });
    rdsIn.set(region, client);
  }
  return client;
}
const ec2 = (region = REGION) => new EC2Client({ region, endpoint: tools.motoUrl, maxAttempts: 1 });
const kms = (region = REGION) => new KMSClient({ region, endpoint: tools.motoUrl, maxAttempts: 1 });

function refusedWith(name: string, message?: RegExp) {
  return (e: Error) => {
    assert.equal(e.name, name, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

async function create(
  input: Partial<CreateDBInstanceCommandInput>,
  region = REGION,
): Promise<DBInstance> {
  const id = input.DBInstanceIdentifier ?? uniqueName('rules');
  const out = await rds(region).send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      DBInstanceClass: 'db.t3.micro',
      Engine: 'postgres',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: password,
      ...input,
    }),
  );
  made.push({ region, kind: 'instance', name: id });
  assert.ok(out.DBInstance);
  return out.DBInstance;
}

async function shown(id: string, region = REGION): Promise<DBInstance | undefined> {
  try {
    const out = await rds(region).send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }),
    );
    return out.DBInstances?.[0];
  } catch {
    return undefined;
  }
}

async function statusBecomes(id: string, status: string, timeoutMs = 5_000): Promise<void> {
  await eventually(
    `${id} ${status}`,
    async () => ((await shown(id))?.DBInstanceStatus === status ? true : undefined),
    timeoutMs,
  );
}

const applyStatus = async (id: string) =>
  (await shown(id))?.DBParameterGroups?.[0]?.ParameterApplyStatus;

async function parameterGroup(family: string, region = REGION): Promise<string> {
  const name = uniqueName('pg');
  await rds(region).send(
    new CreateDBParameterGroupCommand({
      DBParameterGroupName: name,
      DBParameterGroupFamily: family,
      Description: 'rds-front rules',
    }),
  );
  made.push({ region, kind: 'pg', name });
  return name;
}

/** A key in moto's KMS of `region`, with an alias. */
async function kmsKey(region = REGION): Promise<{ id: string; arn: string; alias: string }> {
  const key = await kms(region).send(new CreateKeyCommand({}));
  const id = key.KeyMetadata?.KeyId ?? '';
  const alias = `alias/${uniqueName('rules')}`;
  await kms(region).send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: id }));
  return { id, arn: key.KeyMetadata?.Arn ?? '', alias };
}

before(async () => {
  front = await startRdsFront({ target: tools.motoUrl, timings: INSTANT });
});

after(async () => {
  for (const { region, kind, name } of [...made].reverse()) {
    const client = rds(region);
    const attempt = async (p: () => Promise<unknown>) => p().catch(() => undefined);
    if (kind === 'instance') {
      await attempt(() =>
        client.send(
          new ModifyDBInstanceCommand({ DBInstanceIdentifier: name, DeletionProtection: false }),
        ),
      );
      await attempt(() =>
        client.send(
          new DeleteDBInstanceCommand({ DBInstanceIdentifier: name, SkipFinalSnapshot: true }),
        ),
      );
    }
    if (kind === 'snapshot') {
      await attempt(() => client.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: name })));
    }
    if (kind === 'pg') {
      await attempt(() =>
        client.send(new DeleteDBParameterGroupCommand({ DBParameterGroupName: name })),
      );
    }
    if (kind === 'subnets') {
      await attempt(() => client.send(new DeleteDBSubnetGroupCommand({ DBSubnetGroupName: name })));
    }
  }
  await front.close();
});

describe('the RDS front refuses what RDS refuses', () => {
  it('takes KMS keys of the call region only, by id, ARN, alias and alias ARN', async () => {
    const key = await kmsKey();
    const elsewhere = await kmsKey(OTHER_REGION);
    for (const KmsKeyId of ['no-such-key', elsewhere.arn, elsewhere.id]) {
      await assert.rejects(
        create({ KmsKeyId, StorageEncrypted: true }),
        refusedWith('KMSKeyNotAccessibleFault', /does not exist, is not enabled/),
      );
    }
    await assert.rejects(
      create({ KmsKeyId: key.id, StorageEncrypted: false }),
      refusedWith('InvalidParameterCombination'),
    );
    const aliasArn = key.arn.replace(/:key\/.*$/, `:${key.alias}`);
    for (const KmsKeyId of [key.id, key.arn, key.alias, aliasArn]) {
      const instance = await create({ KmsKeyId, StorageEncrypted: true });
      assert.equal(instance.StorageEncrypted, true);
    }
    // the key of the other region is good there
    const there = await create({ KmsKeyId: elsewhere.arn, StorageEncrypted: true }, OTHER_REGION);
    assert.equal(there.KmsKeyId, elsewhere.arn);
    const id = uniqueName('rules');
    await create({ DBInstanceIdentifier: id });
    await assert.rejects(
      rds().send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: id,
          EnablePerformanceInsights: true,
          PerformanceInsightsKMSKeyId: elsewhere.arn,
        }),
      ),
      refusedWith('KMSKeyNotAccessibleFault'),
    );
    assert.equal((await motoInstance(id))?.PerformanceInsightsEnabled ?? false, false);
  });

  it('refuses master passwords RDS refuses, never quoting them', async () => {
    const bad = [
      { Engine: 'postgres', MasterUserPassword: 'Short7x' },
      { Engine: 'postgres', MasterUserPassword: `a${'b'.repeat(128)}` },
      { Engine: 'mysql', MasterUserPassword: 'c'.repeat(42) },
      { Engine: 'mariadb', MasterUserPassword: 'has-an@sign' },
      { Engine: 'postgres', MasterUserPassword: 'has/slash1' },
      { Engine: 'postgres', MasterUserPassword: 'has"quote1' },
      { Engine: 'postgres', MasterUserPassword: 'has space1' },
    ];
    for (const input of bad) {
      await assert.rejects(create(input), (e: Error) => {
        assert.equal(e.name, 'InvalidParameterValue');
        assert.match(e.message, /MasterUserPassword is not a valid password/);
        assert.ok(!e.message.includes(input.MasterUserPassword), 'the message quotes the password');
        return true;
      });
    }
    const id = uniqueName('rules');
    await create({ DBInstanceIdentifier: id, Engine: 'mysql', MasterUserPassword: 'd'.repeat(41) });
    await assert.rejects(
      rds().send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: id,
          MasterUserPassword: 'e'.repeat(42),
        }),
      ),
      refusedWith('InvalidParameterValue', /longer than 41/),
    );
    const journal = JSON.stringify(await front.journal());
    for (const { MasterUserPassword } of bad) assert.ok(!journal.includes(MasterUserPassword));
  });

  it('places instances in subnet groups over two AZs, with security groups that exist', async () => {
    const vpc = (await ec2().send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }))).Vpc;
    const subnet = async (cidr: string, az: string) =>
      (
        await ec2().send(
          new CreateSubnetCommand({ VpcId: vpc?.VpcId, CidrBlock: cidr, AvailabilityZone: az }),
        )
      ).Subnet?.SubnetId ?? '';
    const a1 = await subnet('10.42.1.0/24', `${REGION}a`);
    const a2 = await subnet('10.42.2.0/24', `${REGION}a`);
    const b = await subnet('10.42.3.0/24', `${REGION}b`);
    const name = uniqueName('subnets');
    const group = (SubnetIds: string[]) =>
      rds().send(
        new CreateDBSubnetGroupCommand({
          DBSubnetGroupName: name,
          DBSubnetGroupDescription: 'rds-front rules',
          SubnetIds,
        }),
      );
    await assert.rejects(
      group([a1, a2]),
      refusedWith('DBSubnetGroupDoesNotCoverEnoughAZs', new RegExp(`${REGION}a`)),
    );
    await group([a1, b]);
    made.push({ region: REGION, kind: 'subnets', name });
    const sg = await ec2().send(
      new CreateSecurityGroupCommand({
        GroupName: uniqueName('sg'),
        Description: 'db',
        VpcId: vpc?.VpcId,
      }),
    );
    const theirs = await ec2(OTHER_REGION).send(
      new CreateSecurityGroupCommand({ GroupName: uniqueName('sg'), Description: 'db' }),
    );
    await assert.rejects(
      create({ DBSubnetGroupName: `${name}-none` }),
      refusedWith('DBSubnetGroupNotFoundFault'),
    );
    for (const id of ['sg-0123456789abcdef0', theirs.GroupId ?? '']) {
      await assert.rejects(
        create({ DBSubnetGroupName: name, VpcSecurityGroupIds: [sg.GroupId ?? '', id] }),
        refusedWith('InvalidParameterValue', new RegExp(`Invalid security group , groupId= ${id}`)),
      );
    }
    const instance = await create({
      DBSubnetGroupName: name,
      VpcSecurityGroupIds: [sg.GroupId ?? ''],
    });
    assert.equal(instance.DBSubnetGroup?.DBSubnetGroupName, name);
    assert.deepEqual(
      instance.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
      [sg.GroupId],
    );
  });

  it('keeps deletion protection until it is lifted, which applies at once', async () => {
    const id = uniqueName('rules');
    await front.setTimings({ modifyingMs: 60_000 }, id);
    await create({ DBInstanceIdentifier: id, DeletionProtection: true });
    await assert.rejects(
      rds().send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
      ),
      refusedWith(
        'InvalidParameterCombination',
        /Cannot delete protected DB Instance, please disable deletion protection and try again/,
      ),
    );
    const lifted = await rds().send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        DeletionProtection: false,
        ApplyImmediately: true,
      }),
    );
    assert.equal(lifted.DBInstance?.DBInstanceStatus, 'available');
    assert.equal(lifted.DBInstance?.DeletionProtection, false);
    const deleted = await rds().send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    assert.equal(deleted.DBInstance?.DBInstanceStatus, 'deleting');
  });

  it('restores a snapshot through creating, encrypted with its key, journaled', async () => {
    const key = await kmsKey();
    const id = uniqueName('rules');
    await create({
      DBInstanceIdentifier: id,
      KmsKeyId: key.arn,
      StorageEncrypted: true,
      DeletionProtection: true,
    });
    const snapshot = `${id}-final`;
    await rds().send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: snapshot }),
    );
    made.push({ region: REGION, kind: 'snapshot', name: snapshot });
    const restoredId = `${id}-r`;
    await front.setTimings({ creatingMs: 1_000, backingUpMs: 500 }, restoredId);
    const restored = await rds().send(
      new RestoreDBInstanceFromDBSnapshotCommand({
        DBInstanceIdentifier: restoredId,
        DBSnapshotIdentifier: snapshot,
        DBInstanceClass: 'db.t3.micro',
      }),
    );
    made.push({ region: REGION, kind: 'instance', name: restoredId });
    assert.equal(restored.DBInstance?.DBInstanceStatus, 'creating');
    assert.equal((await shown(restoredId))?.Endpoint, undefined, 'an endpoint while creating');
    await statusBecomes(restoredId, 'available');
    const now = await shown(restoredId);
    assert.equal(now?.StorageEncrypted, true);
    assert.equal(now?.KmsKeyId, key.arn);
    // RDS protects a restored instance only when asked (moto copies the source's protection)
    assert.equal(now?.DeletionProtection, false);
    assert.equal((await motoInstance(restoredId))?.DeletionProtection, false);
    const journaled = (await front.journal()).filter((e) => e.identifier === restoredId);
    assert.deepEqual(
      journaled.map((e) => [e.action, e.outcome]),
      [['RestoreDBInstanceFromDBSnapshot', 'ok']],
    );
  });

  it('lists a deleting instance in a region where moto has no other', async () => {
    // a region no other test uses: moto's list there is empty once the instance is deleted
    const region = 'sa-east-1';
    const id = uniqueName('rules');
    await front.setTimings({ deletingMs: 3_000 }, id);
    await create({ DBInstanceIdentifier: id }, region);
    await rds(region).send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    const listed = await rds(region).send(new DescribeDBInstancesCommand({}));
    assert.deepEqual(
      listed.DBInstances?.filter((i) => i.DBInstanceIdentifier === id).map(
        (i) => i.DBInstanceStatus,
      ),
      ['deleting'],
    );
  });

  it('reads the instance before a call in the call region (the journal has its tags)', async () => {
    const id = uniqueName('rules');
    await create({ DBInstanceIdentifier: id, Tags: [{ Key: 'team', Value: 'far' }] }, OTHER_REGION);
    await rds(OTHER_REGION).send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    const entry = (await front.journal()).find(
      (e) => e.identifier === id && e.action === 'DeleteDBInstance',
    );
    assert.deepEqual(entry?.tagsBefore, { team: 'far' });
    assert.equal(entry?.statusBefore, 'available');
  });
});

describe('the RDS front knows parameter groups as RDS does', () => {
  it('attaches groups of the instance family only, and existing ones', async () => {
    const pg15 = await parameterGroup('postgres15');
    await assert.rejects(
      create({ EngineVersion: '16.4', DBParameterGroupName: pg15 }),
      refusedWith(
        'InvalidParameterCombination',
        /DBParameterGroupFamily postgres15 can't be used .* postgres16/,
      ),
    );
    await assert.rejects(
      create({ EngineVersion: '16.4', DBParameterGroupName: `${pg15}-none` }),
      refusedWith('DBParameterGroupNotFoundFault'),
    );
    const mysql = await parameterGroup('mysql8.0');
    const instance = await create({
      Engine: 'mysql',
      EngineVersion: '8.0.39',
      DBParameterGroupName: mysql,
    });
    assert.deepEqual(instance.DBParameterGroups, [
      { DBParameterGroupName: mysql, ParameterApplyStatus: 'in-sync' },
    ]);
  });

  it('refuses unknown, fixed and out-of-range parameters and static ones applied at once', async () => {
    const name = await parameterGroup('postgres16');
    const modify = (
      ParameterName: string,
      ParameterValue: string,
      ApplyMethod: 'immediate' | 'pending-reboot',
    ) =>
      rds().send(
        new ModifyDBParameterGroupCommand({
          DBParameterGroupName: name,
          Parameters: [{ ParameterName, ParameterValue, ApplyMethod }],
        }),
      );
    await assert.rejects(
      modify('no_such_parameter', '1', 'immediate'),
      refusedWith('InvalidParameterValue', /no_such_parameter/),
    );
    await assert.rejects(
      modify('port', '6543', 'pending-reboot'),
      refusedWith('InvalidParameterValue', /port cannot be modified/),
    );
    await assert.rejects(
      modify('work_mem', 'lots', 'immediate'),
      refusedWith('InvalidParameterValue', /work_mem/),
    );
    await assert.rejects(
      modify('log_statement', 'everything', 'immediate'),
      refusedWith('InvalidParameterValue', /none,ddl,mod,all/),
    );
    await assert.rejects(
      modify('shared_buffers', '65536', 'immediate'),
      refusedWith('InvalidParameterCombination', /static/),
    );
    const stored = await rds().send(
      new DescribeDBParametersCommand({ DBParameterGroupName: name, Source: 'user' }),
    );
    assert.deepEqual(stored.Parameters, [], 'a refused change reached moto');
  });

  it('describes a group and the engine defaults from the catalogue, merged with the values set', async () => {
    const defaults = await rds().send(
      new DescribeEngineDefaultParametersCommand({ DBParameterGroupFamily: 'postgres16' }),
    );
    const byName = new Map(
      (defaults.EngineDefaults?.Parameters ?? []).map((p) => [p.ParameterName, p]),
    );
    assert.ok(byName.size >= 15, `${byName.size} parameters`);
    assert.equal(byName.get('max_connections')?.ApplyType, 'static');
    assert.equal(byName.get('shared_buffers')?.ApplyType, 'static');
    assert.equal(byName.get('work_mem')?.ApplyType, 'dynamic');
    assert.equal(byName.get('log_min_duration_statement')?.ApplyType, 'dynamic');
    assert.equal(byName.get('port')?.IsModifiable, false);
    for (const family of [
      'mysql8.0',
      'mysql8.4',
      'mariadb10.11',
      'mariadb11.4',
      'postgres15',
      'postgres17',
    ]) {
      const out = await rds().send(
        new DescribeEngineDefaultParametersCommand({ DBParameterGroupFamily: family }),
      );
      const names = (out.EngineDefaults?.Parameters ?? []).map((p) => p.ParameterName);
      assert.ok(
        names.length >= 15 && names.includes('max_connections'),
        `${family}: ${names.length}`,
      );
      if (family.startsWith('m')) assert.ok(names.includes('innodb_buffer_pool_size'));
    }
    const name = await parameterGroup('postgres16');
    await rds().send(
      new ModifyDBParameterGroupCommand({
        DBParameterGroupName: name,
        Parameters: [
          { ParameterName: 'work_mem', ParameterValue: '8192', ApplyMethod: 'immediate' },
          {
            ParameterName: 'shared_buffers',
            ParameterValue: '65536',
            ApplyMethod: 'pending-reboot',
          },
        ],
      }),
    );
    const user = async () =>
      (
        await rds().send(
          new DescribeDBParametersCommand({ DBParameterGroupName: name, Source: 'user' }),
        )
      ).Parameters?.map((p) => [p.ParameterName, p.ParameterValue, p.ApplyType]);
    assert.deepEqual(await user(), [
      ['shared_buffers', '65536', 'static'],
      ['work_mem', '8192', 'dynamic'],
    ]);
    const all = await rds().send(new DescribeDBParametersCommand({ DBParameterGroupName: name }));
    assert.equal(all.Parameters?.length, byName.size);
    const system = await rds().send(
      new DescribeDBParametersCommand({ DBParameterGroupName: name, Source: 'system' }),
    );
    assert.ok(system.Parameters?.every((p) => p.IsModifiable === false && p.Source === 'system'));
    await rds().send(
      new ResetDBParameterGroupCommand({
        DBParameterGroupName: name,
        Parameters: [{ ParameterName: 'shared_buffers', ApplyMethod: 'pending-reboot' }],
      }),
    );
    assert.deepEqual(await user(), [['work_mem', '8192', 'dynamic']]);
    await rds().send(
      new ResetDBParameterGroupCommand({ DBParameterGroupName: name, ResetAllParameters: true }),
    );
    assert.deepEqual(await user(), []);
    await assert.rejects(
      rds().send(new DescribeDBParametersCommand({ DBParameterGroupName: `${name}-none` })),
      refusedWith('DBParameterGroupNotFoundFault'),
    );
  });

  it('shows a static change pending until a reboot, a dynamic one applying', async () => {
    const name = await parameterGroup('postgres16');
    const id = uniqueName('rules');
    await front.setTimings({ modifyingMs: 1_000 }, id);
    await create({ DBInstanceIdentifier: id, EngineVersion: '16.4', DBParameterGroupName: name });
    assert.equal(await applyStatus(id), 'in-sync');
    const set = (
      ParameterName: string,
      ParameterValue: string,
      ApplyMethod: 'immediate' | 'pending-reboot',
    ) =>
      rds().send(
        new ModifyDBParameterGroupCommand({
          DBParameterGroupName: name,
          Parameters: [{ ParameterName, ParameterValue, ApplyMethod }],
        }),
      );
    await set('work_mem', '16384', 'immediate');
    assert.equal(await applyStatus(id), 'applying');
    await eventually(
      'in-sync',
      async () => ((await applyStatus(id)) === 'in-sync' ? true : undefined),
      5_000,
    );
    await set('shared_buffers', '131072', 'pending-reboot');
    assert.equal(await applyStatus(id), 'pending-reboot');
    await set('work_mem', '32768', 'immediate');
    assert.equal(
      await applyStatus(id),
      'pending-reboot',
      'a dynamic change cleared a pending reboot',
    );
    await rds().send(new RebootDBInstanceCommand({ DBInstanceIdentifier: id }));
    assert.equal((await shown(id))?.DBInstanceStatus, 'rebooting');
    await assert.rejects(
      rds().send(new RebootDBInstanceCommand({ DBInstanceIdentifier: id })),
      refusedWith('InvalidDBInstanceStateFault', /rebooting/),
    );
    await statusBecomes(id, 'available');
    assert.equal(await applyStatus(id), 'in-sync');
    // a group newly attached waits for a reboot too
    const other = await parameterGroup('postgres16');
    await rds().send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBParameterGroupName: other,
        ApplyImmediately: true,
      }),
    );
    await statusBecomes(id, 'available');
    assert.equal(await applyStatus(id), 'pending-reboot');
  });

  it('keeps a group an instance uses, and default groups', async () => {
    const name = await parameterGroup('postgres16');
    const id = uniqueName('rules');
    await front.setTimings({ deletingMs: 1_000 }, id);
    await create({ DBInstanceIdentifier: id, EngineVersion: '16.6', DBParameterGroupName: name });
    const remove = (group: string) =>
      rds().send(new DeleteDBParameterGroupCommand({ DBParameterGroupName: group }));
    await assert.rejects(
      remove(name),
      refusedWith('InvalidDBParameterGroupStateFault', /still members/),
    );
    await assert.rejects(
      remove('default.postgres16'),
      refusedWith('InvalidDBParameterGroupStateFault'),
    );
    await rds().send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    await remove(name);
    await assert.rejects(
      rds().send(new DescribeDBParametersCommand({ DBParameterGroupName: name })),
      refusedWith('DBParameterGroupNotFoundFault'),
    );
  });

  it('lists engine versions and their families', async () => {
    const versions = async (input: DescribeDBEngineVersionsCommandInput) =>
      ((await rds().send(new DescribeDBEngineVersionsCommand(input))).DBEngineVersions ?? []).map(
        (v) => [v.Engine, v.EngineVersion, v.DBParameterGroupFamily],
      );
    const postgres = await versions({ Engine: 'postgres' });
    assert.deepEqual(
      [...new Set(postgres.map(([, , family]) => family))],
      ['postgres15', 'postgres16', 'postgres17'],
    );
    assert.ok(postgres.every(([engine]) => engine === 'postgres'));
    assert.deepEqual(await versions({ Engine: 'postgres', EngineVersion: '16.4' }), [
      ['postgres', '16.4', 'postgres16'],
    ]);
    assert.ok(
      (await versions({ Engine: 'postgres', EngineVersion: '16' })).every(([, v]) =>
        v?.startsWith('16.'),
      ),
    );
    assert.deepEqual(await versions({ Engine: 'mysql', DefaultOnly: true }), [
      ['mysql', '8.4.4', 'mysql8.4'],
    ]);
    const mariadb = await versions({ DBParameterGroupFamily: 'mariadb10.11' });
    assert.ok(
      mariadb.length >= 2 && mariadb.every(([e, v]) => e === 'mariadb' && v?.startsWith('10.11.')),
    );
    assert.equal((await versions({})).filter(([, , f]) => f === 'mysql8.0').length >= 2, true);
  });
});
