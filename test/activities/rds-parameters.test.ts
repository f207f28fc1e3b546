// DB parameter groups and restores from a snapshot, with real clients against moto behind an RDS
// front of their own: what the activities made or left is read back in moto itself.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateDBParameterGroupCommand,
  DeleteDBParameterGroupCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBParametersCommand,
  ListTagsForResourceCommand,
  ModifyDBParameterGroupCommand,
  RDSClient,
  type Parameter,
} from '@aws-sdk/client-rds';
import { attributeRdsCalls, createRdsActivities, type PollTiming } from '../../activities/rds.js';
import { createParameterActivities } from '../../activities/rds-parameters.js';
import { createVaultActivities, vaultCredentials } from '../../activities/vault.js';
import { awsLocation, vaultClient } from '../../config/clients.js';
import { finalSnapshotIdentifier } from '../../contracts/names.js';
import { resolveDatabase, type ResolvedDatabase } from '../../contracts/spec.js';
import { FAILURE } from '../../contracts/workflow.js';
import { INSTANT, startRdsFront, type RdsFront } from '../../infra/rds-front.js';
import { failureOf, run, runIn } from '../support/activity.js';
import { config, tools, uniqueName } from '../support/env.js';
import { moto, motoInstance, tagMap } from '../support/rds.js';

let front: RdsFront;
let rds: RDSClient;
const vaultDeps = { vault: vaultClient(config.vault), mount: 'secret' };
const vault = createVaultActivities(vaultDeps);
const timing: PollTiming = { pollIntervalMs: 100, pollWindowMs: 10_000 };
const where = awsLocation({ region: config.aws.region, stsEndpoint: tools.motoUrl });

function deps() {
  return {
    rds,
    destructive: rds,
    timing,
    credentials: vaultCredentials(vaultDeps),
    location: where.location,
    objects: { policy: () => Promise.resolve(undefined) },
  };
}
const instances = () => createRdsActivities(deps());
const groups = () => createParameterActivities(deps());

function database(
  spec: Record<string, unknown> = {},
  at: { namespace?: string; name?: string } = {},
): ResolvedDatabase {
  const result = resolveDatabase({
    metadata: {
      namespace: at.namespace ?? 'params',
      name: at.name ?? uniqueName('pg'),
      uid: randomUUID(),
      generation: 1,
    },
    spec: { engine: 'postgres', engineVersion: '16.3', ...spec },
  });
  assert.ok(result.ok, JSON.stringify(result));
  return result.database;
}

/** The group's parameters as moto holds them, by name. */
async function motoParameters(group: string): Promise<Record<string, string | undefined>> {
  const out = await moto.send(new DescribeDBParametersCommand({ DBParameterGroupName: group }));
  return Object.fromEntries(
    (out.Parameters ?? []).map((p: Parameter) => [p.ParameterName ?? '', p.ParameterValue]),
  );
}

async function motoGroupExists(group: string): Promise<boolean> {
  try {
    // NOTE: moto answers an empty list for a name it does not know (RDS: NotFound)
    const out = await moto.send(
      new DescribeDBParameterGroupsCommand({ DBParameterGroupName: group }),
    );
    return (out.DBParameterGroups ?? []).length > 0;
  } catch (error: unknown) {
    if ((error as { name?: string }).name?.includes('DBParameterGroupNotFound')) return false;
    throw error;
  }
}

/** The group ensured, then the instance created with it attached (what provisioning does). */
async function provisioned(db: ResolvedDatabase, runId = randomUUID()) {
  await run(vault.ensureMasterPassword, db);
  const group = db.parameters ? await run(groups().ensureParameterGroup, db) : undefined;
  const withGroup = group ? { ...db, parameterGroup: group.name } : db;
  const execution = { workflowId: `database/test/${db.ref.uid}`, runId };
  const created = await runIn(execution, instances().createDbInstance, withGroup);
  return { db: withGroup, group, created };
}

/** Deletes the instance with a final snapshot; the snapshot's identifier. */
async function deletedWithSnapshot(db: ResolvedDatabase): Promise<string> {
  const finalSnapshot = finalSnapshotIdentifier(db.dbInstanceIdentifier, randomUUID());
  const request = { names: db, policy: 'Snapshot' as const, finalSnapshot };
  const out = await run(instances().deleteDbInstance, request);
  assert.equal(out.state, 'deleting');
  const gone = await run(instances().waitUntilDeleted, { names: db, snapshot: finalSnapshot });
  assert.equal(gone.snapshot, finalSnapshot);
  return finalSnapshot;
}

