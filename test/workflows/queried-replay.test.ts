// Histories made while queries arrive replay. A query that lands while a local activity runs
// makes the SDK close the workflow task early, so a history's task boundaries depend on when
// people look (`rdsflow status`, the Temporal UI); code that calls patched() for the first time
// between two local activities then writes histories that no longer replay (TMPRL1100), and a
// workflow would stall at its next replay (a worker restart, a cache eviction). The workflow on
// the real dev server, with stubbed activities and a slowed status write, its status queried
// without pause through provision, modify and delete; then every run replays against the
// shipped bundle.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { connectTemporal } from '../../config/clients.js';
import { BUNDLE_FILE } from '../../worker/bundle.js';
import {
  deleteSignal,
  specChangedSignal,
  statusQuery,
  type ObjectView,
  type DatabaseWorkflowInput,
} from '../../contracts/workflow.js';
import { built } from '../support/built.js';
import { config, uniqueName } from '../support/env.js';
import { fakeWorld } from './fake-world.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const DATABASES = 6;
/** a workflow task the SDK closed early and the server handed straight back */
const HANDED_BACK = 'request-from-RespondWorkflowTaskCompleted';

describe('workflow histories made under queries', () => {
  it('replay against the shipped bundle, every run of every stage', async () => {
    const client = await connectTemporal(config.temporal);
    const connection = await NativeConnection.connect({ address: config.temporal.address });
    const world = fakeWorld();
    // a status write that takes a while: room for a query to land while it runs
    const write = world.activities.reportStatus;
    world.activities.reportStatus = async (...args: Parameters<typeof write>) => {
      await sleep(40);
      return write(...args);
    };
    // each database's object as the fake apiserver has it, read back by its workflow
    const objects = new Map<string, ObjectView>();
    const deleting = new Set<string>();
    world.activities.readObject = (ref) => {
      const object = objects.get(ref.uid);
      if (!object) return Promise.resolve({ state: 'gone' as const });
      return Promise.resolve({ state: deleting.has(ref.uid) ? 'deleting' : 'present', object });
    };
    const taskQueue = uniqueName('queried');
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('../../workflows/database.ts', import.meta.url)),
      activities: world.activities,
    });
    const ids: string[] = [];
    try {
      await worker.runUntil(
        Promise.all(
          Array.from({ length: DATABASES }, async () => {
            const object: ObjectView = {
              metadata: { namespace: 'shop', name: 'orders', uid: randomUUID(), generation: 1 },
              spec: { engine: 'postgres', deletionPolicy: 'Delete' },
              version: { resourceVersion: '1' },
            };
            objects.set(object.metadata.uid, object);
            const workflowId = `${taskQueue}/${object.metadata.uid}`;
            ids.push(workflowId);
            const input: DatabaseWorkflowInput = { stage: 'provision', object };
            await client.workflow.start('databaseWorkflow', {
              taskQueue,
              workflowId,
              args: [input],
            });
            const handle = client.workflow.getHandle(workflowId);
            const status = () => handle.query(statusQuery).catch(() => undefined);
            let done = false;
            const watching = (async () => {
              while (!done) await status();
            })();
            // serving the generation: a slow machine may not have begun the modify yet
            const serving = async (generation: number) => {
              for (
                let s = await status();
                s?.phase !== 'Available' ||
                s.step !== 'waitForChange' ||
                s.observedGeneration !== generation;
                s = await status()
              )
                await sleep(5);
            };
            await serving(1);
            const edited: ObjectView = {
              ...object,
              metadata: { ...object.metadata, generation: 2 },
              spec: { engine: 'postgres', deletionPolicy: 'Delete', storageGiB: 40 },
            };
            // what the apiserver shows when the workflow reads the object back
            objects.set(object.metadata.uid, edited);
            await handle.signal(specChangedSignal, edited);
            await serving(2);
            // the user deletes it: the object read back is being deleted
            deleting.add(object.metadata.uid);
            await handle.signal(deleteSignal, object);
            await handle.result();
            done = true;
            await watching;
          }),
        ),
      );
      const histories: { workflowId: string; history: temporal.api.history.v1.IHistory }[] = [];
      for (const id of ids)
        for await (const run of client.workflow.list({ query: `WorkflowId = '${id}'` }))
          histories.push({
            workflowId: `${id}/${run.runId}`,
            history: await client.workflow.getHandle(id, run.runId).fetchHistory(),
          });
      // provision, serve, modify, serve, delete: five runs each
      assert.equal(histories.length, DATABASES * 5);
      const handedBack = histories.flatMap(({ history }) =>
        (history.events ?? []).filter(
          (e) => e.workflowTaskStartedEventAttributes?.requestId === HANDED_BACK,
        ),
      );
      // the condition under test happened: queries did close workflow tasks early
      assert.ok(handedBack.length > 0, 'no workflow task was closed early by a query');
      const failures: string[] = [];
      for await (const result of Worker.runReplayHistories(
        { workflowBundle: { codePath: built(BUNDLE_FILE) } },
        histories,
      ))
        if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
      assert.deepEqual(failures, []);
    } finally {
      await connection.close();
      await client.connection.close();
    }
  });
});
