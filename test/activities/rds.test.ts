// RDS activities against moto behind a realistic front of their own (creating/deleting take
// time, RDS's refusals, faults, a journal), with the password read from the real OpenBao. What
// must not be destroyed is checked in moto itself, before and after.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AddTagsToResourceCommand,
  DeleteDBInstanceCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  NOT_YET,
  attributeRdsCalls,
  createRdsActivities,
  type PollTiming,
} from '../../activities/rds.js';
import { createVaultActivities, vaultCredentials } from '../../activities/vault.js';
import { awsLocation, vaultClient } from '../../config/clients.js';
import {
  CREATE_DEFAULTS,
  type DatabaseRef,
  type DeletionPolicy,
} from '../../contracts/database.js';
import { finalSnapshotIdentifier, workflowIdFor } from '../../contracts/names.js';
import { resolveDatabase, type ResolvedDatabase } from '../../contracts/spec.js';
import { FAILURE, type DeleteInstanceRequest } from '../../contracts/workflow.js';
import { INSTANT, startRdsFront, type RdsFront } from '../../infra/rds-front.js';
import { failureOf, run, runIn } from '../support/activity.js';
import { config, tools, uniqueName } from '../support/env.js';
import { productionNetwork } from '../support/network.js';
import { foreignInstance, moto, motoInstance, tagMap } from '../support/rds.js';

let front: RdsFront;
let rds: RDSClient;
const vaultDeps = { vault: vaultClient(config.vault), mount: 'secret' };
const vault = createVaultActivities(vaultDeps);
const timing: PollTiming = { pollIntervalMs: 100, pollWindowMs: 10_000 };
// the account moto's STS answers for, and the stack's region: where instances are made here
const where = awsLocation({ region: config.aws.region, stsEndpoint: tools.motoUrl });
/** the objects' policies as "Kubernetes" has them now, by UID (absent: the request's) */
const objects = new Map<string, DeletionPolicy | 'gone'>();
const objectReader = { policy: (ref: DatabaseRef) => Promise.resolve(objects.get(ref.uid)) };

function database(
  name = uniqueName('act'),
  uid: string = randomUUID(),
  spec: Record<string, unknown> = {},
): ResolvedDatabase {
  const result = resolveDatabase({
    metadata: { namespace: 'activities', name, uid, generation: 1 },
    spec: { engine: 'postgres', ...spec },
  });
  assert.ok(result.ok);
  return result.database;
}

function activities(t: PollTiming = timing, clients: { rds?: RDSClient } = {}) {
  return createRdsActivities({
    rds: clients.rds ?? rds,
    // one SDK attempt for what changes or deletes, as the worker's client
    destructive: rds,
    timing: t,
    credentials: vaultCredentials(vaultDeps),
    location: where.location,
    objects: objectReader,
  });
}

/** The activity context of the database's provisioning run `runId`. */
const runOf = (db: ResolvedDatabase, runId = randomUUID()) => ({
  workflowId: workflowIdFor(db.ref, 'activities-test'),
  runId,
});

async function provisioned(
  spec: Record<string, unknown> = {},
  runId = randomUUID(),
): Promise<ResolvedDatabase> {
  const db = database(undefined, undefined, spec);
  await run(vault.ensureMasterPassword, db);
  await runIn(runOf(db, runId), activities().createDbInstance, db);
  return db;
}

function deletion(db: ResolvedDatabase, policy: DeleteInstanceRequest['policy'], extra = {}) {
  return {
    names: db,
    policy,
    finalSnapshot: finalSnapshotIdentifier(db.dbInstanceIdentifier, randomUUID()),
    ...extra,
  } satisfies DeleteInstanceRequest;
}

before(async () => {
  front = await startRdsFront({ target: tools.motoUrl, timings: INSTANT });
  // one SDK attempt: the classification below is what Temporal's retries see
  rds = new RDSClient({ region: config.aws.region, endpoint: front.url, maxAttempts: 1 });
  attributeRdsCalls(rds);
});

after(async () => {
  rds?.destroy();
  where.destroy();
  await front?.close();
});

