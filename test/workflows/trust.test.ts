// The workflow trusts only its own object, in the time-skipping test server with stubbed
// activities: signals naming another object are refused, a delete is believed only on the
// object's deletionTimestamp read back, absence orphans (never deletes), approval guards every
// change and the delete's policy, a cancel undoes only what its run created, and a deletion that
// has begun cannot be cancelled.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { workflowIdFor } from '../../contracts/names.js';
import {
  approveSignal,
  deleteSignal,
  objectGoneSignal,
  specChangedSignal,
  type ObjectView,
} from '../../contracts/workflow.js';
import { AWS_CALLS } from './fake-world.js';
import {
  client,
  deleted,
  phases,
  changeSpec,
  requestDelete,
  result,
  scenario,
  objectView,
  until,
  type Handle,
} from './harness.js';

/** The next generation of `object` with `spec` (the engine kept). */
function edited(object: ObjectView, spec: Record<string, unknown>, generation = 2) {
  return {
    metadata: { ...object.metadata, generation },
    spec: { engine: 'postgres', ...spec },
  } satisfies ObjectView;
}

const serving = (handle: Handle) =>
  until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');

/** Lets signals and the activities they start run (stub activities are instant). */
const settle = () => new Promise((r) => setTimeout(r, 700));

describe('database workflow: trust at the edges', () => {
  it('refuses a specChanged or delete signal that names another object, whoever sent it', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const a = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(a);
        await serving(handle);
        const b = objectView({ storageGiB: 77 }, 1);
        // b's object, with a's database name: applied, it would resize the instance
        await handle.signal(specChangedSignal, {
          ...b,
          metadata: { ...b.metadata, generation: 9 },
        });
        world.kube = { state: 'deleting', object: b };
        await handle.signal(deleteSignal, b);
        // the same name and namespace but another UID, and the right UID in another cluster
        await handle.signal(deleteSignal, { ...a, metadata: { ...a.metadata, uid: randomUUID() } });
        await handle.signal(deleteSignal, { ...a, cluster: 'another-cluster' });
        await handle.signal(deleteSignal);
        await settle();
        const live = await serving(handle);
        assert.equal(live.observedGeneration, 1);
        assert.deepEqual(world.modifiedWith, [], 'a refused signal changed the instance');
        assert.ok(!world.calls.includes('readObject'), 'a refused signal was acted on');
        assert.ok(!world.calls.includes('deleteDbInstance'));
        assert.deepEqual(
          world.events.map((e) => e.reason),
          Array(5).fill('SignalRefused'),
        );
        // handlers run concurrently, so the refusals may be recorded in any order
        const messages = world.events.map((e) => e.message);
        for (const expected of [
          /specChanged signal was refused.*another object \(its name, UID differ\)/,
          /delete signal was refused.*another object \(its name, UID differ\)/,
          /delete signal was refused.*another object \(its UID differs\)/,
          /its cluster differs/,
          /it names no object/,
        ]) {
          assert.ok(
            messages.some((m) => expected.test(m)),
            `no refusal matching ${expected}: ${messages.join(' | ')}`,
          );
        }
        // and the workflow still deletes its own object when a user deletes it
        const outcome = await deleted(world, handle, a);
        assert.equal(outcome.outcome, 'deleted');
      },
    );
  });

  it('applies what the apiserver has, not what a specChanged names, even with the right identity', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        world.kube = { state: 'present', object };
        const handle = await start(object);
        await serving(handle);
        const modified = world.modifiedWith.length;
        // its own identity, a made-up generation and spec (the stock temporal CLI can send it)
        await handle.signal(specChangedSignal, {
          ...object,
          metadata: { ...object.metadata, generation: 1000 },
          spec: { engine: 'postgres', storageGiB: 6000, instanceClass: 'db.r6g.16xlarge' },
        });
        await settle();
        assert.equal((await serving(handle)).observedGeneration, 1);
        assert.equal(world.modifiedWith.length, modified, 'a forged spec reached RDS');
        // a real edit is still followed (the forged generation did not raise the bar)
        await changeSpec(
          world,
          handle,
          edited(object, { deletionPolicy: 'Delete', storageGiB: 30 }),
        );
        await until(
          handle,
          'generation 2',
          (s) => s.observedGeneration === 2 && s.phase === 'Available',
        );
        assert.equal((world.modifiedWith.at(-1) as { storageGiB?: number }).storageGiB, 30);
      },
    );
  });

  it('an orphan stage proves the object gone first: one that is there is served, nothing released', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        world.kube = { state: 'present', object };
        const handle = await start(object, { stage: 'orphan' });
        await serving(handle);
        assert.ok(world.calls.includes('readObject'));
        assert.ok(!world.calls.includes('releaseDbInstance'), 'released an object that is there');
        assert.ok(!world.calls.includes('recordOrphaned'));
      },
    );
  });

  it('reads the object back on a delete: not being deleted, nothing is deleted', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        await serving(handle);
        // a delete request for an object that exists and is not being deleted (a forged one)
        world.kube = { state: 'present' };
        await handle.signal(deleteSignal, object);
        await settle();
        await serving(handle);
        assert.ok(world.calls.includes('readObject'));
        assert.ok(!world.calls.includes('deleteDbInstance'), world.calls.join(','));
        assert.deepEqual(
          world.events.map((e) => e.reason),
          ['SignalRefused'],
        );
        assert.match(world.events[0]?.message ?? '', /not being deleted \(no deletionTimestamp\)/);
      },
    );
  });

  it('a workflow started for delete proves it too before it deletes', async () => {
    await scenario(
      (world) => (world.kube = { state: 'present' }),
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Delete' }), { stage: 'delete' });
        // refused, it goes on to provision the object that is there, as the watcher would
        await serving(handle);
        assert.ok(!world.calls.includes('deleteDbInstance'), world.calls.join(','));
        assert.equal(world.events[0]?.reason, 'SignalRefused');
      },
    );
  });

  it('orphans the database when the object is gone without a delete: nothing is deleted', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        await serving(handle);
        world.kube = { state: 'gone' };
        await handle.signal(objectGoneSignal, { metadata: object.metadata });
        const outcome = await result(handle);
        assert.deepEqual(outcome, {
          outcome: 'orphaned',
          deletionPolicy: 'none',
          instance: 'released',
        });
        assert.deepEqual(world.calls.slice(-4), [
          'readObject',
          'releaseDbInstance',
          'retainDbSecret',
          'recordOrphaned',
        ]);
        for (const destructive of ['deleteDbInstance', 'deleteDbSecret', 'removeFromConsul']) {
          assert.ok(!world.calls.includes(destructive), `${destructive} on an orphaned database`);
        }
        assert.deepEqual(world.releasedFrom, [undefined]);
      },
    );
  });

  it('a delete request for an object already gone orphans too (the finalizer removed by hand)', async () => {
    await scenario(
      (world) => (world.rds = 'not-yet'),
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        world.kube = { state: 'gone' };
        await handle.signal(deleteSignal, object);
        assert.equal((await result(handle)).outcome, 'orphaned');
        assert.ok(!world.calls.includes('deleteDbInstance'), world.calls.join(','));
      },
    );
  });

  it('the object gone right before the destructive call: released, not deleted', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        await serving(handle);
        world.kube = { state: 'deleting', object };
        await handle.signal(deleteSignal, object);
        // the finalizer is removed by hand between the proof and the delete call: the activity
        // reads the object again right before it, finds it gone
        world.kube = { state: 'gone' };
        const outcome = await result(handle);
        assert.equal(outcome.outcome, 'orphaned');
        assert.ok(!world.calls.includes('deleteDbSecret'));
        assert.ok(!world.calls.includes('releaseFinalizer'));
      },
    );
  });

  it('an edit that removes requireApproval waits for approval like any change', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ requireApproval: true });
        const handle = await start(object);
        await until(handle, 'AwaitingApproval', (s) => s.awaitingApproval?.generation === 1);
        await handle.signal(approveSignal, { generation: 1, by: 'alice' });
        await serving(handle);
        const before = world.modifiedWith.length;
        await changeSpec(
          world,
          handle,
          edited(object, { requireApproval: false, storageGiB: 100 }),
        );
        const waiting = await until(
          handle,
          'generation 2 awaiting',
          (s) => s.awaitingApproval?.generation === 2,
        );
        assert.equal(waiting.awaitingApproval?.storageGiB, 100);
        await settle();
        assert.equal(world.modifiedWith.length, before, 'applied before its approval');
        assert.match(
          world.statuses.at(-1)?.message ?? '',
          /removes requireApproval, which needs approval too/,
        );
        await handle.signal(approveSignal, { generation: 2, by: 'alice' });
        await until(handle, 'generation 2 applied', (s) => s.observedGeneration === 2);
      },
    );
  });

  it('a delete after an unapproved weaker policy applies the approved one', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ requireApproval: true, deletionPolicy: 'Snapshot' });
        const handle = await start(object);
        await until(handle, 'AwaitingApproval', (s) => s.awaitingApproval?.generation === 1);
        await handle.signal(approveSignal, { generation: 1, by: 'alice' });
        await serving(handle);
        const weaker = edited(object, { requireApproval: true, deletionPolicy: 'Delete' });
        await changeSpec(world, handle, weaker);
        await until(handle, 'generation 2 awaiting', (s) => s.awaitingApproval?.generation === 2);
        const outcome = await deleted(world, handle, weaker);
        assert.equal(outcome.deletionPolicy, 'Snapshot');
        assert.ok(outcome.snapshot, 'no final snapshot');
        assert.deepEqual(
          world.deletedWith.map((r) => r.policy),
          ['Snapshot'],
        );
      },
    );
  });

  it('a cancel during a modification takes nothing of the database serving before it', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Delete' });
        const handle = await start(object);
        await serving(handle);
        world.vaultOutages = 1_000; // the modification's publish is stuck retrying
        await changeSpec(world, handle, edited(object, { storageGiB: 40 }));
        await until(handle, 'publishing', (s) => s.step === 'writeDbSecret' && s.attempt > 1);
        await client.workflow.getHandle(handle.workflowId).cancel();
        await assert.rejects(
          client.workflow.getHandle(handle.workflowId).result(),
          (e: unknown) => e instanceof WorkflowFailedError,
        );
        for (const call of ['removeFromConsul', 'deleteDbSecret', 'deleteDbInstance']) {
          assert.ok(!world.calls.includes(call), `${call} on cancel of a modification`);
        }
        assert.equal(world.statuses.at(-1)?.phase, 'Cancelled');
        assert.match(world.statuses.at(-1)?.message ?? '', /nothing to roll back/);
      },
    );
  });

  it('a cancelled adoption gives back what it took: instance and secret released to their owner', async () => {
    const former = randomUUID();
    await scenario(
      (world) => {
        world.adopt = true;
        world.adoptFrom = former;
        world.rds = 'not-yet';
      },
      async ({ world, start }) => {
        const handle = await start(objectView({ deletionPolicy: 'Delete', adoptRetained: true }));
        await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
        await handle.cancel();
        await assert.rejects(handle.result());
        assert.deepEqual(world.releasedFrom, [former]);
        assert.deepEqual(world.secretOwners, [former]);
        assert.ok(!world.calls.includes('deleteDbInstance'));
        assert.ok(!world.calls.includes('deleteDbSecret'));
        assert.ok(!world.calls.includes('removeFromConsul'));
        assert.equal(world.statuses.at(-1)?.phase, 'Cancelled');
      },
    );
  });

  it('a switch to Retain that arrives while the instance is being deleted keeps the credentials', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Snapshot' });
        const handle = await start(object);
        await serving(handle);
        world.deleteWaits = 3;
        await requestDelete(world, handle, object);
        await until(handle, 'deleting', (s) => s.step === 'waitUntilDeleted');
        // too late for the instance (RDS is deleting it), not for its credentials
        const retain = edited(object, { deletionPolicy: 'Retain' });
        world.kube = { state: 'deleting', object: retain };
        // the watcher tells a new generation of an object being deleted as a delete request
        await handle.signal(deleteSignal, retain);
        const outcome = await result(handle);
        assert.equal(outcome.outcome, 'deleted');
        assert.ok(world.calls.includes('retainDbSecret'), 'the credentials were not kept');
        assert.ok(!world.calls.includes('deleteDbSecret'), 'the credentials were removed');
      },
    );
  });

  it('a deletion that has begun finishes, whatever cancel is asked', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ deletionPolicy: 'Snapshot' });
        const handle = await start(object);
        await serving(handle);
        world.deleteWaits = 5;
        await requestDelete(world, handle, object);
        await until(handle, 'deleting', (s) => s.step === 'waitUntilDeleted');
        await client.workflow.getHandle(handle.workflowId).cancel();
        const outcome = await result(handle);
        assert.equal(outcome.outcome, 'deleted');
        assert.ok(world.calls.includes('releaseFinalizer'), 'the object was left held');
        assert.ok(!phases(world).includes('Cancelled'));
        assert.ok(world.events.some((e) => e.reason === 'CancelRefused'));
        assert.ok(world.calls.includes('waitUntilDeleted:not-yet'), 'cancelled after the end');
      },
    );
  });

  it('a secret lost from Vault is made again on the next change, and the instance reset to it', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({});
        const handle = await start(object);
        await serving(handle);
        const from = world.calls.length;
        await changeSpec(world, handle, edited(object, { storageGiB: 30 }));
        await until(handle, 'generation 2 applied', (s) => s.observedGeneration === 2);
        assert.deepEqual(
          world.calls.slice(from).filter((c) => c !== 'validateSpec' && c !== 'readObject'),
          ['ensureMasterPassword', 'modifyDbInstance', 'writeDbSecret', 'publishToConsul'],
        );
      },
    );
  });

  it('refuses to act when its ID names another object than its input', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({});
        const other = { namespace: 'shop', name: 'other', uid: randomUUID() };
        const handle = await start(object, { workflowId: workflowIdFor(other, 'c1') });
        await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError);
        assert.deepEqual(
          world.calls.filter((c) => AWS_CALLS.includes(c)),
          [],
        );
      },
    );
  });
});
