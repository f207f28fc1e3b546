// Two watchers at once: without leader election both act and nothing is duplicated (the
// workflow ID is the object's, starts reuse the running execution); with it, one leads, the
// other stands by and takes over when the leader stops or dies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../config/clients.js';
import type { DatabaseObject } from '../../contracts/database.js';
import { config, eventually, uniqueName } from '../support/env.js';
import { health, metric, startWatcher, type AppProcess } from '../support/processes.js';
import { Watched } from '../support/watched.js';

describe('two watchers', () => {
  let client: Client;
  const fixtures: Watched[] = [];
  const running: AppProcess[] = [];

  before(async () => {
    client = await connectTemporal(config.temporal);
  });

  after(async () => {
    for (const w of running) await w.kill();
    for (const f of fixtures) await f.cleanup();
    await client.connection.close();
  });

  async function watcher(watched: Watched, env: Record<string, string> = {}) {
    const w = await startWatcher({ taskQueue: watched.taskQueue, selector: watched.selector, env });
    running.push(w);
    return w;
  }

  const state = async (w: AppProcess) => (await health(w)).body['watcher'];

  it('both active: one workflow per object, each change told, nothing started twice', async () => {
    const watched = await Watched.create(client);
    fixtures.push(watched);
    const [a, b] = await Promise.all([watcher(watched), watcher(watched)]);
    const objects = await Promise.all(
      Array.from({ length: 12 }, (_, i) => watched.create(`ha-${i}`)),
    );
    await eventually('12 workflows', async () =>
      (await watched.workflows()).size === 12 ? true : undefined,
    );
    await Promise.all([0, 1, 2, 3].map((i) => watched.patchSpec(`ha-${i}`, { storageGiB: 25 })));
    await Promise.all([4, 5].map((i) => watched.remove(`ha-${i}`)));
    const records = await eventually(
      'changes told',
      async () => {
        const found = await watched.workflows();
        const told = objects
          .slice(0, 6)
          .every((o) => (found.get(watched.workflowIdOf(o))?.signals.length ?? 0) > 0);
        return told ? found : undefined;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const final = await watched.workflows();
    assert.equal(final.size, records.size);
    for (const record of final.values()) {
      assert.equal(record.runs, 1, `${record.workflowId}: started once`);
    }
    const signals = (o: DatabaseObject) => final.get(watched.workflowIdOf(o))?.signals ?? [];
    for (const o of objects.slice(0, 4)) {
      // each watcher may tell it; the workflow takes the newest generation, so twice is once
      assert.ok(signals(o).length <= 2);
      assert.ok(signals(o).every((s) => s.name === 'specChanged' && s.generation === 2));
    }
    for (const o of objects.slice(4, 6)) {
      assert.ok(signals(o).length <= 2 && signals(o).every((s) => s.name === 'delete'));
    }
    for (const o of objects.slice(6)) assert.deepEqual(signals(o), []);
    const calls = async (w: AppProcess) =>
      metric(w, 'rdsflow_watcher_temporal_calls_total', { outcome: 'ok' });
    process.stdout.write(`# Temporal calls: watcher A ${await calls(a)}, B ${await calls(b)}\n`);
  });

  it('with leader election one leads, the other stands by and takes over', async () => {
    const watched = await Watched.create(client);
    fixtures.push(watched);
    const env = { RDSFLOW_LEADER_ELECTION: 'true', RDSFLOW_LEASE_NAME: uniqueName('lease') };
    const first = await watcher(watched, { ...env, RDSFLOW_WATCHER_ID: 'first' });
    await eventually('first leads', async () =>
      (await state(first)) === 'watching' ? true : undefined,
    );
    const second = await watcher(watched, { ...env, RDSFLOW_WATCHER_ID: 'second' });
    await eventually('second stands by', async () =>
      (await state(second)) === 'standby' ? true : undefined,
    );
    assert.equal((await health(second)).status, 200, 'a standby is healthy');

    await Promise.all([watched.create('l0'), watched.create('l1')]);
    await eventually('started by the leader', async () =>
      (await watched.workflows()).size === 2 ? true : undefined,
    );
    assert.equal(await metric(first, 'rdsflow_watcher_leader'), 1);
    assert.equal(await metric(second, 'rdsflow_watcher_leader'), 0);
    assert.equal(await metric(second, 'rdsflow_watcher_temporal_calls_total'), 0);

    // a graceful stop hands the lease over at once
    assert.equal(await first.stop(), 0);
    await eventually(
      'second takes over',
      async () => ((await state(second)) === 'watching' ? true : undefined),
      15_000,
    );
    await watched.create('l2');
    await eventually('started by the new leader', async () =>
      (await watched.workflows()).size === 3 ? true : undefined,
    );

    // a crashed leader's lease runs out (15 s) and a standby takes over
    const third = await watcher(watched, { ...env, RDSFLOW_WATCHER_ID: 'third' });
    await eventually('third stands by', async () =>
      (await state(third)) === 'standby' ? true : undefined,
    );
    await second.kill();
    await watched.create('l3');
    await eventually(
      'third takes over after the lease expires',
      async () => ((await state(third)) === 'watching' ? true : undefined),
      40_000,
    );
    await eventually('started after the crash', async () =>
      (await watched.workflows()).size === 4 ? true : undefined,
    );
    for (const record of (await watched.workflows()).values()) assert.equal(record.runs, 1);
  });
});