describe('RDS activities: create, wait, classify', () => {
  it('creates an instance tagged with its identity, run and credential, and adopts it on a repeated call', async () => {
    const db = database();
    await run(vault.ensureMasterPassword, db);
    const execution = runOf(db);
    assert.deepEqual(await runIn(execution, activities().createDbInstance, db), {
      adopted: false,
      status: 'available',
    });
    // the retried attempt after a crash right after the create call
    assert.equal((await runIn(execution, activities().createDbInstance, db)).adopted, true);
    const tags = tagMap((await motoInstance(db.dbInstanceIdentifier))?.TagList);
    assert.equal(tags['rdsflow.io/namespace'], 'activities');
    assert.equal(tags['rdsflow.io/name'], db.ref.name);
    assert.equal(tags['rdsflow.io/uid'], db.ref.uid);
    assert.equal(tags['rdsflow.io/created-by-run'], execution.runId);
    assert.match(tags['rdsflow.io/credential-id'] ?? '', /^[0-9a-f]{16}$/);
    // one create; the call names the workflow run it was made for
    const journal = (await front.journal()).filter((e) => e.identifier === db.dbInstanceIdentifier);
    assert.deepEqual(
      journal.map((e) => [e.action, e.workflowId, e.runId]),
      [['CreateDBInstance', execution.workflowId, execution.runId]],
    );
  });

  it("refuses to adopt another object's instance, naming its owner", async () => {
    const db = await provisioned();
    const impostor = database(db.ref.name, randomUUID());
    await run(vault.deleteDbSecret, db);
    await run(vault.ensureMasterPassword, impostor);
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
    await run(vault.ensureMasterPassword, db);
    await front.fault({ match: db.dbInstanceIdentifier, code: 'Throttling' });
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.transient);
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /throttled by RDS/);
    assert.ok(typeof failure.nextRetryDelay === 'number' && failure.nextRetryDelay > 0);
    assert.equal((await run(activities().createDbInstance, db)).adopted, false);
  });

  it('turns InvalidParameter answers into a non-retryable InvalidSpec failure', async () => {
    const db = database();
    await run(vault.ensureMasterPassword, db);
    await front.fault({ match: db.dbInstanceIdentifier, code: 'InvalidParameterCombination' });
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.invalidSpec);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /RDS rejected the request: InvalidParameterCombination/);
  });

  it('turns an IAM refusal into PermissionDenied that names IAM, not the spec', async () => {
    const db = database();
    await run(vault.ensureMasterPassword, db);
    await front.fault({ match: db.dbInstanceIdentifier, code: 'AccessDenied', status: 403 });
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.permissionDenied);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /AWS refused the worker's credentials: AccessDenied/);
    assert.match(failure.message, /IAM role/);
  });

  it('turns an instance or storage quota into QuotaExceeded, which says to raise it', async () => {
    for (const code of ['InstanceQuotaExceeded', 'StorageQuotaExceeded']) {
      const db = database();
      await run(vault.ensureMasterPassword, db);
      await front.fault({ match: db.dbInstanceIdentifier, code });
      const failure = await failureOf(run(activities().createDbInstance, db));
      assert.equal(failure.type, FAILURE.quotaExceeded, code);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(`${code}.*Raise the AWS account quota`));
    }
  });

  it('retries a 5xx from RDS', async () => {
    const db = database();
    await run(vault.ensureMasterPassword, db);
    await front.fault({ match: db.dbInstanceIdentifier, code: 'InternalFailure', status: 500 });
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.transient);
    assert.equal(failure.nonRetryable, false);
  });

  it('waits through creating and backing-up, polling every 250 ms, and sees `available` within 2 s', async () => {
    const db = database();
    await front.setTimings({ creatingMs: 2_000, backingUpMs: 1_000 }, db.dbInstanceIdentifier);
    await run(vault.ensureMasterPassword, db);
    await run(activities().createDbInstance, db);
    const t: PollTiming = { pollIntervalMs: 250, pollWindowMs: 10_000 };
    const before = await front.describeCalls();
    const result = await run(activities(t).waitUntilAvailable, db);
    const detected = Date.now();
    const calls = (await front.describeCalls()) - before;
    const availableAt = (await front.availableAt(db.dbInstanceIdentifier)) ?? detected;
    const delay = detected - availableAt;
    process.stdout.write(
      `# creating 2000ms + backing-up 1000ms, poll 250ms: ${calls} DescribeDBInstances calls, detected ${delay}ms after available\n`,
    );
    assert.ok(result.endpoint.host && result.endpoint.port === 5432);
    assert.ok(calls >= 2 && calls <= 3_000 / 250 + 3, `${calls} calls`);
    assert.ok(delay >= 0 && delay < 2_000, `detected ${delay}ms late`);
  });

  it('hands a long wait back to the server after one poll window', async () => {
    const db = database();
    await front.setTimings({ creatingMs: 60_000 }, db.dbInstanceIdentifier);
    await run(vault.ensureMasterPassword, db);
    await run(activities().createDbInstance, db);
    const failure = await failureOf(
      run(activities({ pollIntervalMs: 200, pollWindowMs: 1_000 }).waitUntilAvailable, db),
    );
    assert.equal(failure.type, NOT_YET);
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 200);
    assert.match(failure.message, /creating/);
  });

  for (const status of ['storage-full', 'incompatible-parameters', 'failed']) {
    it(`fails for good when the instance is ${status}`, async () => {
      const db = await provisioned();
      await front.forceStatus(db.dbInstanceIdentifier, status);
      const failure = await failureOf(run(activities().waitUntilAvailable, db));
      assert.equal(failure.type, FAILURE.instanceFailed);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(status));
    });
  }
});

