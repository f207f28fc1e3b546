// The Reconciler (watcher/reconciler.ts) with its real queue and decisions, over an in-memory
// Kubernetes and Temporal (test/support/fake-effects.ts) and a fake clock: which calls reach
// Temporal for what a user does to a Database, what is never done (a delete without a
// deletionTimestamp, a second start for the same state), and how failures are retried. The
// real-process tests (test/watcher/) keep covering the real apiserver and Temporal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseObject } from '../../contracts/database.js';
import { WatcherMetrics } from '../../watcher/metrics.js';
import { Reconciler } from '../../watcher/reconciler.js';
import { afterFirstList } from '../../watcher/term.js';
import { capturedLog, LEVEL } from '../support/captured-log.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { FakeWorld } from '../support/fake-effects.js';

const SCOPE = 'RDSFLOW_WATCH_SELECTOR=team=shop';

function setup(concurrency = 4) {
  const clock = new FakeClock();
  const world = new FakeWorld(clock);
  const { log, lines } = capturedLog();
  const metrics = new WatcherMetrics();
  const reconciler = new Reconciler(world.effects, metrics, log, {
    concurrency,
    scope: SCOPE,
    clock,
  });
  const refOf = (o: DatabaseObject) => {
    const { namespace, name, uid } = o.metadata;
    return { namespace, name, uid };
  };
  return {
    clock,
    world,
    lines,
    metrics,
    reconciler,
    /** an ADDED or MODIFIED watch event, or a listing, of the object as it is now */
    observe: (o: DatabaseObject, type: 'ADDED' | 'MODIFIED' | 'LISTED' = 'MODIFIED') =>
      reconciler.observe({ kind: 'present', object: o }, clock.now(), type),
    /** a DELETED event (with the object's last state) */
    deletedEvent: (last: DatabaseObject) =>
      reconciler.observe({ kind: 'gone', ref: refOf(last), last }, clock.now(), 'DELETED'),
    /** an object a relist no longer shows */
    missing: (o: DatabaseObject) =>
      reconciler.observe({ kind: 'gone', ref: refOf(o) }, clock.now(), 'VANISHED'),
  };
}

const counter = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);

