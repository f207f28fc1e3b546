// The stack's RDS front (infra/rds-front.ts) behaves as RDS does where moto does not: states
// that take time, the refusals RDS gives in them, an identifier held while deleting, and a
// journal of mutating calls that never holds a password. Checked through the SDK, as rdsflow
// talks to it, with moto itself as the witness.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { config, eventually, uniqueName } from '../support/env.js';
import { motoInstance, stackFront } from '../support/rds.js';

const rds = new RDSClient({
  region: config.aws.region,
  endpoint: config.aws.rdsEndpoint ?? '',
  maxAttempts: 1,
});
const front = stackFront();
const password = randomBytes(12).toString('hex');

async function status(id: string): Promise<string | undefined> {
  try {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    return out.DBInstances?.[0]?.DBInstanceStatus;
  } catch {
    return undefined;
  }
}

function create(id: string) {
  return rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      DBInstanceClass: 'db.t3.micro',
      Engine: 'postgres',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: password,
      Tags: [{ Key: 'team', Value: 'front' }],
    }),
  );
}

describe('the realistic RDS front', () => {
  it('takes time to create and refuses what RDS refuses meanwhile', async () => {
    const id = uniqueName('front');
    await front.setTimings({ creatingMs: 1_500, backingUpMs: 1_000 }, id);
    const created = await create(id);
    assert.equal(created.DBInstance?.DBInstanceStatus, 'creating');
    const described = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    assert.equal(described.DBInstances?.[0]?.Endpoint, undefined, 'an endpoint while creating');
    await assert.rejects(
      rds.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: id,
          AllocatedStorage: 30,
          ApplyImmediately: true,
        }),
      ),
      (e: Error) =>
        e.name.startsWith('InvalidDBInstanceState') && /not in available/.test(e.message),
    );
    await assert.rejects(
      rds.send(
        new DeleteDBInstanceCommand({
          DBInstanceIdentifier: id,
          FinalDBSnapshotIdentifier: `${id}-s`,
        }),
      ),
      (e: Error) =>
        e.name.startsWith('InvalidDBInstanceState') &&
        /currently creating - a final snapshot cannot be taken/.test(e.message),
    );
    await eventually(
      'backing-up',
      async () => ((await status(id)) === 'backing-up' ? true : undefined),
      5_000,
    );
    await eventually(
      'available',
      async () => ((await status(id)) === 'available' ? true : undefined),
      5_000,
    );
    // moto had it all along, untouched by the refused calls
    assert.equal((await motoInstance(id))?.AllocatedStorage, 20);
  });

  it('keeps a deleting instance (and its identifier) until the deletion is done', async () => {
    const id = uniqueName('front');
    await front.setTimings({ creatingMs: 0, backingUpMs: 0, deletingMs: 1_500 }, id);
    await create(id);
    const deleted = await rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    assert.equal(deleted.DBInstance?.DBInstanceStatus, 'deleting');
    assert.equal(await status(id), 'deleting');
    await assert.rejects(
      rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })),
      (e: Error) =>
        e.name.startsWith('InvalidDBInstanceState') && /already being deleted/.test(e.message),
    );
    await assert.rejects(create(id), (e: Error) => e.name.startsWith('DBInstanceAlreadyExists'));
    await eventually(
      'gone',
      async () => ((await status(id)) === undefined ? true : undefined),
      5_000,
    );
    assert.equal(await motoInstance(id), undefined);
  });

  it('journals every mutating call with the instance before it, never the password', async () => {
    const id = uniqueName('front');
    await create(id);
    await rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    const entries = (await front.journal()).filter((e) => e.identifier === id);
    assert.deepEqual(
      entries.map((e) => [e.action, e.outcome]),
      [
        ['CreateDBInstance', 'ok'],
        ['DeleteDBInstance', 'ok'],
      ],
    );
    assert.equal(entries[0]?.params['MasterUserPassword'], '***');
    assert.equal(entries[1]?.statusBefore, 'creating');
    assert.deepEqual(entries[1]?.tagsBefore, { team: 'front' });
    assert.ok(!JSON.stringify(await front.journal()).includes(password));
  });
});