describe('RDS activities: change only our own instance, as RDS allows', () => {
  it('modifies an instance in place and syncs the tags it set, never those other tools set', async () => {
    const db = await provisioned({ tags: { team: 'shop', old: 'x' } });
    // AWS Backup and cost allocation tag instances too
    await moto.send(
      new AddTagsToResourceCommand({
        ResourceName: (await motoInstance(db.dbInstanceIdentifier))?.DBInstanceArn ?? '',
        Tags: [{ Key: 'aws-backup-plan', Value: 'daily' }],
      }),
    );
    const next = database(db.ref.name, db.ref.uid, { storageGiB: 50, tags: { team: 'payments' } });
    const out = await run(activities().modifyDbInstance, next, ['team', 'old']);
    assert.equal(out.changed, true);
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.AllocatedStorage, 50);
    const tags = tagMap(instance?.TagList);
    assert.equal(tags['team'], 'payments');
    assert.equal(tags['old'], undefined);
    assert.equal(tags['aws-backup-plan'], 'daily', 'a tag rdsflow never set was removed');
    assert.equal(tags['rdsflow.io/uid'], db.ref.uid);
    // nothing left to change: no call at all
    const calls = (await front.journal()).length;
    const again = await run(activities().modifyDbInstance, next, ['team']);
    assert.equal(again.changed, false);
    assert.equal((await front.journal()).length, calls);
  });

  it('changes only the settings the spec states (an adopted instance keeps the others)', async () => {
    const db = await provisioned({ instanceClass: 'db.m5.large', storageGiB: 100 });
    // a spec that leaves class and storage out: the schema defaults are for a create only
    const terse = database(db.ref.name, db.ref.uid, {});
    assert.equal(terse.instanceClass, CREATE_DEFAULTS.instanceClass);
    const out = await run(activities().modifyDbInstance, terse);
    assert.equal(out.changed, false);
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.DBInstanceClass, 'db.m5.large');
    assert.equal(instance?.AllocatedStorage, 100);
    const modifies = (await front.journal()).filter(
      (e) => e.identifier === db.dbInstanceIdentifier && e.action === 'ModifyDBInstance',
    );
    assert.deepEqual(modifies, []);
  });

  it('waits to modify an instance that is not available (RDS would refuse)', async () => {
    const db = database();
    await front.setTimings({ creatingMs: 60_000 }, db.dbInstanceIdentifier);
    await run(vault.ensureMasterPassword, db);
    await run(activities().createDbInstance, db);
    const failure = await failureOf(
      run(activities().modifyDbInstance, database(db.ref.name, db.ref.uid, { storageGiB: 40 })),
    );
    assert.equal(failure.type, NOT_YET);
    assert.match(failure.message, /is creating; RDS changes an instance only when it is available/);
    assert.equal((await motoInstance(db.dbInstanceIdentifier))?.AllocatedStorage, 20);
  });

  it("never modifies or deletes another owner's instance under our identifier", async () => {
    const db = database();
    await run(vault.ensureMasterPassword, db);
    await foreignInstance(db.dbInstanceIdentifier);
    const before = await motoInstance(db.dbInstanceIdentifier);
    assert.ok(before, 'the foreign instance exists');

    const modify = await failureOf(run(activities().modifyDbInstance, { ...db, storageGiB: 90 }));
    assert.equal(modify.type, FAILURE.instanceNotOurs);
    assert.match(modify.message, /nobody known to rdsflow .*owner=another-team/);
    for (const policy of ['Delete', 'Snapshot', 'Retain'] as const) {
      const removed = await failureOf(run(activities().deleteDbInstance, deletion(db, policy)));
      assert.equal(removed.type, FAILURE.instanceNotOurs);
      assert.equal(removed.nonRetryable, true);
    }
    const after = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(after?.DBInstanceStatus, 'available');
    assert.equal(after?.AllocatedStorage, 20);
    assert.deepEqual(tagMap(after?.TagList), tagMap(before.TagList));
    const calls = (await front.journal()).filter(
      (e) => e.identifier === db.dbInstanceIdentifier && e.action !== 'CreateDBInstance',
    );
    assert.deepEqual(calls, [], 'a mutating call reached RDS');
  });

  it('resets the master password of an adopted instance that does not have the one in Vault', async () => {
    const db = await provisioned();
    const before = tagMap((await motoInstance(db.dbInstanceIdentifier))?.TagList);
    // the secret was lost and generated again (a rollback raced a create): a new password
    await run(vault.deleteDbSecret, db);
    assert.equal((await run(vault.ensureMasterPassword, db)).created, true);
    assert.equal((await run(activities().createDbInstance, db)).adopted, true);
    const out = await run(activities().modifyDbInstance, db);
    assert.equal(out.changed, true);
    const reset = (await front.journal()).filter(
      (e) => e.identifier === db.dbInstanceIdentifier && e.action === 'ModifyDBInstance',
    );
    assert.equal(reset.length, 1);
    assert.equal(reset[0]?.params['MasterUserPassword'], '***');
    const after = tagMap((await motoInstance(db.dbInstanceIdentifier))?.TagList);
    assert.notEqual(after['rdsflow.io/credential-id'], before['rdsflow.io/credential-id']);
  });
});

