// The time-skipping harness of the workflow tests: the workflow bundled once per file, a fresh
// test server per scenario (one scenario's workflows and clock can never hold up the next), a
// worker on the stubbed activities of fake-world.ts, and the helpers that drive and observe a
// database's story (its live status, its status writes, a user's delete).
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { before } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  DefaultLogger,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { DatabaseSpec } from '../../contracts/database.js';
import {
  deleteSignal,
  specChangedSignal,
  statusQuery,
  type ObjectView,
  type DatabaseWorkflowInput,
  type LiveStatus,
} from '../../contracts/workflow.js';
import type { databaseWorkflow } from '../../workflows/database.js';
import { tools, uniqueName } from '../support/env.js';
import { fakeWorld, type FakeWorld } from './fake-world.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });

let bundle: WorkflowBundleWithSourceMap;
// the scenario's environment: each gets a fresh test server, so one scenario's workflows and
// clock can never hold up the next
export let env: TestWorkflowEnvironment;
export let client: Client;

before(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../workflows/database.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
});

export type Handle = WorkflowHandle<typeof databaseWorkflow> & {
  readonly firstExecutionRunId: string;
};

export function objectView(
  spec: Partial<DatabaseSpec> | Record<string, unknown>,
  generation = 1,
  uid = randomUUID(),
): ObjectView {
  return {
    metadata: { namespace: 'shop', name: uniqueName('orders'), uid, generation },
    spec: { engine: 'postgres', ...spec },
  };
}

/** How a scenario's workflow starts: its ID (a random one) and stage (provision). */
export interface StartOptions {
  readonly workflowId?: string;
  readonly stage?: DatabaseWorkflowInput['stage'];
}

export async function scenario(
  setup: (world: FakeWorld) => void,
  body: (ctx: {
    world: FakeWorld;
    start: (object: ObjectView, options?: StartOptions) => Promise<Handle>;
  }) => Promise<void>,
): Promise<void> {
  const world = fakeWorld();
  setup(world);
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: tools.temporalTestServer } },
  });
  // NOTE: the test server answers the SDK's 30s keepalive pings with GOAWAY (too many pings),
  // which can stall a call for a minute; this client pings rarely
  const connection = await Connection.connect({
    address: env.address,
    channelArgs: { 'grpc.keepalive_time_ms': 600_000, 'grpc.keepalive_permit_without_calls': 0 },
  });
  client = new Client({ connection });
  const taskQueue = uniqueName('wf');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: world.activities,
  });
  const start = (object: ObjectView, options: StartOptions = {}) =>
    client.workflow.start<typeof databaseWorkflow>('databaseWorkflow', {
      taskQueue,
      workflowId: options.workflowId ?? uniqueName('db'),
      args: [{ stage: options.stage ?? 'provision', object }],
    }) as Promise<Handle>;
  try {
    await worker.runUntil(body({ world, start }));
  } finally {
    await connection.close();
    await env.teardown();
  }
}

/** Polls the live-status query (following continue-as-new) until `done` holds. */
export async function until(
  handle: Handle,
  what: string,
  done: (s: LiveStatus) => boolean,
): Promise<LiveStatus> {
  const latest = client.workflow.getHandle(handle.workflowId);
  const deadline = Date.now() + 20_000;
  let last: LiveStatus | undefined;
  while (Date.now() < deadline) {
    try {
      // NOTE: the test server can hold a query sent just as the run continues-as-new for a long
      // time; a short deadline and another try is faster
      last = await client.connection.withDeadline(Date.now() + 1_000, () =>
        latest.query(statusQuery),
      );
      if (done(last)) return last;
    } catch {
      // between runs of a continue-as-new chain the query can miss; ask again
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}`);
}

export const phases = (world: FakeWorld) => world.statuses.map((s) => s.phase);

/** The last status write, once it is of `phase`: the live query can run ahead of the write. */
export async function reported(world: FakeWorld, phase: string) {
  const deadline = Date.now() + 10_000;
  while (world.statuses.at(-1)?.phase !== phase) {
    if (Date.now() > deadline)
      throw new Error(`no ${phase} status written: ${phases(world).join(',')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return world.statuses.at(-1);
}

/**
 * A user deletes the object (the fake apiserver now shows its deletionTimestamp, and `object`
 * as its newest state) and the watcher says so to the workflow, following continue-as-new.
 */
export async function requestDelete(world: FakeWorld, handle: Handle, object: ObjectView) {
  world.kube = { state: 'deleting', object };
  await client.workflow.getHandle(handle.workflowId).signal(deleteSignal, object);
}

/**
 * A user edits the object: the fake apiserver shows the new generation, and the watcher says
 * so (the workflow reads the object back; the signal's payload is only a hint).
 */
export async function changeSpec(world: FakeWorld, handle: Handle, object: ObjectView) {
  world.kube = { state: 'present', object };
  await client.workflow.getHandle(handle.workflowId).signal(specChangedSignal, object);
}

/** Deletes the object (requestDelete) and returns the workflow's final result. */
export async function deleted(world: FakeWorld, handle: Handle, object: ObjectView) {
  await requestDelete(world, handle, object);
  return client.workflow.getHandle<typeof databaseWorkflow>(handle.workflowId).result();
}

export const result = (handle: Handle) =>
  client.workflow.getHandle<typeof databaseWorkflow>(handle.workflowId).result();