describe('Reconciler', () => {
  it('guards a new object with the finalizer, then starts its workflow once; an unchanged object is not started again', async () => {
    const { world, observe } = setup();
    const orders = world.create('orders');
    const uid = orders.metadata.uid;
    await observe(orders, 'ADDED');
    assert.deepEqual(world.journal, [`finalizer ${uid}`, `start ${uid}`], 'finalizer first');
    assert.equal(world.calls[0]?.generation, 1);
    assert.ok(world.events.some((e) => e.uid === uid && e.reason === 'WorkflowStarted'));

    // our own finalizer patch comes back as an event, a relist lists it, a duplicate arrives
    const guarded = world.get(uid);
    await observe(guarded);
    await observe(guarded, 'LISTED');
    await observe(guarded);
    assert.deepEqual(world.callsOf(uid), ['start']);
  });

  it('starts nothing for a status or metadata change (a new resourceVersion, the same generation)', async () => {
    const { world, observe } = setup();
    const { uid } = world.create('orders').metadata;
    await observe(world.get(uid), 'ADDED');
    await observe(world.writeStatus(uid, { phase: 'Provisioning', observedGeneration: 1 }));
    await observe(world.writeStatus(uid, { phase: 'Available', observedGeneration: 1 }));
    assert.deepEqual(world.callsOf(uid), ['start']);
  });

  it('tells the workflow of each new generation once, with its spec', async () => {
    const { world, observe } = setup();
    const { uid } = world.create('orders').metadata;
    await observe(world.get(uid), 'ADDED');
    const edited = world.edit(uid, { storageGiB: 50 });
    await observe(edited);
    await observe(edited, 'LISTED');
    assert.deepEqual(world.callsOf(uid), ['start', 'signalWithStart(specChanged)']);
    const told = world.calls[1];
    assert.equal(told?.generation, 2);
    assert.equal(told?.spec?.['storageGiB'], 50);
  });

  it('coalesces a burst of edits while a call is in flight: the workflow hears the newest, never the ones in between', async () => {
    const { world, observe } = setup();
    const { uid } = world.create('orders').metadata;
    world.stuck.add(uid);
    const first = observe(world.get(uid), 'ADDED');
    await settle();
    const later = [2, 3, 4].map((gib) => observe(world.edit(uid, { storageGiB: gib * 10 })));
    world.unstick(uid);
    await Promise.all([first, ...later]);
    assert.deepEqual(world.callsOf(uid), ['start', 'signalWithStart(specChanged)']);
    assert.equal(world.calls[1]?.generation, 4);
    assert.equal(world.calls[1]?.spec?.['storageGiB'], 40);
  });

  it('asks for a delete once per generation of an object being deleted, and again when its spec is edited during deletion', async () => {
    const { world, observe } = setup();
    const { uid } = world.create('orders').metadata;
    await observe(world.get(uid), 'ADDED');
    const deleting = world.markDeleting(uid);
    await observe(deleting);
    await observe(deleting);
    await observe(deleting, 'LISTED');
    assert.deepEqual(world.callsOf(uid), ['start', 'signalWithStart(delete)']);
    // a policy switched after the delete: the deletion must apply it
    await observe(world.edit(uid, { deletionPolicy: 'Retain' }));
    assert.deepEqual(world.callsOf(uid).slice(2), ['signalWithStart(delete)']);
    assert.equal(world.calls.at(-1)?.spec?.['deletionPolicy'], 'Retain');
  });

  it('tells a running workflow of a delete the watch reported with its deletionTimestamp, and starts nothing when none runs', async () => {
    const { world, observe, deletedEvent } = setup();
    const a = world.create('a');
    await observe(a, 'ADDED');
    const last = world.markDeleting(a.metadata.uid);
    world.remove(a.metadata.uid);
    await deletedEvent(last);
    assert.deepEqual(world.callsOf(a.metadata.uid), ['start', 'signal(delete)']);

    const b = world.create('b');
    const lastB = world.markDeleting(b.metadata.uid);
    world.remove(b.metadata.uid);
    await deletedEvent(lastB);
    assert.deepEqual(world.callsOf(b.metadata.uid), [], 'no workflow started to delete');
  });

  it('never asks for a delete for an object that vanished without a deletionTimestamp: its workflow is told objectGone', async () => {
    const { world, observe, deletedEvent, missing } = setup();
    const a = world.create('a');
    await observe(a, 'ADDED');
    const lastA = world.get(a.metadata.uid);
    world.remove(a.metadata.uid); // its finalizer removed by hand, say
    await deletedEvent(lastA);

    const b = world.create('b');
    await observe(b, 'ADDED');
    world.remove(b.metadata.uid);
    await missing(b); // gone while no watcher looked: a relist misses it

    for (const o of [a, b])
      assert.deepEqual(world.callsOf(o.metadata.uid), ['start', 'signal(objectGone)']);
    assert.ok(!world.calls.some((c) => c.kind.includes('delete')));
  });

  it('takes another object under the same name for a vanished one, not for the one it watched', async () => {
    const { world, observe, missing } = setup();
    const old = world.create('orders');
    await observe(old, 'ADDED');
    world.remove(old.metadata.uid);
    const successor = world.create('orders');
    await missing(old);
    assert.deepEqual(world.callsOf(old.metadata.uid), ['start', 'signal(objectGone)']);
    assert.deepEqual(world.callsOf(successor.metadata.uid), []);
  });

  it("releases an object that left the watcher's scope: a Warning Event, and nothing sent to Temporal", async () => {
    const { world, observe, missing } = setup();
    const orders = world.create('orders');
    await observe(orders, 'ADDED');
    await missing(orders); // relabelled out of the selector: still there
    assert.deepEqual(world.callsOf(orders.metadata.uid), ['start']);
    const released = world.events.find((e) => e.reason === 'Released');
    assert.equal(released?.type, 'Warning');
    assert.ok(released?.message.includes(SCOPE), 'the Event names the scope');
    // back in scope: managed again (a start that reuses the running workflow), nothing deleted
    await observe(world.get(orders.metadata.uid));
    assert.deepEqual(world.callsOf(orders.metadata.uid), ['start', 'start']);
    assert.ok(world.isRunning(orders.metadata.uid));
  });

  it('asks for a delete of an object the watch lost track of that turns out to be being deleted', async () => {
    const { world, observe, missing } = setup();
    const orders = world.create('orders');
    await observe(orders, 'ADDED');
    world.markDeleting(orders.metadata.uid);
    await missing(orders);
    assert.deepEqual(world.callsOf(orders.metadata.uid), ['start', 'signalWithStart(delete)']);
  });

  it('says an invalid spec on the object once and starts nothing', async () => {
    const { world, observe, metrics } = setup();
    const { uid } = world.create('legacy', { engine: 'oracle', storageGiB: 'lots' }).metadata;
    await observe(world.get(uid), 'ADDED');
    const rejected = world.get(uid);
    assert.equal(rejected.status?.phase, 'Failed');
    assert.match(rejected.status?.message ?? '', /invalid spec/);
    await observe(rejected); // the status write's own event
    await observe(rejected, 'LISTED');
    assert.deepEqual(world.journal, [`reject ${uid}`]);
    assert.equal(world.calls.length, 0);
    assert.equal(await counter(metrics.rejected), 1);
    // fixed by the user: a new generation starts it
    await observe(world.edit(uid, { engine: 'postgres', storageGiB: 20 }));
    assert.deepEqual(world.callsOf(uid), ['signalWithStart(specChanged)']);
  });

  it('retries a call Temporal cannot take with growing, capped backoff, and lands it once when Temporal is back', async () => {
    const { world, observe, clock, metrics, lines } = setup();
    const { uid } = world.create('orders').metadata;
    world.temporal = 'down';
    let handled = false;
    const done = observe(world.get(uid), 'ADDED').then(() => (handled = true));
    await clock.advance(60_000);
    assert.equal(handled, false, 'not acknowledged while Temporal is down');
    const gaps = world.attempts.slice(1).map((a, i) => a.at - (world.attempts[i]?.at ?? 0));
    // 1 s, 2 s, 4 s, 8 s, then 15 s at most, each ±20%
    const expected = [1_000, 2_000, 4_000, 8_000, 15_000, 15_000];
    expected.forEach((base, i) => {
      const gap = gaps[i] ?? 0;
      assert.ok(gap >= base * 0.8 && gap <= base * 1.2, `retry ${i + 1} after ${gap} ms`);
    });
    assert.ok(
      gaps.every((g) => g <= 18_000),
      'capped',
    );
    assert.equal(await counter(metrics.retries), world.attempts.length);
    assert.ok(
      lines.some((l) => l.level === LEVEL.warn && l.msg === 'event not delivered; retrying'),
    );

    world.temporal = 'none';
    await clock.advance(18_000);
    await done;
    assert.ok(handled);
    assert.deepEqual(world.callsOf(uid), ['start'], 'one start, however many attempts');
    await clock.advance(120_000);
    assert.equal(world.calls.length, 1, 'no retry after it landed');
  });

  it('sends the newest spec, and only that, once Temporal is back after edits made while it was down', async () => {
    const { world, observe, clock } = setup();
    const { uid } = world.create('orders').metadata;
    world.temporal = 'down';
    const first = observe(world.get(uid), 'ADDED');
    await clock.advance(3_000);
    const second = observe(world.edit(uid, { storageGiB: 80 }));
    world.temporal = 'none';
    await clock.advance(20_000);
    await Promise.all([first, second]);
    assert.deepEqual(world.callsOf(uid), ['signalWithStart(specChanged)']);
    assert.equal(world.calls[0]?.generation, 2);
    assert.equal(world.calls[0]?.spec?.['storageGiB'], 80);
  });

  it('says a refused finalizer loudly, starts nothing without it, and goes on once it is allowed', async () => {
    const { world, observe, clock, lines, metrics } = setup();
    const { uid } = world.create('orders').metadata;
    world.kube = 'forbidden';
    const done = observe(world.get(uid), 'ADDED');
    await clock.advance(10_000);
    assert.equal(world.calls.length, 0, 'no workflow without the finalizer');
    const refusals = lines.filter(
      (l) => l.level === LEVEL.error && l.msg.startsWith('finalizer refused'),
    );
    assert.ok(refusals.length >= 2, 'said at every attempt');
    assert.equal(refusals[0]?.['uid'], uid);
    assert.ok((await counter(metrics.errors)) >= 2);
    world.kube = 'none';
    await clock.advance(20_000);
    await done;
    assert.deepEqual(world.journal, [`finalizer ${uid}`, `start ${uid}`]);
  });

  it('starts nothing for an object deleted before it could be guarded', async () => {
    const { world, observe } = setup();
    const orders = world.create('orders');
    world.markDeleting(orders.metadata.uid); // the delete lands before the event is handled
    await observe(orders, 'ADDED');
    assert.deepEqual(world.calls, []);
    await observe(world.get(orders.metadata.uid));
    assert.deepEqual(world.calls, [], 'no workflow to tell, none started');
  });

  it("does not let one object's hung call hold up the others", async () => {
    const { world, observe, clock } = setup(2);
    const stuck = world.create('stuck');
    world.stuck.add(stuck.metadata.uid);
    const hung = observe(stuck, 'ADDED');
    const others = Array.from({ length: 5 }, (_, i) => world.create(`db-${i}`));
    await Promise.all(others.map((o) => observe(o, 'ADDED')));
    await clock.advance(0);
    assert.equal(world.calls.length, 5, 'every other object started');
    assert.deepEqual(world.callsOf(stuck.metadata.uid), []);
    world.unstick(stuck.metadata.uid);
    await hung;
    assert.deepEqual(world.callsOf(stuck.metadata.uid), ['start']);
  });

  it('close() lets a call in flight land and drops retries still waiting', async () => {
    const { world, observe, clock, reconciler } = setup();
    const flying = world.create('flying');
    const failing = world.create('failing');
    world.stuck.add(flying.metadata.uid);
    const inFlight = observe(flying, 'ADDED');
    world.temporal = 'down';
    const retrying = observe(failing, 'ADDED');
    await clock.advance(100);
    world.temporal = 'none';
    const closed = reconciler.close();
    world.unstick(flying.metadata.uid);
    await closed;
    await Promise.all([inFlight, retrying]);
    const attempts = world.attempts.length;
    await clock.advance(60_000);
    assert.deepEqual(world.callsOf(flying.metadata.uid), ['start']);
    assert.deepEqual(world.callsOf(failing.metadata.uid), []);
    assert.equal(world.attempts.length, attempts, 'nothing retried after close');
  });
});