describe('RDS activities: delete per policy, as RDS allows', () => {
  it('snapshots, waits until gone, and confirms the snapshot really exists', async () => {
    const db = await provisioned();
    await front.setTimings({ deletingMs: 1_000 }, db.dbInstanceIdentifier);
    const request = deletion(db, 'Snapshot');
    const out = await run(activities().deleteDbInstance, request);
    assert.equal(out.state, 'deleting');
    assert.equal(out.snapshot, request.finalSnapshot);
    // a repeated delete (retry after a crash) finds it deleting: still no second call
    assert.equal((await run(activities().deleteDbInstance, request)).state, 'deleting');
    const gone = await run(activities().waitUntilDeleted, { names: db, snapshot: out.snapshot });
    assert.equal(gone.snapshot, request.finalSnapshot);
    assert.ok(gone.polls >= 2, 'deleting took no time');
    const snapshots = await moto.send(
      new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: request.finalSnapshot }),
    );
    assert.equal(snapshots.DBSnapshots?.[0]?.DBInstanceIdentifier, db.dbInstanceIdentifier);
    assert.equal(await motoInstance(db.dbInstanceIdentifier), undefined);
    const deletes = (await front.journal()).filter(
      (e) => e.identifier === db.dbInstanceIdentifier && e.action === 'DeleteDBInstance',
    );
    assert.equal(deletes.length, 1);
  });

  it('waits for a state RDS can snapshot from instead of taking InvalidDBInstanceState as done', async () => {
    const db = database();
    await front.setTimings({ creatingMs: 1_500, backingUpMs: 500 }, db.dbInstanceIdentifier);
    await run(vault.ensureMasterPassword, db);
    await run(activities().createDbInstance, db);
    const request = deletion(db, 'Snapshot');
    // one short window while creating: nothing sent, and no pretence that it is deleting
    const early = await failureOf(
      run(activities({ pollIntervalMs: 100, pollWindowMs: 300 }).deleteDbInstance, request),
    );
    assert.equal(early.type, NOT_YET);
    assert.match(early.message, /cannot be deleted yet: creating/);
    assert.equal(
      (await motoInstance(db.dbInstanceIdentifier))?.DBInstanceIdentifier,
      db.dbInstanceIdentifier,
    );
    // and when RDS itself refuses (the state moved between read and call), that is not done either
    await front.fault({
      action: 'DeleteDBInstance',
      match: db.dbInstanceIdentifier,
      code: 'InvalidDBInstanceState',
    });
    const out = await run(activities().deleteDbInstance, request);
    assert.equal(out.state, 'deleting');
    assert.ok((out.polls ?? 0) > 1, 'deleted without waiting for backing-up to end');
    const journal = (await front.journal()).filter((e) => e.identifier === db.dbInstanceIdentifier);
    const deletes = journal.filter((e) => e.action === 'DeleteDBInstance');
    assert.deepEqual(
      deletes.map((e) => e.outcome),
      ['InvalidDBInstanceState', 'ok'],
    );
    const deleted = deletes.filter((e) => e.outcome === 'ok');
    assert.equal(deleted[0]?.statusBefore, 'available');
  });

  it('deletes an unprotected instance still creating at once under Delete (no snapshot needed)', async () => {
    const db = database(undefined, undefined, { deletionProtection: false });
    await front.setTimings({ creatingMs: 60_000 }, db.dbInstanceIdentifier);
    await run(vault.ensureMasterPassword, db);
    await run(activities().createDbInstance, db);
    const out = await run(activities().deleteDbInstance, deletion(db, 'Delete'));
    assert.deepEqual(
      { state: out.state, snapshot: out.snapshot },
      { state: 'deleting', snapshot: undefined },
    );
    assert.equal(await motoInstance(db.dbInstanceIdentifier), undefined);
  });

  it('refuses a final snapshot RDS cannot take (instance failed), saying how to go on', async () => {
    const db = await provisioned();
    await front.forceStatus(db.dbInstanceIdentifier, 'failed');
    const failure = await failureOf(run(activities().deleteDbInstance, deletion(db, 'Snapshot')));
    assert.equal(failure.type, FAILURE.cannotSnapshot);
    assert.match(failure.message, /Set deletionPolicy: Delete/);
    assert.ok(await motoInstance(db.dbInstanceIdentifier), 'the instance was deleted anyway');
    await front.forceStatus(db.dbInstanceIdentifier, undefined);
  });

  it('takes the next snapshot name when the first is taken', async () => {
    const first = await provisioned();
    const request = deletion(first, 'Snapshot');
    await run(activities().deleteDbInstance, request);
    const second = await provisioned();
    const out = await run(activities().deleteDbInstance, {
      ...deletion(second, 'Snapshot'),
      finalSnapshot: request.finalSnapshot,
    });
    assert.equal(out.snapshot, `${request.finalSnapshot}-2`);
  });

  it('retains: the instance stays, marked released, with no object UID on it', async () => {
    const db = await provisioned();
    assert.deepEqual(await run(activities().deleteDbInstance, deletion(db, 'Retain')), {
      state: 'retained',
      policy: 'Retain',
      polls: 1,
    });
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.DBInstanceStatus, 'available');
    const tags = tagMap(instance?.TagList);
    assert.equal(tags['rdsflow.io/retained-from'], db.ref.uid);
    assert.equal(tags['rdsflow.io/uid'], undefined);
    assert.equal(tags['rdsflow.io/name'], db.ref.name);
  });

  it('a retained instance is adopted only by a Database of its name that opts in', async () => {
    const old = await provisioned();
    await run(activities().deleteDbInstance, deletion(old, 'Retain'));
    await run(vault.retainDbSecret, old);
    const plain = database(old.ref.name, randomUUID());
    // its credentials stay the retained ones: the new object's password step leaves them alone
    const secretRefused = await failureOf(run(vault.ensureMasterPassword, plain));
    assert.equal(secretRefused.type, FAILURE.entryNotOurs);
    assert.match(
      secretRefused.message,
      /deleted under deletionPolicy Retain or vanished without a delete/,
    );
    const refused = await failureOf(run(activities().createDbInstance, plain));
    assert.equal(refused.type, FAILURE.instanceNotOurs);
    assert.match(
      refused.message,
      /retained by the deleted Database .*set spec.adoptRetained: true/,
    );

    const adopter = database(old.ref.name, randomUUID(), { adoptRetained: true });
    assert.equal((await run(vault.ensureMasterPassword, adopter)).created, true);
    const adopted = await run(activities().createDbInstance, adopter);
    assert.deepEqual(adopted, { adopted: true, status: 'available', retainedFrom: old.ref.uid });
    const tags = tagMap((await motoInstance(old.dbInstanceIdentifier))?.TagList);
    assert.equal(tags['rdsflow.io/uid'], adopter.ref.uid);
    assert.equal(tags['rdsflow.io/retained-from'], undefined);
    // where it came from, recorded on the instance
    assert.equal(tags['rdsflow.io/adopted-from'], old.ref.uid);
  });

  it('a rollback deletes only what its own run created', async () => {
    const runId = randomUUID();
    const db = await provisioned({}, runId);
    const otherRun = await run(activities().deleteDbInstance, {
      ...deletion(db, 'Delete'),
      createdByRun: randomUUID(),
    });
    assert.equal(otherRun.state, 'kept');
    assert.ok(
      await motoInstance(db.dbInstanceIdentifier),
      'a rollback deleted an adopted instance',
    );
    const retained = await run(activities().deleteDbInstance, {
      ...deletion(db, 'Retain'),
      createdByRun: runId,
    });
    assert.equal(retained.state, 'kept');
    assert.equal(
      tagMap((await motoInstance(db.dbInstanceIdentifier))?.TagList)['rdsflow.io/uid'],
      db.ref.uid,
    );
    const own = await run(activities().deleteDbInstance, {
      ...deletion(db, 'Delete'),
      createdByRun: runId,
    });
    assert.equal(own.state, 'deleting');
    assert.equal(await motoInstance(db.dbInstanceIdentifier), undefined);
  });
});