before(async () => {
  front = await startRdsFront({ target: tools.motoUrl, timings: INSTANT });
  rds = new RDSClient({ region: config.aws.region, endpoint: front.url, maxAttempts: 1 });
  attributeRdsCalls(rds);
});

after(async () => {
  rds?.destroy();
  where.destroy();
  await front?.close();
});

describe('parameter groups: spec.parameters become a group the Database owns', () => {
  it('creates the group with the values, tagged with the identity, and the instance uses it', async () => {
    const db = database({ parameters: { work_mem: '8192', log_min_duration_statement: '500' } });
    const { group, created } = await provisioned(db);
    assert.ok(group);
    assert.equal(group.name, `${db.dbInstanceIdentifier}-postgres16`);
    assert.equal(group.family, 'postgres16');
    assert.equal(group.created, true);
    assert.equal(created.adopted, false);
    assert.deepEqual(await motoParameters(group.name), {
      work_mem: '8192',
      log_min_duration_statement: '500',
    });
    const described = await moto.send(
      new DescribeDBParameterGroupsCommand({ DBParameterGroupName: group.name }),
    );
    const arn = described.DBParameterGroups?.[0]?.DBParameterGroupArn;
    assert.equal(described.DBParameterGroups?.[0]?.DBParameterGroupFamily, 'postgres16');
    const { TagList } = await moto.send(new ListTagsForResourceCommand({ ResourceName: arn }));
    assert.equal(tagMap(TagList)['rdsflow.io/uid'], db.ref.uid);
    assert.equal(tagMap(TagList)['rdsflow.io/namespace'], db.ref.namespace);
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.DBParameterGroups?.[0]?.DBParameterGroupName, group.name);
    // ensured again (a retry, the next generation unchanged): nothing new is made
    const again = await run(groups().ensureParameterGroup, db);
    assert.equal(again.created, false);
    assert.deepEqual(again.pendingReboot, []);
  });

  it('changes the values on an edit, and sends more than 20 parameters in calls of 20', async () => {
    const db = database({ parameters: { work_mem: '4096' } });
    const { group } = await provisioned(db);
    assert.ok(group);
    const edited = { ...db, parameters: { work_mem: '65536', log_statement: 'ddl' } };
    await run(groups().ensureParameterGroup, edited, ['work_mem']);
    assert.deepEqual(await motoParameters(group.name), { work_mem: '65536', log_statement: 'ddl' });
    // dropped from the spec: reset to the engine's default (as RDS shows it: moto keeps values)
    const dropped = { ...db, parameters: { log_statement: 'ddl' } };
    await run(groups().ensureParameterGroup, dropped, ['work_mem', 'log_statement']);
    const shown = await rds.send(
      new DescribeDBParametersCommand({ DBParameterGroupName: group.name }),
    );
    const byName = new Map((shown.Parameters ?? []).map((p) => [p.ParameterName, p]));
    assert.notEqual(byName.get('work_mem')?.Source, 'user');
    assert.equal(byName.get('log_statement')?.ParameterValue, 'ddl');
    assert.equal(byName.get('log_statement')?.Source, 'user');

    // NOTE: no family has 21 parameters the front knows, and it refuses names it does not; moto
    // itself takes any name (and answers DescribeEngineDefaultParameters with a 500, which
    // leaves the apply type unknown: pending-reboot), so the split is seen straight at moto
    const straight = createParameterActivities({ ...deps(), rds: moto, destructive: moto });
    const sizes: number[] = [];
    moto.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Parameters?: unknown[] };
        if (context.commandName === 'ModifyDBParameterGroupCommand')
          sizes.push(input.Parameters?.length ?? 0);
        return next(args);
      },
      { step: 'initialize', name: 'countParameters' },
    );
    const many = Object.fromEntries(
      Array.from({ length: 25 }, (_, i) => [`rdsflow_test.p${i}`, `${i}`]),
    );
    try {
      const out = await run(straight.ensureParameterGroup, { ...db, parameters: many }, []);
      assert.equal(out.name, group.name);
      assert.equal(out.pendingReboot.length, 25);
    } finally {
      moto.middlewareStack.remove('countParameters');
    }
    assert.deepEqual(sizes, [20, 5]);
    const held = await motoParameters(group.name);
    for (const [name, value] of Object.entries(many)) assert.equal(held[name], value, name);
  });

  it("without spec.engineVersion, makes the group of the engine's default version, as RDS says it", async () => {
    const db = database({ engineVersion: undefined, parameters: { work_mem: '8192' } });
    const out = await run(groups().ensureParameterGroup, db);
    // the front answers DescribeDBEngineVersions DefaultOnly as RDS does (moto: a 500)
    assert.match(out.family, /^postgres1[0-9]$/);
    assert.equal(out.name, `${db.dbInstanceIdentifier}-${out.family}`);
    assert.deepEqual(await motoParameters(out.name), { work_mem: '8192' });
  });

  it("never changes or deletes a group under our name that another object's UID owns", async () => {
    const db = database({ parameters: { work_mem: '8192' } });
    const name = `${db.dbInstanceIdentifier}-postgres16`;
    await moto.send(
      new CreateDBParameterGroupCommand({
        DBParameterGroupName: name,
        DBParameterGroupFamily: 'postgres16',
        Description: 'another object',
        Tags: [
          { Key: 'rdsflow.io/uid', Value: randomUUID() },
          { Key: 'rdsflow.io/namespace', Value: db.ref.namespace },
          { Key: 'rdsflow.io/name', Value: db.ref.name },
        ],
      }),
    );
    await moto.send(
      new ModifyDBParameterGroupCommand({
        DBParameterGroupName: name,
        Parameters: [
          { ParameterName: 'work_mem', ParameterValue: '1024', ApplyMethod: 'immediate' },
        ],
      }),
    );
    const refused = await failureOf(run(groups().ensureParameterGroup, db));
    assert.equal(refused.type, FAILURE.entryNotOurs);
    assert.match(
      refused.message,
      new RegExp(`DB parameter group ${name} belongs to .*not to this Database`),
    );
    const deleted = await run(groups().deleteParameterGroups, db);
    assert.deepEqual(deleted.deleted, []);
    assert.equal(await motoGroupExists(name), true);
    assert.deepEqual(await motoParameters(name), { work_mem: '1024' });
  });

  it("refuses to attach another Database's owned group by name, or one that does not exist", async () => {
    const owner = database({ parameters: { work_mem: '8192' } });
    const owned = await run(groups().ensureParameterGroup, owner);
    // another namespace names the owner's group: attaching it would hand it the owner's edits
    const other = database({ parameterGroup: owned.name }, { namespace: 'elsewhere' });
    const refused = await failureOf(run(groups().ensureParameterGroup, other));
    assert.equal(refused.type, FAILURE.entryNotOurs);
    assert.match(refused.message, /another Database owns/);
    const missing = database({ parameterGroup: uniqueName('nosuch') });
    assert.equal(
      (await failureOf(run(groups().ensureParameterGroup, missing))).type,
      FAILURE.invalidSpec,
    );
    // a group the platform made (no rdsflow tag) is attached as it is, unchanged
    const plain = uniqueName('platform');
    await moto.send(
      new CreateDBParameterGroupCommand({
        DBParameterGroupName: plain,
        DBParameterGroupFamily: 'postgres16',
        Description: 'the platform team',
      }),
    );
    const attached = await run(groups().ensureParameterGroup, database({ parameterGroup: plain }));
    assert.equal(attached.name, plain);
    assert.equal(attached.created, false);
    // and the owner's group is still the owner's, with its values
    assert.deepEqual(await motoParameters(owned.name), { work_mem: '8192' });
    await run(groups().deleteParameterGroups, owner);
    await moto.send(new DeleteDBParameterGroupCommand({ DBParameterGroupName: plain }));
  });

  it('deletes the group once the instance is gone, and only groups of this Database', async () => {
    const db = database({ parameters: { work_mem: '8192' } });
    const { group } = await provisioned(db);
    assert.ok(group);
    const request = {
      names: db,
      policy: 'Delete' as const,
      finalSnapshot: finalSnapshotIdentifier(db.dbInstanceIdentifier, randomUUID()),
    };
    await run(instances().deleteDbInstance, request);
    await run(instances().waitUntilDeleted, { names: db });
    const out = await run(groups().deleteParameterGroups, db);
    assert.deepEqual(out.deleted, [group.name]);
    assert.equal(await motoGroupExists(group.name), false);
    // again (a retry after a crash): nothing left to delete, and no failure
    assert.deepEqual((await run(groups().deleteParameterGroups, db)).deleted, []);
  });

  it('names the parameters that wait for a reboot, and the instance says so', async () => {
    // shared_buffers is static in every PostgreSQL: RDS applies it only at a reboot
    const db = database({ parameters: { work_mem: '8192' } });
    const { db: attached } = await provisioned(db);
    const edited = { ...attached, parameters: { work_mem: '8192', shared_buffers: '16384' } };
    const out = await run(groups().ensureParameterGroup, edited, ['work_mem']);
    assert.deepEqual(out.pendingReboot, ['shared_buffers']);
    // NOTE: RDS marks the instance's group pending-reboot after a static change; moto always
    // says in-sync, so this holds against the front that models it
    const status = await run(groups().readParameterStatus, db);
    assert.equal(status.group, out.name);
    assert.equal(status.applyStatus, 'pending-reboot');
  });
});