describe('Reconciler.sweepOrphans', () => {
  it('reads back the object of each running workflow the list does not show: gone → objectGone, being deleted → delete, elsewhere or unreadable → left alone', async () => {
    const { world, reconciler, clock, lines } = setup();
    const listed = world.create('listed');
    const vanished = world.create('vanished');
    const deleting = world.create('deleting');
    const elsewhere = world.create('elsewhere');
    const unreadable = world.create('unreadable');
    for (const o of [listed, vanished, deleting, elsewhere, unreadable]) world.runWorkflow(o);
    world.remove(vanished.metadata.uid);
    world.markDeleting(deleting.metadata.uid);
    world.unreadable.add(unreadable.metadata.uid);

    const orphans = await reconciler.sweepOrphans(new Set([listed.metadata.uid]));
    await clock.advance(0);
    assert.equal(orphans, 2);
    assert.deepEqual(world.callsOf(vanished.metadata.uid), ['signal(objectGone)']);
    assert.deepEqual(world.callsOf(deleting.metadata.uid), ['signal(delete)']);
    for (const o of [listed, elsewhere, unreadable])
      assert.deepEqual(world.callsOf(o.metadata.uid), []);
    assert.ok(world.exists(elsewhere.metadata.uid));
    assert.ok(lines.some((l) => l.msg.startsWith("a running workflow's object is outside")));
    assert.ok(lines.some((l) => l.level === LEVEL.warn && l.msg.startsWith('cannot check')));
  });

  it('fails as a whole when Temporal cannot list the running workflows (the caller retries)', async () => {
    const { world, reconciler } = setup();
    world.runWorkflow(world.create('a'));
    world.temporal = 'down';
    await assert.rejects(reconciler.sweepOrphans(new Set()), /UNAVAILABLE/);
  });
});