describe('RDS activities: the proof right before the destructive call', () => {
  it('a switch to Retain while a Snapshot delete waits keeps the instance', async () => {
    const db = database();
    await front.setTimings({ creatingMs: 1_500 }, db.dbInstanceIdentifier);
    await run(vault.ensureMasterPassword, db);
    await run(activities().createDbInstance, db);
    const request = deletion(db, 'Snapshot');
    const waiting = await failureOf(
      run(activities({ pollIntervalMs: 100, pollWindowMs: 300 }).deleteDbInstance, request),
    );
    assert.equal(waiting.type, NOT_YET);
    objects.set(db.ref.uid, 'Retain');
    const out = await run(activities().deleteDbInstance, request);
    assert.equal(out.state, 'retained');
    assert.equal(out.policy, 'Retain');
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.ok(instance, 'the instance was deleted');
    assert.equal(tagMap(instance.TagList)['rdsflow.io/retained-from'], db.ref.uid);
    const deletes = (await front.journal()).filter(
      (e) => e.identifier === db.dbInstanceIdentifier && e.action === 'DeleteDBInstance',
    );
    assert.deepEqual(deletes, []);
  });

  it('an object gone right before the call deletes nothing', async () => {
    const db = await provisioned();
    objects.set(db.ref.uid, 'gone');
    const out = await run(activities().deleteDbInstance, deletion(db, 'Delete'));
    assert.equal(out.state, 'orphaned');
    assert.equal((await motoInstance(db.dbInstanceIdentifier))?.DBInstanceStatus, 'available');
  });

  it('an instance this object released already is kept by its later delete, whatever the policy', async () => {
    const db = await provisioned();
    objects.set(db.ref.uid, 'Delete');
    await run(activities().releaseDbInstance, db);
    const out = await run(activities().deleteDbInstance, deletion(db, 'Delete'));
    assert.equal(out.state, 'retained');
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.DBInstanceStatus, 'available');
    assert.equal(tagMap(instance?.TagList)['rdsflow.io/retained-from'], db.ref.uid);
  });

  it('believes "not found" only in the account and region the instance was made in', async () => {
    const db = database();
    const here = await where.location();
    const elsewhere = `arn:aws:rds:eu-west-1:${here.account}:db:${db.dbInstanceIdentifier}`;
    const refused = await failureOf(
      run(activities().deleteDbInstance, { ...deletion(db, 'Delete'), expectedArn: elsewhere }),
    );
    assert.equal(refused.type, FAILURE.instanceElsewhere);
    assert.equal(refused.nonRetryable, true);
    assert.match(refused.message, /region eu-west-1.*nothing is proven gone/);
    const otherAccount = `arn:aws:rds:${here.region}:000000000001:db:${db.dbInstanceIdentifier}`;
    const also = await failureOf(
      run(activities().deleteDbInstance, { ...deletion(db, 'Delete'), expectedArn: otherAccount }),
    );
    assert.equal(also.type, FAILURE.instanceElsewhere);
    const proven = `arn:aws:rds:${here.region}:${here.account}:db:${db.dbInstanceIdentifier}`;
    const absent = await run(activities().deleteDbInstance, {
      ...deletion(db, 'Delete'),
      expectedArn: proven,
    });
    assert.equal(absent.state, 'absent');
  });

  it('records where an instance lives when it becomes available', async () => {
    const db = await provisioned();
    const out = await run(activities().waitUntilAvailable, db);
    const here = await where.location();
    assert.equal(
      out.arn,
      `arn:aws:rds:${here.region}:${here.account}:db:${db.dbInstanceIdentifier}`,
    );
  });

  it('sends a destructive call once per proof: no SDK retry re-sends it', async () => {
    const retrying = new RDSClient({
      region: config.aws.region,
      endpoint: front.url,
      maxAttempts: 3,
    });
    attributeRdsCalls(retrying);
    try {
      const db = await provisioned();
      await front.fault({
        action: 'DeleteDBInstance',
        match: db.dbInstanceIdentifier,
        code: 'InternalFailure',
        status: 500,
      });
      const failure = await failureOf(
        run(activities(timing, { rds: retrying }).deleteDbInstance, deletion(db, 'Delete')),
      );
      assert.equal(failure.type, FAILURE.transient);
      const deletes = (await front.journal()).filter(
        (e) => e.identifier === db.dbInstanceIdentifier && e.action === 'DeleteDBInstance',
      );
      assert.deepEqual(
        deletes.map((e) => e.outcome),
        ['InternalFailure'],
      );
      // the activity's own retry reads, proves and sends again
      const out = await run(
        activities(timing, { rds: retrying }).deleteDbInstance,
        deletion(db, 'Delete'),
      );
      assert.equal(out.state, 'deleting');
    } finally {
      retrying.destroy();
    }
  });

  for (const status of [
    'incompatible-parameters',
    'inaccessible-encryption-credentials',
    'restore-error',
  ]) {
    it(`fails a Snapshot delete at once, with advice, when the instance is ${status}`, async () => {
      const db = await provisioned();
      await front.forceStatus(db.dbInstanceIdentifier, status);
      try {
        const failure = await failureOf(
          run(activities().deleteDbInstance, deletion(db, 'Snapshot')),
        );
        assert.equal(failure.type, FAILURE.cannotSnapshot);
        assert.match(failure.message, /cannot take a snapshot .* until its cause is fixed/);
        assert.ok(await motoInstance(db.dbInstanceIdentifier));
      } finally {
        await front.forceStatus(db.dbInstanceIdentifier, undefined);
      }
    });
  }

  it('releases our instance (kept, marked), and leaves one that is not ours untouched', async () => {
    const db = await provisioned();
    assert.deepEqual(await run(activities().releaseDbInstance, db), { state: 'released' });
    const tags = tagMap((await motoInstance(db.dbInstanceIdentifier))?.TagList);
    assert.equal(tags['rdsflow.io/retained-from'], db.ref.uid);
    assert.equal(tags['rdsflow.io/uid'], undefined);
    // released, it is no longer ours: a second release (or anyone's) touches nothing
    const before = (await front.journal()).length;
    assert.deepEqual(await run(activities().releaseDbInstance, db), { state: 'not-ours' });
    assert.equal((await front.journal()).length, before);
  });

  it("never tells one namespace another's name or UID", async () => {
    const db = await provisioned();
    const intruder = {
      ...database(db.ref.name, randomUUID()),
      ref: { namespace: 'elsewhere', name: db.ref.name, uid: randomUUID() },
      dbInstanceIdentifier: db.dbInstanceIdentifier,
    };
    await run(vault.ensureMasterPassword, {
      ...intruder,
      vaultPath: `rdsflow/elsewhere/${db.ref.name}`,
    });
    const failure = await failureOf(
      run(activities().modifyDbInstance, {
        ...intruder,
        vaultPath: `rdsflow/elsewhere/${db.ref.name}`,
      }),
    );
    assert.equal(failure.type, FAILURE.instanceNotOurs);
    assert.match(failure.message, /belongs to a Database of another namespace/);
    assert.doesNotMatch(failure.message, new RegExp(db.ref.uid));
    assert.doesNotMatch(failure.message, /activities\//);
    assert.doesNotMatch(JSON.stringify(failure.details ?? []), new RegExp(db.ref.uid));
  });
});

