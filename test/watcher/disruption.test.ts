// @exclusive: restarts the kube-apiserver and stops Temporal, which every test shares
// Nothing missed, nothing doubled: the watch connection cut by an apiserver restart while the
// watcher is frozen (so it resumes from a version the restarted server no longer has: 410 Gone,
// relist), the watcher killed while objects change, Temporal down while objects arrive.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../config/clients.js';
import type { DatabaseObject } from '../../contracts/database.js';
import { layoutFrom } from '../../infra/layout.js';
import { stop, up } from '../../infra/stack.js';
import { config, eventually } from '../support/env.js';
import { health, metric, startWatcher, type AppProcess } from '../support/processes.js';
import { Watched, type WorkflowRecord } from '../support/watched.js';

const layout = layoutFrom(process.env);
const quiet = () => undefined;

async function restart(server: string): Promise<void> {
  await stop(layout, quiet, [server]);
  await up(layout, quiet);
}

/** Waits until `check` holds for the workflows of `watched`, and returns them. */
async function converged(
  watched: Watched,
  what: string,
  check: (records: Map<string, WorkflowRecord>) => boolean,
  timeoutMs = 60_000,
): Promise<Map<string, WorkflowRecord>> {
  return eventually(
    what,
    async () => {
      const records = await watched.workflows();
      return check(records) ? records : undefined;
    },
    timeoutMs,
  );
}

function signalsOf(records: Map<string, WorkflowRecord>, watched: Watched, object: DatabaseObject) {
  return records.get(watched.workflowIdOf(object))?.signals ?? [];
}

