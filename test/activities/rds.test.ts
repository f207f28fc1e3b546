// RDS activities against moto (behind a small fault proxy for the creating phase, terminal
// states and throttling), with the password read from the real OpenBao.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DescribeDBInstancesCommand, RDSClient, type Tag } from '@aws-sdk/client-rds';
import { NOT_YET, createRdsActivities, type PollTiming } from '../../activities/rds.js';
import { createVaultActivities } from '../../activities/vault.js';
import { vaultClient } from '../../config/clients.js';
import { resolveDatabase, type ResolvedDatabase } from '../../contracts/spec.js';
import { FAILURE } from '../../contracts/workflow.js';
import { failureOf, run } from '../support/activity.js';
import { config, uniqueName } from '../support/env.js';
import { startRdsProxy, type RdsProxy } from '../support/rds-proxy.js';

let proxy: RdsProxy;
let rds: RDSClient;
const vault = { vault: vaultClient(config.vault), mount: 'secret' };
const timing: PollTiming = { pollIntervalMs: 250, pollWindowMs: 10_000 };

function database(
  name = uniqueName('act'),
  uid = randomUUID(),
  spec: Record<string, unknown> = {},
): ResolvedDatabase {
  const result = resolveDatabase({
    metadata: { namespace: 'activities', name, uid, generation: 1 },
    spec: { engine: 'postgres', ...spec },
  });
  assert.ok(result.ok);
  return result.database;
}

function activities(t: PollTiming = timing) {
  return createRdsActivities({ ...vault, rds, timing: t });
}

function tagMap(tags: Tag[] | undefined): Record<string, string | undefined> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value]));
}

async function provisioned(spec: Record<string, unknown> = {}): Promise<ResolvedDatabase> {
  const db = database(undefined, undefined, spec);
  await run(createVaultActivities(vault).ensureMasterPassword, db);
  await run(activities().createDbInstance, db);
  return db;
}

before(async () => {
  proxy = await startRdsProxy(config.aws.rdsEndpoint ?? '');
  // one SDK attempt: the classification below is what Temporal's retries see
  rds = new RDSClient({ region: config.aws.region, endpoint: proxy.url, maxAttempts: 1 });
});

after(async () => {
  rds?.destroy();
  await proxy?.close();
});