describe('the periodic sweep', () => {
  const SWEEP_MS = 300_000; // RDSFLOW_SWEEP_INTERVAL's default

  function sweeping(firstLists: Promise<unknown> = Promise.resolve()) {
    const t = setup();
    const listed = new Set<string>();
    let ready = 0;
    const stop = new AbortController();
    const ctx = {
      log: capturedLog().log,
      ready: () => void ready++,
      clock: t.clock,
      config: { watcher: { sweepIntervalMs: SWEEP_MS } },
    };
    const running = afterFirstList(
      ctx,
      t.reconciler,
      [{ knownUids: () => [...listed] }],
      firstLists,
      stop.signal,
    );
    return { ...t, listed, stop, running, ready: () => ready };
  }

  it('waits for the first list, then finds a workflow whose object vanished, and again every interval', async () => {
    let listedAll = () => {};
    const first = new Promise<void>((resolve) => (listedAll = resolve));
    const { world, clock, listed, stop, running, ready } = sweeping(first);
    const kept = world.create('kept');
    const early = world.create('early');
    for (const o of [kept, early]) world.runWorkflow(o);
    listed.add(kept.metadata.uid);
    world.remove(early.metadata.uid);
    await clock.advance(SWEEP_MS);
    assert.equal(ready(), 0, 'not ready before the first list is handled');
    assert.deepEqual(world.calls, [], 'no sweep before the first list');

    listedAll();
    await clock.advance(0);
    assert.equal(ready(), 1);
    assert.deepEqual(world.callsOf(early.metadata.uid), ['signal(objectGone)']);

    // one that vanishes later is found at the next sweep, not before
    const late = world.create('late');
    world.runWorkflow(late);
    world.remove(late.metadata.uid);
    await clock.advance(SWEEP_MS - 1_000);
    assert.deepEqual(world.callsOf(late.metadata.uid), []);
    await clock.advance(1_000);
    assert.deepEqual(world.callsOf(late.metadata.uid), ['signal(objectGone)']);
    assert.deepEqual(world.callsOf(kept.metadata.uid), [], 'a listed object is left alone');

    stop.abort();
    await running;
  });

  it('retries a sweep that fails (Temporal down) sooner than the interval, and stops at once when told', async () => {
    let listedAll = () => {};
    const { world, clock, stop, running } = sweeping(new Promise<void>((r) => (listedAll = r)));
    const gone = world.create('gone');
    world.runWorkflow(gone);
    world.remove(gone.metadata.uid);
    world.temporal = 'down';
    listedAll();
    await clock.advance(5_000);
    const failed = world.attempts.filter((a) => a.uid === '').length;
    assert.ok(failed >= 2, `retried within seconds (${failed} attempts)`);
    world.temporal = 'none';
    await clock.advance(10_000);
    assert.deepEqual(world.callsOf(gone.metadata.uid), ['signal(objectGone)']);

    stop.abort();
    await running;
    assert.equal(clock.pending, 0, 'no timer left behind');
  });
});
