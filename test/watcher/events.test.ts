// The watcher against the real kube-apiserver and Temporal dev server (no worker: each workflow
// stays at its start, so its history shows exactly what the watcher told it). Objects are
// created, changed, status-patched and deleted; the right workflows and signals, and only them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../config/clients.js';
import { FINALIZER } from '../../contracts/names.js';
import { eventually, config } from '../support/env.js';
import { health, metric, startWatcher, type AppProcess } from '../support/processes.js';
import { Watched, type WorkflowRecord } from '../support/watched.js';

const N = 24;

describe('the watcher turns each Database event into the right Temporal call', () => {
  let client: Client;
  let watched: Watched;
  let watcher: AppProcess | undefined;

  before(async () => {
    client = await connectTemporal(config.temporal);
    watched = await Watched.create(client);
  });

  after(async () => {
    assert.equal(await watcher?.stop(), 0, 'a SIGTERM stop exits 0');
    await watched.cleanup();
    await client.connection.close();
  });

  it('is ready only after its first list, and starts one workflow per object', async () => {
    // objects that exist before the watcher starts are found by its first list
    await Promise.all([watched.create('pre-0'), watched.create('pre-1')]);
    watcher = await startWatcher({ taskQueue: watched.taskQueue, selector: watched.selector });
    await eventually('watcher ready', async () =>
      (await health(watcher as AppProcess)).status === 200 ? true : undefined,
    );
    const created = await Promise.all(
      Array.from({ length: N }, (_, i) => watched.create(`db-${i}`)),
    );
    const expected = new Set(
      [
        ...created,
        ...(await watched.objects()).filter((o) => o.metadata.name.includes('-pre-')),
      ].map((o) => watched.workflowIdOf(o)),
    );
    const workflows = await eventually(
      `${expected.size} workflows`,
      async () => {
        const found = await watched.workflows();
        return found.size >= expected.size ? found : undefined;
      },
      30_000,
    );
    assert.deepEqual(new Set(workflows.keys()), expected);
    for (const record of workflows.values()) {
      assert.equal(record.runs, 1, `${record.workflowId}: one run`);
      assert.equal(record.startStage, 'provision');
      assert.equal(record.startGeneration, 1);
      assert.deepEqual(record.signals, [], `${record.workflowId}: no signal for a new object`);
    }
    // the finalizer is on every object before anything is provisioned
    for (const object of await watched.objects()) {
      assert.ok(object.metadata.finalizers?.includes(FINALIZER), object.metadata.name);
    }
  });

  it('signals spec changes once, ignores status-only changes, asks deleting objects to delete', async () => {
    const objects = await watched.objects();
    const byName = new Map(objects.map((o) => [o.metadata.name, o]));
    const changed = [0, 1, 2, 3, 4, 5].map((i) => `db-${i}`);
    const statusOnly = [6, 7, 8].map((i) => `db-${i}`);
    const deleted = [9, 10, 11].map((i) => `db-${i}`);
    await Promise.all([
      ...changed.map((s) => watched.patchSpec(s, { storageGiB: 40 })),
      ...statusOnly.map((s) => watched.patchStatus(s, { message: 'touched by a test' })),
      ...deleted.map((s) => watched.remove(s)),
    ]);
    // two changes in a row on one object: generation 3 is what counts, in order
    await watched.patchSpec('db-0', { storageGiB: 50 });

    const idOf = (suffix: string) => {
      const object = byName.get(watched.name(suffix));
      assert.ok(object, suffix);
      return watched.workflowIdOf(object);
    };
    const settled = (records: Map<string, WorkflowRecord>) =>
      [...changed, ...deleted].every((s) => (records.get(idOf(s))?.signals.length ?? 0) > 0) &&
      (records.get(idOf('db-0'))?.signals.at(-1)?.generation ?? 0) >= 3;
    const records = await eventually(
      'signals delivered',
      async () => {
        const found = await watched.workflows();
        return settled(found) ? found : undefined;
      },
      30_000,
    );
    // let any stray extra signal arrive before counting
    await new Promise((r) => setTimeout(r, 1_000));
    const final = await watched.workflows();
    for (const suffix of changed.slice(1)) {
      assert.deepEqual(final.get(idOf(suffix))?.signals, [{ name: 'specChanged', generation: 2 }]);
    }
    const first = final.get(idOf('db-0'))?.signals ?? [];
    assert.deepEqual(
      first.map((s) => s.generation),
      first.length === 1 ? [3] : [2, 3],
      'generations arrive in order, possibly coalesced',
    );
    for (const suffix of statusOnly) assert.deepEqual(final.get(idOf(suffix))?.signals, []);
    for (const suffix of deleted) {
      // the object as last observed goes with the delete (deletion bumps the generation)
      assert.deepEqual(final.get(idOf(suffix))?.signals, [{ name: 'delete', generation: 2 }]);
      // the finalizer holds the object until the workflow (none runs here) releases it
      const object = (await watched.objects()).find(
        (o) => o.metadata.name === watched.name(suffix),
      );
      assert.ok(object?.metadata.deletionTimestamp, `${suffix} is held by the finalizer`);
    }
    assert.equal(records.size, final.size, 'no new workflow for changes or deletes');
    for (const record of final.values()) assert.equal(record.runs, 1);
  });

  it('tells the workflow of an object whose finalizer was removed by hand that it is gone: never a delete', async () => {
    const object = (await watched.objects()).find((o) => o.metadata.name === watched.name('db-12'));
    assert.ok(object);
    await watched.releaseFinalizers('db-12');
    await watched.remove('db-12');
    const signals = await eventually('objectGone signal', async () => {
      const record = (await watched.workflows()).get(watched.workflowIdOf(object));
      return record && record.signals.length > 0 ? record.signals : undefined;
    });
    // deleted without a deletionTimestamp (no finalizer held it): no delete was proven, and
    // the workflow orphans the database
    assert.deepEqual(signals, [{ name: 'objectGone' }]);
  });

  it('reports what it did in /metrics', async () => {
    const w = watcher as AppProcess;
    assert.ok((await metric(w, 'rdsflow_watcher_events_total', { type: 'ADDED' })) >= N);
    assert.ok((await metric(w, 'rdsflow_watcher_events_total', { type: 'LISTED' })) >= 2);
    assert.ok((await metric(w, 'rdsflow_watcher_actions_total', { action: 'none' })) >= 3);
    assert.equal(
      await metric(w, 'rdsflow_watcher_temporal_calls_total', { call: 'start', outcome: 'ok' }),
      N + 2,
    );
    assert.ok((await metric(w, 'rdsflow_watcher_lag_seconds_count')) >= N + 2);
    assert.equal(await metric(w, 'rdsflow_watcher_temporal_calls_total', { outcome: 'error' }), 0);
  });
});