describe('RDS activities', () => {
  it('creates an instance tagged with its identity, and adopts it on a repeated call', async () => {
    const db = database();
    await run(createVaultActivities(vault).ensureMasterPassword, db);
    assert.deepEqual(await run(activities().createDbInstance, db), {
      adopted: false,
      status: 'available',
    });
    // the retried attempt after a crash right after the create call
    assert.equal((await run(activities().createDbInstance, db)).adopted, true);
    const described = await rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: db.dbInstanceIdentifier }),
    );
    assert.equal(described.DBInstances?.length, 1);
    const tags = tagMap(described.DBInstances?.[0]?.TagList);
    assert.deepEqual(
      {
        ns: tags['rdsflow.io/namespace'],
        name: tags['rdsflow.io/name'],
        uid: tags['rdsflow.io/uid'],
      },
      { ns: 'activities', name: db.ref.name, uid: db.ref.uid },
    );
  });

  it("refuses to adopt another object's instance", async () => {
    const db = await provisioned();
    const impostor = database(db.ref.name, randomUUID());
    const failure = await failureOf(run(activities().createDbInstance, impostor));
    assert.equal(failure.type, FAILURE.instanceNotOurs);
    assert.equal(failure.nonRetryable, true);
    assert.match(
      failure.message,
      new RegExp(`belongs to activities/${db.ref.name} \\(uid ${db.ref.uid}\\)`),
    );
  });

  it('turns throttling into a retryable failure with a jittered delay, then succeeds', async () => {
    const db = database();
    await run(createVaultActivities(vault).ensureMasterPassword, db);
    proxy.throttleNext = 1;
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.transient);
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /throttled by RDS/);
    assert.ok(typeof failure.nextRetryDelay === 'number' && failure.nextRetryDelay > 0);
    assert.equal((await run(activities().createDbInstance, db)).adopted, false);
  });

  it('turns InvalidParameter answers into a non-retryable InvalidSpec failure', async () => {
    const db = database();
    await run(createVaultActivities(vault).ensureMasterPassword, db);
    proxy.errorNext.push({ code: 'InvalidParameterCombination', status: 400 });
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.invalidSpec);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /RDS rejected the request: InvalidParameterCombination/);
  });

  it('retries a 5xx from RDS', async () => {
    const db = database();
    await run(createVaultActivities(vault).ensureMasterPassword, db);
    proxy.errorNext.push({ code: 'InternalFailure', status: 500 });
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.transient);
    assert.equal(failure.nonRetryable, false);
  });

  it('waits through the creating phase and sees `available` within one poll interval', async () => {
    proxy.creatingMs = 3_000;
    try {
      const db = await provisioned();
      const before = proxy.describeCalls;
      const result = await run(activities().waitUntilAvailable, db.dbInstanceIdentifier);
      const detected = Date.now();
      const calls = proxy.describeCalls - before;
      const delay = detected - (proxy.availableAt.get(db.dbInstanceIdentifier) ?? detected);
      process.stdout.write(
        `# creating 3000ms, poll 250ms: ${calls} DescribeDBInstances calls, detected ${delay}ms after available\n`,
      );
      assert.ok(result.endpoint.host && result.endpoint.port === 5432);
      assert.ok(calls >= 2 && calls <= 3_000 / 250 + 3, `${calls} calls`);
      assert.ok(delay >= 0 && delay < 2_000, `detected ${delay}ms late`);
    } finally {
      proxy.creatingMs = 0;
    }
  });

  it('hands a long wait back to the server after one poll window', async () => {
    proxy.creatingMs = 60_000;
    try {
      const db = await provisioned();
      const failure = await failureOf(
        run(
          activities({ pollIntervalMs: 200, pollWindowMs: 1_000 }).waitUntilAvailable,
          db.dbInstanceIdentifier,
        ),
      );
      assert.equal(failure.type, NOT_YET);
      assert.equal(failure.nonRetryable, false);
      assert.equal(failure.nextRetryDelay, 200);
      assert.match(failure.message, /is creating/);
    } finally {
      proxy.creatingMs = 0;
    }
  });

  for (const status of ['storage-full', 'incompatible-parameters', 'failed']) {
    it(`fails for good when the instance is ${status}`, async () => {
      const db = await provisioned();
      proxy.forceStatus.set(db.dbInstanceIdentifier, status);
      const failure = await failureOf(
        run(activities().waitUntilAvailable, db.dbInstanceIdentifier),
      );
      assert.equal(failure.type, FAILURE.instanceFailed);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(status));
    });
  }

  it('modifies an instance in place and syncs its tags', async () => {
    const db = await provisioned({ tags: { team: 'shop', old: 'x' } });
    await run(activities().modifyDbInstance, { ...db, storageGiB: 50, tags: { team: 'payments' } });
    const instance = (
      await rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: db.dbInstanceIdentifier }),
      )
    ).DBInstances?.[0];
    assert.equal(instance?.AllocatedStorage, 50);
    const tags = tagMap(instance?.TagList);
    assert.equal(tags['team'], 'payments');
    assert.equal(tags['old'], undefined);
    assert.equal(tags['rdsflow.io/uid'], db.ref.uid);
  });

  it('deletes per policy, idempotently, and waits until the instance is gone', async () => {
    const snapshotted = await provisioned();
    const out = await run(activities().deleteDbInstance, snapshotted, 'Snapshot');
    assert.match(
      out.snapshot ?? '',
      new RegExp(`^${snapshotted.dbInstanceIdentifier}-final-[a-z0-9]{8}$`),
    );
    await run(activities().waitUntilDeleted, snapshotted.dbInstanceIdentifier);
    // a repeated delete (retry after a crash) is fine
    assert.equal(
      (await run(activities().deleteDbInstance, snapshotted, 'Snapshot')).retained,
      false,
    );

    const retained = await provisioned();
    assert.deepEqual(await run(activities().deleteDbInstance, retained, 'Retain'), {
      retained: true,
    });
    const still = await rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: retained.dbInstanceIdentifier }),
    );
    assert.equal(still.DBInstances?.length, 1);
  });
});
