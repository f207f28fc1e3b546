// The database workflow in the time-skipping test server with stubbed activities: the story of a
// database, each RDS terminal state, approval, cancel, spec change and delete during
// provisioning, an outage while publishing, and hours of creation compressed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { RDS_TERMINAL_STATUSES } from '../../activities/rds.js';
import {
  approveSignal,
  retrySignal,
  statusQuery,
  type ObjectView,
} from '../../contracts/workflow.js';
import { CREATE_DEFAULTS, SPEC_DEFAULTS } from '../../contracts/database.js';
import { AWS_CALLS, ENDPOINT } from './fake-world.js';
import {
  changeSpec,
  client,
  deleted,
  env,
  phases,
  reported,
  requestDelete,
  result,
  scenario,
  objectView,
  until,
} from './harness.js';

/** Polls `done` in real time (30 s at most). */
async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('database workflow', () => {
  it('provisions, publishes, reports Available, then deletes per policy on request', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        const live = await until(
          handle,
          'Available',
          (s) => s.phase === 'Available' && s.stage === 'serve',
        );
        assert.deepEqual(live.endpoint, ENDPOINT);
        assert.equal(live.observedGeneration, 1);
        assert.deepEqual(world.calls.slice(0, 7), [
          'validateSpec',
          'ensureFinalizer',
          'ensureMasterPassword',
          'createDbInstance',
          'waitUntilAvailable',
          // created with the spec and the password: nothing to converge (an adopted one would)
          'writeDbSecret',
          'publishToConsul',
        ]);
        const available = world.statuses.find((s) => s.phase === 'Available');
        assert.equal(available?.vaultPath, `secret/${available?.consulKey ?? ''}`);
        assert.deepEqual(available?.endpoint, ENDPOINT);
        // no write just to say Pending (an object without status reads so): the first says Provisioning
        assert.deepEqual([...new Set(phases(world))], ['Provisioning', 'Available']);

        const result = await deleted(world, handle, object);
        assert.deepEqual(result, {
          outcome: 'deleted',
          deletionPolicy: 'Delete',
          instance: 'deleted',
        });
        assert.deepEqual(world.calls.slice(-7), [
          'readObject',
          'deleteDbInstance',
          'waitUntilDeleted',
          // the parameter groups it owns go once the instance is gone (it has none here)
          'deleteParameterGroups',
          'deleteDbSecret',
          'removeFromConsul',
          'releaseFinalizer',
        ]);
      },
    );
  });

  it('ends a bad spec in Failed with every problem named and no AWS call, then recovers on a fix', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ engine: 'oracle', storageGiB: 5 });
        const handle = await start(object);
        const failed = await until(handle, 'Failed', (s) => s.phase === 'Failed');
        assert.match(failed.message, /spec\.engine/);
        assert.match(failed.message, /spec\.storageGiB/);
        assert.deepEqual(
          world.calls.filter((c) => AWS_CALLS.includes(c) || c === 'ensureMasterPassword'),
          [],
        );
        assert.equal((await reported(world, 'Failed'))?.reason, 'InvalidSpec');

        const fixed: ObjectView = {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres' },
        };
        await changeSpec(world, handle, fixed);
        await until(handle, 'Available after the fix', (s) => s.phase === 'Available');
        assert.ok(world.calls.includes('createDbInstance'));
      },
    );
  });

  for (const status of [
    'failed',
    'incompatible-parameters',
    'storage-full',
    'incompatible-network',
    'inaccessible-encryption-credentials',
  ]) {
    it(`ends in Failed with the reason when RDS reports ${status}`, async () => {
      assert.ok(RDS_TERMINAL_STATUSES.has(status));
      await scenario(
        (world) => (world.rds = status),
        async ({ world, start }) => {
          const handle = await start(objectView({}));
          const failed = await until(handle, 'Failed', (s) => s.phase === 'Failed');
          assert.match(failed.message, new RegExp(`is ${status}`));
          assert.equal((await reported(world, 'Failed'))?.reason, 'InstanceFailed');
          assert.ok(!world.calls.includes('writeDbSecret'), 'published a failed instance');
        },
      );
    });
  }

  it('waits for the approval of its generation before any AWS call', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const handle = await start(objectView({ requireApproval: true, storageGiB: 30 }));
        const waiting = await until(
          handle,
          'AwaitingApproval',
          (s) => s.phase === 'AwaitingApproval',
        );
        assert.deepEqual(waiting.awaitingApproval, {
          generation: 1,
          engine: 'postgres',
          // what a create of this spec would make: the defaults for what it leaves out
          instanceClass: CREATE_DEFAULTS.instanceClass,
          storageGiB: 30,
          multiAZ: CREATE_DEFAULTS.multiAZ,
          deletionPolicy: SPEC_DEFAULTS.deletionPolicy,
        });
        assert.deepEqual(
          (await reported(world, 'AwaitingApproval'))?.pendingApproval,
          waiting.awaitingApproval,
        );
        await env.sleep('1 minute');
        // an approval that names no generation, or another one, approves nothing, and says so
        await handle.signal(approveSignal, { by: 'mallory' });
        await handle.signal(approveSignal, { by: 'mallory', generation: 2 });
        await env.sleep('1 minute');
        assert.equal((await handle.query(statusQuery)).phase, 'AwaitingApproval');
        assert.deepEqual(
          world.calls.filter((c) => AWS_CALLS.includes(c) || c === 'ensureMasterPassword'),
          [],
        );
        const refusals = world.statuses.filter((s) => s.reason === 'ApprovalRefused');
        assert.match(refusals[0]?.message ?? '', /approval refused: it names no generation/);
        assert.match(refusals[1]?.message ?? '', /names generation 2, but generation 1 is the one/);
        // still showing what waits, so `rdsflow approve` can approve it
        assert.equal(refusals[1]?.pendingApproval?.generation, 1);
        assert.deepEqual(
          world.events.map((e) => e.reason),
          ['SignalRefused', 'SignalRefused'],
        );
        await handle.signal(approveSignal, { by: 'alice', generation: 1 });
        const live = await until(handle, 'Available', (s) => s.phase === 'Available');
        assert.equal(live.awaitingApproval, undefined);
        assert.equal((await reported(world, 'Available'))?.pendingApproval, undefined);
      },
    );
  });

  it('asks again when the spec changes while it waits: the approved spec is the one created', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ requireApproval: true, storageGiB: 30 });
        const handle = await start(object);
        await until(handle, 'AwaitingApproval', (s) => s.awaitingApproval?.generation === 1);
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', requireApproval: true, storageGiB: 80 },
        });
        const second = await until(
          handle,
          'generation 2 awaiting approval',
          (s) => s.awaitingApproval?.generation === 2,
        );
        assert.equal(second.awaitingApproval?.storageGiB, 80);
        // approving what was shown before does not approve what is there now
        await handle.signal(approveSignal, { by: 'alice', generation: 1 });
        await env.sleep('1 minute');
        assert.ok(!world.calls.includes('createDbInstance'), 'created before its approval');
        await handle.signal(approveSignal, { by: 'alice', generation: 2 });
        const live = await until(
          handle,
          'Available',
          (s) => s.phase === 'Available' && s.stage === 'serve',
        );
        assert.equal(live.observedGeneration, 2);
        assert.equal(world.calls.filter((c) => c === 'createDbInstance').length, 1);
        // created as approved: generation 2's spec and nothing else
        assert.deepEqual(
          world.createdWith.map((db) => (db as { storageGiB: number }).storageGiB),
          [80],
        );
        assert.deepEqual(world.modifiedWith, []);
      },
    );
  });

  it('asks for approval of a spec change before modifying a database that requires it', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ requireApproval: true });
        const handle = await start(object);
        await until(handle, 'AwaitingApproval', (s) => s.phase === 'AwaitingApproval');
        await handle.signal(approveSignal, { generation: 1 });
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        const modifiesBefore = world.modifiedWith.length;
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', requireApproval: true, storageGiB: 50 },
        });
        await until(handle, 'generation 2 awaiting', (s) => s.awaitingApproval?.generation === 2);
        // NOTE: the test server does not skip time for a run that began with continue-as-new; a
        // moment of real time is enough for instant stub activities to have run if they would
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(world.modifiedWith.length, modifiesBefore, 'modified before its approval');
        await client.workflow.getHandle(handle.workflowId).signal(approveSignal, { generation: 2 });
        await until(handle, 'generation 2 applied', (s) => s.observedGeneration === 2);
        assert.equal((world.modifiedWith.at(-1) as { storageGiB: number }).storageGiB, 50);
      },
    );
  });

  it('compresses hours of creation into seconds, polling without a loop in history', async () => {
    await scenario(
      (world) => {
        world.rds = 'not-yet';
        world.pollDelay = '30 minutes';
      },
      async ({ world, start }) => {
        const handle = await start(objectView({}));
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        const t0 = await env.currentTimeMs();
        await env.sleep('5 hours');
        world.rds = 'available';
        await env.sleep('1 hour');
        const live = await until(handle, 'Available', (s) => s.phase === 'Available');
        assert.ok((await env.currentTimeMs()) - t0 >= 6 * 3_600_000);
        assert.deepEqual(live.endpoint, ENDPOINT);
        assert.ok(
          world.waitCalls >= 10 && world.waitCalls <= 14,
          `polled ${world.waitCalls} times`,
        );
        // the first run's history holds one activity for the whole wait, not one per poll
        const firstRun = client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
        const { events } = await firstRun.fetchHistory();
        const scheduled = (events ?? []).filter(
          (e) =>
            e.activityTaskScheduledEventAttributes?.activityType?.name === 'waitUntilAvailable',
        );
        assert.equal(scheduled.length, 1);
      },
    );
  });

  it('rolls back what it created and reports Cancelled when cancelled during the wait', async () => {
    await scenario(
      (world) => (world.rds = 'not-yet'),
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Delete' }));
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        await handle.cancel();
        await assert.rejects(
          handle.result(),
          (e: unknown) => e instanceof WorkflowFailedError && /cancel/i.test(String(e.cause)),
        );
        assert.ok(world.calls.includes('deleteDbInstance'));
        assert.ok(world.calls.includes('deleteDbSecret'));
        assert.ok(!world.calls.includes('publishToConsul'));
        const last = world.statuses.at(-1);
        assert.equal(last?.phase, 'Cancelled');
        assert.match(last?.message ?? '', /rolled back: RDS instance .* \(Delete\), Vault secret/);
      },
    );
  });

  it('keeps a retained instance on cancel but still reports Cancelled', async () => {
    await scenario(
      (world) => (world.rds = 'not-yet'),
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Retain' }));
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        await handle.cancel();
        await assert.rejects(handle.result());
        assert.ok(!world.calls.includes('waitUntilDeleted'));
        assert.ok(
          !world.calls.includes('deleteDbSecret'),
          'removed the password of a retained instance',
        );
        assert.equal(world.statuses.at(-1)?.phase, 'Cancelled');
      },
    );
  });

  it('applies a spec change that arrives during provisioning once the instance is available', async () => {
    await scenario(
      (world) => (world.rds = 'not-yet'),
      async ({ world, start }) => {
        const object = objectView({ storageGiB: 20 });
        const handle = await start(object);
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', storageGiB: 50 },
        });
        world.rds = 'available';
        await env.sleep('1 minute');
        const live = await until(
          handle,
          'generation 2 Available',
          (s) => s.phase === 'Available' && s.observedGeneration === 2,
        );
        assert.equal(live.stage, 'serve');
        assert.equal((world.modifiedWith.at(-1) as { storageGiB: number }).storageGiB, 50);
        assert.ok(phases(world).includes('Modifying'));
      },
    );
  });

  it('refuses a change to an immutable field, keeping the instance', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({});
        const handle = await start(object);
        await until(handle, 'Available', (s) => s.phase === 'Available');
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'mysql' },
        });
        const modifies = world.modifiedWith.length;
        const failed = await until(handle, 'Failed', (s) => s.phase === 'Failed');
        assert.match(failed.message, /spec\.engine \(was postgres\)/);
        assert.equal(world.modifiedWith.length, modifies);
        assert.ok(!world.calls.includes('deleteDbInstance'));
      },
    );
  });

  it('deletes instead of finishing when a delete arrives during provisioning', async () => {
    await scenario(
      (world) => (world.rds = 'not-yet'),
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Snapshot' });
        const handle = await start(object);
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        await requestDelete(world, handle, object);
        const outcome = await result(handle);
        const request = world.deletedWith.at(-1);
        assert.match(request?.finalSnapshot ?? '', /-final-[a-z0-9]{8}$/);
        assert.deepEqual(outcome, {
          outcome: 'deleted',
          deletionPolicy: 'Snapshot',
          snapshot: request?.finalSnapshot,
          instance: 'deleted',
        });
        assert.ok(!world.calls.includes('writeDbSecret'));
        assert.ok(world.calls.includes('releaseFinalizer'));
      },
    );
  });

  it('creates nothing, and deletes nothing, for an object that vanished before its finalizer was on', async () => {
    await scenario(
      (world) => {
        world.objectGone = true;
        world.kube = { state: 'gone' };
      },
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Delete' }));
        const outcome = await result(handle);
        assert.equal(outcome.outcome, 'orphaned');
        assert.ok(!world.calls.includes('ensureMasterPassword'), world.calls.join(','));
        assert.ok(!world.calls.includes('createDbInstance'), world.calls.join(','));
        assert.ok(!world.calls.includes('deleteDbInstance'), world.calls.join(','));
        assert.ok(!world.calls.includes('deleteDbSecret'), world.calls.join(','));
      },
    );
  });

  it('rides out a Vault outage during publish, showing the retries, and becomes Available', async () => {
    await scenario(
      (world) => (world.vaultOutages = 7),
      async ({ world, start }) => {
        const handle = await start(objectView({}));
        await env.sleep('10 minutes');
        await until(handle, 'Available', (s) => s.phase === 'Available');
        const retrying = world.statuses.filter((s) => s.reason === 'Retrying');
        assert.ok(retrying.length >= 1);
        assert.match(
          retrying[0]?.message ?? '',
          /writeDbSecret: attempt 1 failed, retrying: Vault unavailable/,
        );
        assert.equal(world.calls.filter((c) => c === 'writeDbSecret').length, 8);
      },
    );
  });

  it('writes again an Available status that was dropped, once the apiserver takes it, and then stops', async () => {
    await scenario(
      (world) => (world.refuseStatus = (update) => update.phase === 'Available'),
      async ({ world, start }) => {
        const handle = await start(objectView({}));
        await until(handle, 'serving', (s) => s.stage === 'serve');
        assert.equal(world.refusedStatuses, 1);
        assert.equal(world.statuses.at(-1)?.phase, 'Provisioning');
        // the serve stage tries again while it waits (after 5 s, then 10 s, ...); real time:
        // the test server does not always skip time for a workflow between two runs
        await waitFor('a second try', () => world.refusedStatuses >= 2);
        world.refuseStatus = undefined;
        await waitFor('the status written', () => world.statuses.at(-1)?.phase === 'Available');
        const available = world.statuses.at(-1);
        assert.deepEqual(available?.endpoint, ENDPOINT);
        assert.equal(available?.observedGeneration, 1);
        assert.equal(
          (await until(handle, 'serving', (s) => s.stage === 'serve')).phase,
          'Available',
        );
        // once written, nothing more: no timer after the write that landed
        const run = client.workflow.getHandle(handle.workflowId);
        const events = (await run.fetchHistory()).events ?? [];
        const lastMarker = events.findLastIndex((e) => e.markerRecordedEventAttributes);
        assert.ok(lastMarker > 0);
        const after = events.slice(lastMarker).filter((e) => e.timerStartedEventAttributes);
        assert.deepEqual(after, [], 'a serving database that nothing changes waits on no timer');
      },
    );
  });

  it('keeps to where a failed create was sent: a class moved elsewhere is refused, the delete looks there', async () => {
    const place = (region: string) => ({
      name: 'standard',
      generation: region === 'eu-west-1' ? 1 : 2,
      spec: { region },
    });
    await scenario(
      (world) => {
        world.rds = 'storage-full';
        world.databaseClass = place('eu-west-1');
      },
      async ({ world, start }) => {
        const object = objectView({});
        const handle = await start(object);
        await until(handle, 'Failed', (s) => s.phase === 'Failed');
        // the platform team moves the class; the user edits the Database
        world.databaseClass = place('us-west-2');
        world.rds = 'available';
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', storageGiB: 30 },
        });
        const refused = await until(
          handle,
          'refused',
          (s) => s.phase === 'Failed' && /cannot change after creation/.test(s.message),
        );
        assert.match(refused.message, /region eu-west-1.*region us-west-2/);
        assert.equal(world.calls.filter((c) => c === 'createDbInstance').length, 1);
        await requestDelete(world, handle, object);
        await client.workflow.getHandle(handle.workflowId).result();
        assert.equal(world.deletedWith[0]?.names.aws?.region, 'eu-west-1');
      },
    );
  });

  it('keeps a Database made without a class classless when a default class appears later', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({});
        const handle = await start(object);
        await until(handle, 'Available', (s) => s.phase === 'Available');
        // the platform team marks a class default, in another region
        world.databaseClass = {
          name: 'standard',
          generation: 1,
          annotations: { 'rdsflow.io/is-default-class': 'true' },
          spec: { region: 'us-west-2' },
        };
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', storageGiB: 30 },
        });
        await until(
          handle,
          'generation 2 applied',
          (s) => s.phase === 'Available' && world.modifiedWith.length > 0,
        );
        const applied = world.modifiedWith.at(-1) as { aws?: unknown; storageGiB?: number };
        assert.equal(applied.storageGiB, 30);
        assert.equal(applied.aws, undefined, 'moved to the new default class');
      },
    );
  });

  it('re-runs a failed provisioning on the retry signal', async () => {
    await scenario(
      (world) => (world.rds = 'storage-full'),
      async ({ world, start }) => {
        const handle = await start(objectView({}));
        await until(handle, 'Failed', (s) => s.phase === 'Failed');
        world.rds = 'available';
        await client.workflow.getHandle(handle.workflowId).signal(retrySignal);
        await until(handle, 'Available', (s) => s.phase === 'Available');
        assert.equal(world.calls.filter((c) => c === 'createDbInstance').length, 2);
      },
    );
  });

  it('lets the deletion finish, untouched, when the instance under its identifier is not ours', async () => {
    await scenario(
      (world) => (world.foreignInstance = true),
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        await until(handle, 'Failed', (s) => s.phase === 'Failed');
        assert.equal((await reported(world, 'Failed'))?.reason, 'InstanceNotOurs');
        assert.deepEqual(await deleted(world, handle, object), {
          outcome: 'deleted',
          deletionPolicy: 'Delete',
          instance: 'not-ours',
        });
        assert.ok(!world.calls.includes('waitUntilDeleted'));
        assert.ok(world.calls.includes('releaseFinalizer'));
        assert.deepEqual(
          world.events.map((e) => e.reason),
          ['InstanceNotOurs'],
        );
        assert.match(world.events[0]?.message ?? '', /the instance is untouched/);
      },
    );
  });

  it('retains the instance and its credentials under Retain', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Retain' });
        const handle = await start(object);
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        assert.deepEqual(await deleted(world, handle, object), {
          outcome: 'deleted',
          deletionPolicy: 'Retain',
          instance: 'retained',
        });
        assert.ok(world.calls.includes('retainDbSecret'));
        assert.ok(!world.calls.includes('deleteDbSecret'), 'the credentials were removed');
      },
    );
  });

  it('deletes under the policy of the object as last observed, carried by the delete request', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        // edited to Retain and deleted while no watcher looked: one delete request carries both
        const outcome = await deleted(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', deletionPolicy: 'Retain' },
        });
        assert.equal(outcome.deletionPolicy, 'Retain');
        assert.deepEqual(
          world.deletedWith.map((r) => r.policy),
          ['Retain'],
        );
      },
    );
  });

  it('converges an adopted instance on the spec and the password before it publishes', async () => {
    await scenario(
      (world) => (world.adopt = true),
      async ({ world, start }) => {
        const handle = await start(objectView({ storageGiB: 30 }));
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        const at = (call: string) => world.calls.indexOf(call);
        assert.ok(at('modifyDbInstance') > at('waitUntilAvailable'), world.calls.join(','));
        assert.ok(at('modifyDbInstance') < at('writeDbSecret'), world.calls.join(','));
        assert.deepEqual(
          world.modifiedWith.map((db) => (db as { storageGiB: number }).storageGiB),
          [30],
        );
      },
    );
  });

  it('never deletes on cancel an instance this run adopted', async () => {
    await scenario(
      (world) => {
        world.adopt = true;
        world.rds = 'not-yet';
      },
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Delete' }));
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        await handle.cancel();
        await assert.rejects(handle.result());
        const rollback = world.deletedWith.at(-1);
        assert.ok(rollback?.createdByRun, 'the rollback did not ask for proof of creation');
        assert.ok(!world.calls.includes('waitUntilDeleted'));
        // the instance stays, and so does the password it has
        assert.ok(!world.calls.includes('deleteDbSecret'), 'the credentials of a kept instance');
        const last = world.statuses.at(-1);
        assert.equal(last?.phase, 'Cancelled');
        assert.doesNotMatch(last?.message ?? '', /RDS instance/);
      },
    );
  });

  it('waits for a create in flight before rolling back, so nothing lands unnoticed', async () => {
    let release: () => void = () => {};
    await scenario(
      (world) => {
        world.createGate = new Promise<void>((resolve) => (release = resolve));
      },
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Delete' }));
        await until(handle, 'creating', (s) => s.step === 'createDbInstance');
        await handle.cancel();
        await new Promise((r) => setTimeout(r, 500));
        const early = world.calls.includes('deleteDbInstance');
        // the create ends either way, so a failure here cannot hang the worker's shutdown
        release();
        assert.ok(!early, 'rolled back while the create ran');
        await assert.rejects(handle.result());
        const done = world.calls.indexOf('createDbInstance:done');
        const deleted = world.calls.indexOf('deleteDbInstance');
        assert.ok(done >= 0 && deleted > done, world.calls.join(','));
        assert.equal(world.statuses.at(-1)?.phase, 'Cancelled');
      },
    );
  });

  it('rolls back and ends Cancelled when cancelled in phase Failed', async () => {
    await scenario(
      (world) => (world.rds = 'storage-full'),
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Delete' }));
        await until(handle, 'Failed', (s) => s.phase === 'Failed');
        await handle.cancel();
        await assert.rejects(handle.result());
        assert.equal(world.statuses.at(-1)?.phase, 'Cancelled');
        assert.equal(world.statuses.at(-1)?.reason, 'Cancelled');
        assert.ok(world.deletedWith.at(-1)?.createdByRun, 'nothing rolled back');
      },
    );
  });

  it('names each deletion its own final snapshot', async () => {
    await scenario(
      (world) => (world.rds = 'not-yet'),
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Snapshot' });
        const handle = await start(object);
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        await handle.cancel();
        await assert.rejects(handle.result());
        // the same object provisioned again, then deleted
        world.rds = 'available';
        const again = await start(object);
        await until(again, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        await deleted(world, again, object);
        const names = world.deletedWith.map((r) => r.finalSnapshot);
        assert.equal(names.length, 2);
        assert.notEqual(names[0], names[1]);
      },
    );
  });
});