describe('RDS activities: a production instance, and its deletion protection', () => {
  /** The calls the front journaled for the instance, as [action, params]. */
  const calls = async (db: ResolvedDatabase) =>
    (await front.journal())
      .filter((e) => e.identifier === db.dbInstanceIdentifier)
      .map((e) => ({ action: e.action, params: e.params, outcome: e.outcome }));

  it('creates the instance with every setting the spec states, read back from moto', async () => {
    const net = await productionNetwork(uniqueName('act-net'));
    const db = await provisioned({
      storageGiB: 400,
      subnetGroup: net.subnetGroup,
      securityGroupIds: [net.securityGroupId],
      storageType: 'gp3',
      iops: 12000,
      storageThroughput: 500,
      maxAllocatedStorage: 1000,
      kmsKeyId: net.kmsKeyArn,
      backupRetentionDays: 14,
      backupWindow: '03:00-03:30',
      maintenanceWindow: 'sun:05:00-sun:05:30',
      autoMinorVersionUpgrade: false,
      iamDatabaseAuthentication: true,
      performanceInsights: { enabled: true, retentionDays: 31, kmsKeyId: net.kmsKeyArn },
      caCertificate: 'rds-ca-rsa2048-g1',
    });
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.ok(instance);
    assert.deepEqual(
      {
        subnetGroup: instance.DBSubnetGroup?.DBSubnetGroupName,
        vpc: instance.DBSubnetGroup?.VpcId,
        securityGroups: instance.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
        public: instance.PubliclyAccessible,
        storageType: instance.StorageType,
        iops: instance.Iops,
        throughput: instance.StorageThroughput,
        ceiling: instance.MaxAllocatedStorage,
        encrypted: instance.StorageEncrypted,
        key: instance.KmsKeyId,
        retention: instance.BackupRetentionPeriod,
        backupWindow: instance.PreferredBackupWindow,
        maintenanceWindow: instance.PreferredMaintenanceWindow,
        protected: instance.DeletionProtection,
        minorUpgrades: instance.AutoMinorVersionUpgrade,
        copyTags: instance.CopyTagsToSnapshot,
        iam: instance.IAMDatabaseAuthenticationEnabled,
        ca: instance.CACertificateIdentifier,
      },
      {
        subnetGroup: net.subnetGroup,
        vpc: net.vpcId,
        securityGroups: [net.securityGroupId],
        public: false,
        storageType: 'gp3',
        iops: 12000,
        throughput: 500,
        ceiling: 1000,
        encrypted: true,
        key: net.kmsKeyArn,
        retention: 14,
        backupWindow: '03:00-03:30',
        maintenanceWindow: 'sun:05:00-sun:05:30',
        protected: true,
        minorUpgrades: false,
        copyTags: true,
        iam: true,
        ca: 'rds-ca-rsa2048-g1',
      },
    );
    // NOTE: moto does not keep Performance Insights: the request itself shows what was asked
    const create = (await calls(db)).find((c) => c.action === 'CreateDBInstance');
    assert.equal(create?.params['EnablePerformanceInsights'], 'true');
    assert.equal(create?.params['PerformanceInsightsRetentionPeriod'], '31');
    assert.equal(create?.params['PerformanceInsightsKMSKeyId'], net.kmsKeyArn);
    // nothing drifts right after the create (but Performance Insights, which moto drops)
    const converged = database(db.ref.name, db.ref.uid, {
      storageGiB: 400,
      backupRetentionDays: 14,
    });
    assert.equal((await run(activities().modifyDbInstance, converged)).changed, false);
  });

  it('makes a new instance private, encrypted and protected when the spec says nothing', async () => {
    const db = await provisioned();
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.deepEqual(
      [
        instance?.PubliclyAccessible,
        instance?.StorageEncrypted,
        instance?.DeletionProtection,
        instance?.CopyTagsToSnapshot,
      ],
      [false, true, true, true],
    );
    // what RDS defaults itself is not sent
    const create = (await calls(db)).find((c) => c.action === 'CreateDBInstance');
    for (const param of ['StorageType', 'BackupRetentionPeriod', 'KmsKeyId', 'DBSubnetGroupName'])
      assert.equal(create?.params[param], undefined, param);
  });

  it('modifies what the spec changes, and sends nothing it already has', async () => {
    const db = await provisioned({
      backupRetentionDays: 7,
      maintenanceWindow: 'sun:05:00-sun:05:30',
    });
    const edited = database(db.ref.name, db.ref.uid, {
      backupRetentionDays: 21,
      maintenanceWindow: 'sun:05:00-sun:05:30',
      deletionProtection: false,
      maxAllocatedStorage: 200,
    });
    assert.equal((await run(activities().modifyDbInstance, edited)).changed, true);
    const modify = (await calls(db)).find((c) => c.action === 'ModifyDBInstance');
    assert.equal(modify?.params['BackupRetentionPeriod'], '21');
    assert.equal(modify?.params['DeletionProtection'], 'false');
    assert.equal(modify?.params['MaxAllocatedStorage'], '200');
    assert.equal(modify?.params['PreferredMaintenanceWindow'], undefined, 'unchanged: not sent');
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.BackupRetentionPeriod, 21);
    assert.equal(instance?.DeletionProtection, false);
    assert.equal(instance?.MaxAllocatedStorage, 200);
  });

  for (const policy of ['Snapshot', 'Delete'] as const) {
    it(`lifts deletion protection right before the delete under ${policy}, and the instance goes`, async () => {
      const db = await provisioned();
      assert.equal((await motoInstance(db.dbInstanceIdentifier))?.DeletionProtection, true);
      const request = deletion(db, policy);
      const out = await run(activities().deleteDbInstance, request);
      assert.equal(out.state, 'deleting');
      await run(activities().waitUntilDeleted, { names: db });
      assert.equal(await motoInstance(db.dbInstanceIdentifier), undefined);
      const sent = (await calls(db)).filter((c) => c.action !== 'CreateDBInstance');
      const lift = sent.findIndex(
        (c) => c.action === 'ModifyDBInstance' && c.params['DeletionProtection'] === 'false',
      );
      assert.ok(lift >= 0, `no lift in ${JSON.stringify(sent)}`);
      assert.equal(sent[lift]?.params['ApplyImmediately'], 'true');
      const deleted = sent.findIndex((c) => c.action === 'DeleteDBInstance' && c.outcome === 'ok');
      assert.ok(deleted > lift, 'the delete follows the lift');
    });
  }

  it('keeps deletion protection on under Retain, and the instance there', async () => {
    const db = await provisioned();
    assert.equal(
      (await run(activities().deleteDbInstance, deletion(db, 'Retain'))).state,
      'retained',
    );
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.DBInstanceStatus, 'available');
    assert.equal(instance?.DeletionProtection, true);
    assert.ok(!(await calls(db)).some((c) => c.action === 'ModifyDBInstance'));
  });

  it('turns deletion protection back on when the lifted deletion does not happen and the instance is kept', async () => {
    const db = await provisioned();
    // RDS lifts the protection, then refuses the delete for now (a backup began, say)
    const refusing = {
      send: (command: unknown) =>
        command instanceof DeleteDBInstanceCommand
          ? Promise.reject(
              Object.assign(new Error('backing-up'), { name: 'InvalidDBInstanceStateFault' }),
            )
          : rds.send(command as ModifyDBInstanceCommand),
    } as RDSClient;
    const stalled = createRdsActivities({
      rds,
      destructive: refusing,
      timing: { pollIntervalMs: 100, pollWindowMs: 300 },
      credentials: vaultCredentials(vaultDeps),
      location: where.location,
      objects: objectReader,
    });
    const failure = await failureOf(run(stalled.deleteDbInstance, deletion(db, 'Delete')));
    assert.equal(failure.type, NOT_YET);
    const lifted = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(lifted?.DeletionProtection, false, 'the lift landed');
    assert.equal(tagMap(lifted?.TagList)['rdsflow.io/protection-lifted'], 'true');
    // the user switches to Retain: the instance is kept, protected as it was
    assert.equal(
      (await run(activities().deleteDbInstance, deletion(db, 'Retain'))).state,
      'retained',
    );
    const kept = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(kept?.DBInstanceStatus, 'available');
    assert.equal(kept?.DeletionProtection, true);
    assert.equal(tagMap(kept?.TagList)['rdsflow.io/protection-lifted'], undefined);
  });

  it('waits for a protected instance still creating to be available before lifting and deleting', async () => {
    const db = database();
    await front.setTimings({ creatingMs: 1_000 }, db.dbInstanceIdentifier);
    await run(vault.ensureMasterPassword, db);
    await run(activities().createDbInstance, db);
    const out = await run(activities().deleteDbInstance, deletion(db, 'Delete'));
    assert.equal(out.state, 'deleting');
    assert.ok((out.polls ?? 0) > 1, 'lifted while creating (RDS would refuse)');
    const lift = (await calls(db)).find((c) => c.action === 'ModifyDBInstance');
    assert.equal(lift?.outcome, 'ok');
  });

  it('never takes a delete RDS refuses for protection as done', async () => {
    const db = await provisioned();
    // a lift that does not land (protection turned on again right after it, say)
    const lostLift = {
      send: (command: unknown) =>
        command instanceof ModifyDBInstanceCommand
          ? Promise.resolve({})
          : rds.send(command as DeleteDBInstanceCommand),
    } as RDSClient;
    const deps = activities({ pollIntervalMs: 100, pollWindowMs: 400 });
    const failure = await failureOf(
      run(
        createRdsActivities({
          rds,
          destructive: lostLift,
          timing: { pollIntervalMs: 100, pollWindowMs: 400 },
          credentials: vaultCredentials(vaultDeps),
          location: where.location,
          objects: objectReader,
        }).deleteDbInstance,
        deletion(db, 'Delete'),
      ),
    );
    assert.equal(failure.type, NOT_YET);
    const instance = await motoInstance(db.dbInstanceIdentifier);
    assert.equal(instance?.DBInstanceStatus, 'available');
    const refused = (await calls(db)).filter((c) => c.action === 'DeleteDBInstance');
    assert.ok(
      refused.length >= 1 && refused.every((c) => c.outcome === 'InvalidParameterCombination'),
    );
    // a real lift then deletes it
    assert.equal((await run(deps.deleteDbInstance, deletion(db, 'Delete'))).state, 'deleting');
  });
});