describe('restore from a snapshot: spec.source.snapshot', () => {
  it("restores a deleted Database's final snapshot as a new instance of this object only", async () => {
    const old = database({}, { name: uniqueName('src') });
    await provisioned(old);
    const snapshot = await deletedWithSnapshot(old);
    const db = database({ source: { snapshot } });
    await run(vault.ensureMasterPassword, db);
    const created = await runIn(
      { workflowId: `database/test/${db.ref.uid}`, runId: randomUUID() },
      instances().createDbInstance,
      db,
    );
    assert.equal(created.adopted, false);
    assert.equal(created.restoredFrom, snapshot);
    const tags = tagMap((await motoInstance(db.dbInstanceIdentifier))?.TagList);
    assert.equal(tags['rdsflow.io/uid'], db.ref.uid);
    assert.equal(tags['rdsflow.io/name'], db.ref.name);
    for (const key of ['rdsflow.io/retained-from', 'rdsflow.io/adopted-from'])
      assert.equal(tags[key], undefined, key);
    assert.notEqual(tags['rdsflow.io/created-by-run'], undefined);
    // the snapshot's password is not the one in Vault: the converge resets it
    assert.equal(tags['rdsflow.io/credential-id'], undefined);
    await run(instances().waitUntilAvailable, db);
    const converged = await run(instances().modifyDbInstance, db);
    assert.equal(converged.changed, true);
    const reset = (await front.journal()).filter(
      (e) => e.identifier === db.dbInstanceIdentifier && e.action === 'ModifyDBInstance',
    );
    assert.equal(reset.length, 1);
    assert.equal(reset[0]?.params['MasterUserPassword'], '***');
    const after = tagMap((await motoInstance(db.dbInstanceIdentifier))?.TagList);
    assert.notEqual(after['rdsflow.io/credential-id'], undefined);
  });

  it('refuses a snapshot of another namespace, one rdsflow never took, and another master user', async () => {
    const old = database({}, { namespace: 'params-other' });
    await provisioned(old);
    const theirs = await deletedWithSnapshot(old);
    const db = database({ source: { snapshot: theirs } });
    await run(vault.ensureMasterPassword, db);
    const refused = await failureOf(run(instances().createDbInstance, db));
    assert.equal(refused.type, FAILURE.invalidSpec);
    assert.match(
      refused.message,
      /rdsflow restores only a snapshot it took of a Database in namespace params/,
    );
    assert.doesNotMatch(refused.message, new RegExp(old.ref.uid));
    assert.equal(await motoInstance(db.dbInstanceIdentifier), undefined);

    const missing = database({ source: { snapshot: `nothing-${randomBytes(4).toString('hex')}` } });
    await run(vault.ensureMasterPassword, missing);
    const notFound = await failureOf(run(instances().createDbInstance, missing));
    assert.equal(notFound.type, FAILURE.invalidSpec);
    assert.match(notFound.message, /no such DB snapshot/);

    const mine = database({}, { name: uniqueName('src') });
    await provisioned(mine);
    const own = await deletedWithSnapshot(mine);
    const otherUser = database({ source: { snapshot: own }, masterUsername: 'owner' });
    await run(vault.ensureMasterPassword, otherUser);
    const user = await failureOf(run(instances().createDbInstance, otherUser));
    assert.equal(user.type, FAILURE.invalidSpec);
    assert.match(user.message, /master username is app, but spec.masterUsername is owner/);
    assert.equal(await motoInstance(otherUser.dbInstanceIdentifier), undefined);
  });
});