describe('the watcher under disruption', () => {
  let client: Client;
  const fixtures: Watched[] = [];
  const watchers: AppProcess[] = [];

  before(async () => {
    client = await connectTemporal(config.temporal);
  });

  after(async () => {
    for (const w of watchers) await w.kill();
    for (const f of fixtures) await f.cleanup();
    await client.connection.close();
  });

  async function setUp(): Promise<{ watched: Watched; watcher: AppProcess }> {
    const watched = await Watched.create(client);
    fixtures.push(watched);
    const watcher = await startWatcher({
      taskQueue: watched.taskQueue,
      selector: watched.selector,
    });
    watchers.push(watcher);
    await eventually('watcher ready', async () =>
      (await health(watcher)).status === 200 ? true : undefined,
    );
    return { watched, watcher };
  }

  it('misses nothing when the apiserver restarts while objects change (resume, 410, relist)', async () => {
    const { watched, watcher } = await setUp();
    const early = await Promise.all([0, 1, 2, 3, 4].map((i) => watched.create(`a${i}`)));
    await converged(watched, 'first workflows', (r) => r.size === early.length);

    // frozen: its watch goes stale; everything below happens behind its back
    watcher.freeze();
    const [a0, a1, a2, a3] = early as [
      DatabaseObject,
      DatabaseObject,
      DatabaseObject,
      DatabaseObject,
    ];
    const frozen = await Promise.all([watched.create('b0'), watched.create('b1')]);
    await watched.patchSpec('a0', { storageGiB: 30 });
    await watched.releaseFinalizers('a1');
    await watched.remove('a1'); // gone for good: only a relist can notice
    await watched.remove('a2'); // held by the finalizer, deleting
    await restart('kube-apiserver');
    const afterRestart = await watched.create('c0');
    await watched.patchSpec('a3', { storageGiB: 35 });
    watcher.thaw();

    const records = await converged(
      watched,
      'every change delivered',
      (r) =>
        r.size === early.length + frozen.length + 1 &&
        signalsOf(r, watched, a0).length > 0 &&
        signalsOf(r, watched, a1).length > 0 &&
        signalsOf(r, watched, a2).length > 0 &&
        signalsOf(r, watched, a3).length > 0,
    );
    assert.deepEqual(signalsOf(records, watched, a0), [{ name: 'specChanged', generation: 2 }]);
    // a1 went without a deletionTimestamp (its finalizer removed by hand), told by a DELETED
    // event or missed by the relist and read back: gone, never a delete
    assert.deepEqual(signalsOf(records, watched, a1), [{ name: 'objectGone' }]);
    // deletion bumps a2's generation
    assert.deepEqual(signalsOf(records, watched, a2), [{ name: 'delete', generation: 2 }]);
    assert.deepEqual(signalsOf(records, watched, a3), [{ name: 'specChanged', generation: 2 }]);
    for (const object of [...frozen, afterRestart]) {
      assert.equal(records.get(watched.workflowIdOf(object))?.startGeneration, 1);
    }
    for (const record of records.values()) assert.equal(record.runs, 1, record.workflowId);
    assert.ok((await metric(watcher, 'rdsflow_watcher_errors_total', { stage: 'watch' })) >= 1);
    const relists = await metric(watcher, 'rdsflow_watcher_relists_total');
    process.stdout.write(`# relists after the apiserver restart: ${relists}\n`);
    assert.ok(relists >= 2, 'the stale resourceVersion led to a relist');
    assert.equal((await health(watcher)).status, 200);
  });

  it('converges after being killed while objects are created, changed and deleted', async () => {
    const { watched, watcher } = await setUp();
    const before = await Promise.all([0, 1, 2, 3].map((i) => watched.create(`k${i}`)));
    await converged(watched, 'first workflows', (r) => r.size === before.length);
    await watcher.kill();

    const [k0, k1, k2] = before as [DatabaseObject, DatabaseObject, DatabaseObject];
    const created = await Promise.all([watched.create('n0'), watched.create('n1')]);
    await watched.patchSpec('k0', { storageGiB: 30 });
    await watched.remove('k1'); // deleting, held by the finalizer
    await watched.releaseFinalizers('k2');
    await watched.remove('k2'); // vanished: found by the orphan check of running workflows

    const again = await startWatcher({ taskQueue: watched.taskQueue, selector: watched.selector });
    watchers.push(again);
    const records = await converged(
      watched,
      'converged after restart',
      (r) =>
        r.size === before.length + created.length &&
        signalsOf(r, watched, k0).length > 0 &&
        signalsOf(r, watched, k1).length > 0 &&
        signalsOf(r, watched, k2).length > 0,
    );
    assert.deepEqual(signalsOf(records, watched, k0), [{ name: 'specChanged', generation: 2 }]);
    assert.deepEqual(signalsOf(records, watched, k1), [{ name: 'delete', generation: 2 }]);
    assert.deepEqual(signalsOf(records, watched, k2), [{ name: 'objectGone' }]);
    for (const record of records.values()) assert.equal(record.runs, 1, record.workflowId);
    // unchanged objects: the restart's plain start reused the running workflow, no signal
    assert.deepEqual(signalsOf(records, watched, before[3] as DatabaseObject), []);
  });

  it('delivers what arrived while Temporal was down once it is back', async () => {
    const { watched, watcher } = await setUp();
    await stop(layout, quiet, ['temporal']);
    let created: DatabaseObject[];
    let late: AppProcess;
    try {
      created = await Promise.all([0, 1, 2].map((i) => watched.create(`t${i}`)));
      await eventually(
        'failed Temporal calls',
        async () =>
          (await metric(watcher, 'rdsflow_watcher_temporal_calls_total', { outcome: 'error' })) >= 3
            ? true
            : undefined,
        30_000,
      );
      // the watcher keeps serving: still ready, still watching
      assert.equal((await health(watcher)).status, 200);
      await watched.patchSpec('t0', { storageGiB: 30 });
      // one started during the outage runs, but is not ready: its first list is not delivered
      late = await startWatcher({ taskQueue: watched.taskQueue, selector: watched.selector });
      watchers.push(late);
      assert.equal((await fetch(`${late.httpUrl}/livez`)).status, 200);
      const early = await health(late);
      assert.equal(early.status, 503, JSON.stringify(early.body));
    } finally {
      await up(layout, quiet);
    }
    const started = late;
    await eventually(
      'the late watcher ready once Temporal is back',
      async () => ((await health(started)).status === 200 ? true : undefined),
      60_000,
    );
    const records = await converged(watched, 'delivered after the outage', (r) => r.size === 3);
    for (const object of created) {
      const record = records.get(watched.workflowIdOf(object));
      assert.ok(record, object.metadata.name);
      assert.equal(record.runs, 1);
    }
    // t0 changed while its first call was still failing: the retry carried the newest spec
    const t0 = records.get(watched.workflowIdOf(created[0] as DatabaseObject));
    const told = Math.max(
      t0?.startGeneration ?? 0,
      ...(t0?.signals ?? []).map((s) => s.generation ?? 0),
    );
    assert.equal(told, 2);
    assert.ok((await metric(watcher, 'rdsflow_watcher_retries_total')) >= 3);
  });
});
