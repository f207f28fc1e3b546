// `npm run record-histories`: runs the database workflow through its main stories on the local
// Temporal dev server with stubbed activities and saves every run's history under
// test/replay/histories/. The replay test replays them against the current workflow code, so a
// change that breaks determinism fails CI. Re-record only for a deliberate, patched() change;
// `npm run record-histories -- <story>` records one story and keeps the others' old histories.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { WorkflowStartOptions } from '@temporalio/client';
import { connectTemporal } from '../../config/clients.js';
import { SEARCH_ATTRIBUTES } from '../../contracts/search-attributes.js';
import { loadConfig } from '../../config/config.js';
import {
  approveSignal,
  deleteSignal,
  specChangedSignal,
  statusQuery,
  type DatabaseSnapshot,
  type DatabaseWorkflowInput,
} from '../../contracts/workflow.js';
import { fakeWorld, type FakeWorld } from '../workflows/fake-world.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const config = loadConfig(process.env, ['temporal']);
const temporalCli = process.env['RDSFLOW_TEMPORAL_CLI'] ?? 'temporal';
const out = fileURLToPath(new URL('./histories/', import.meta.url));
mkdirSync(out, { recursive: true });

const client = await connectTemporal(config.temporal);
const connection = await NativeConnection.connect({ address: config.temporal.address });

function object(spec: Record<string, unknown>, generation = 1): DatabaseSnapshot {
  return {
    metadata: { namespace: 'replay', name: 'orders', uid: randomUUID(), generation },
    spec: { engine: 'postgres', ...spec },
    // the watcher hands on the object's version (status writes need no read first)
    seen: { resourceVersion: '1041' },
  };
}

async function waitFor(
  workflowId: string,
  done: (phase: string, step: string) => boolean,
): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const s = await client.workflow
      .getHandle(workflowId)
      .query(statusQuery)
      .catch(() => undefined);
    if (s && done(s.phase, s.step)) return;
    await sleep(50);
  }
  throw new Error(`${workflowId} did not get there`);
}

const only = process.argv.slice(2);

async function record(
  name: string,
  setup: (w: FakeWorld) => void,
  story: (workflowId: string, o: DatabaseSnapshot) => Promise<void>,
  spec: Record<string, unknown>,
  startOptions: Partial<WorkflowStartOptions> = {},
) {
  if (only.length > 0 && !only.includes(name)) return;
  const world = fakeWorld();
  setup(world);
  const taskQueue = `record-${name}-${randomUUID()}`;
  const workflowId = `replay-${name}-${randomUUID()}`;
  const o = object(spec);
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../../workflows/database.ts', import.meta.url)),
    activities: world.activities,
  });
  await worker.runUntil(async () => {
    const input: DatabaseWorkflowInput = { stage: 'provision', object: o };
    await client.workflow.start('databaseWorkflow', {
      ...startOptions,
      taskQueue,
      workflowId,
      args: [input],
    });
    await story(workflowId, o);
  });
  let run = 0;
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    // the temporal CLI writes the canonical proto3 JSON that replay reads
    const json = execFileSync(temporalCli, [
      ...['workflow', 'show', '--output', 'json', '--address', config.temporal.address],
      ...['--workflow-id', workflowId, '--run-id', execution.runId],
    ]);
    writeFileSync(`${out}${name}-${run++}.json`, json);
  }
  process.stdout.write(`recorded ${name}: ${run} runs\n`);
}

/** Available, a new generation applied, Available again, then deleted. */
async function provisionModifyDelete(id: string, o: DatabaseSnapshot): Promise<void> {
  await waitFor(id, (phase, step) => phase === 'Available' && step === 'waitForChange');
  await client.workflow.getHandle(id).signal(specChangedSignal, {
    metadata: { ...o.metadata, generation: 2 },
    spec: { engine: 'postgres', storageGiB: 40 },
  });
  await sleep(500);
  await waitFor(id, (phase, step) => phase === 'Available' && step === 'waitForChange');
  await client.workflow.getHandle(id).signal(deleteSignal);
  await client.workflow.getHandle(id).result();
}

await record('provision-modify-delete', () => {}, provisionModifyDelete, {
  deletionPolicy: 'Delete',
});

await record(
  'bad-spec-then-delete',
  () => {},
  async (id) => {
    await waitFor(id, (phase) => phase === 'Failed');
    await client.workflow.getHandle(id).signal(deleteSignal);
    await client.workflow.getHandle(id).result();
  },
  { storageGiB: 5 },
);

await record(
  'cancel-during-wait',
  (w) => {
    w.rds = 'not-yet';
    w.pollDelay = '1 second';
  },
  async (id) => {
    await waitFor(id, (_phase, step) => step === 'waitUntilAvailable');
    await client.workflow.getHandle(id).cancel();
    await client.workflow
      .getHandle(id)
      .result()
      .catch(() => undefined);
  },
  { deletionPolicy: 'Snapshot' },
);

await record(
  'delete-during-provisioning',
  (w) => {
    w.rds = 'not-yet';
    w.pollDelay = '1 second';
  },
  async (id) => {
    await waitFor(id, (_phase, step) => step === 'waitUntilAvailable');
    await client.workflow.getHandle(id).signal(deleteSignal);
    await client.workflow.getHandle(id).result();
  },
  {},
);

// since patched('finalizer-gone-means-delete'): an object gone before it was guarded
await record(
  'object-gone-before-finalizer',
  (w) => (w.objectGone = true),
  async (id) => {
    await client.workflow.getHandle(id).result();
  },
  { deletionPolicy: 'Delete' },
);

// since patched('search-attribute-phase'): started with the search attributes, as the watcher
// does on a namespace that has them registered
await record(
  'search-attributes',
  () => {},
  async (id) => {
    await waitFor(id, (phase, step) => phase === 'Available' && step === 'waitForChange');
    await client.workflow.getHandle(id).signal(deleteSignal);
    await client.workflow.getHandle(id).result();
  },
  { deletionPolicy: 'Delete' },
  {
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.namespace, value: 'replay' },
      { key: SEARCH_ATTRIBUTES.name, value: 'orders' },
      { key: SEARCH_ATTRIBUTES.engine, value: 'postgres' },
      { key: SEARCH_ATTRIBUTES.phase, value: 'Pending' },
    ],
  },
);

// since the ownership and approval patches (issue 9): each new path has a story of its own
await record(
  'approval-rebinding',
  () => {},
  async (id, o) => {
    await waitFor(id, (phase) => phase === 'AwaitingApproval');
    await client.workflow.getHandle(id).signal(specChangedSignal, {
      metadata: { ...o.metadata, generation: 2 },
      spec: { engine: 'postgres', requireApproval: true, storageGiB: 40 },
    });
    await sleep(500);
    await client.workflow.getHandle(id).signal(approveSignal, { by: 'replay', generation: 2 });
    await waitFor(id, (phase, step) => phase === 'Available' && step === 'waitForChange');
    await client.workflow.getHandle(id).signal(deleteSignal);
    await client.workflow.getHandle(id).result();
  },
  { requireApproval: true, deletionPolicy: 'Delete' },
);

await record(
  'retain-then-delete',
  () => {},
  async (id, o) => {
    await waitFor(id, (phase, step) => phase === 'Available' && step === 'waitForChange');
    // the delete request carries the object as last seen
    await client.workflow.getHandle(id).signal(deleteSignal, {
      metadata: { ...o.metadata, generation: 1 },
      spec: { engine: 'postgres', deletionPolicy: 'Retain' },
    });
    await client.workflow.getHandle(id).result();
  },
  { deletionPolicy: 'Retain' },
);

await record(
  'foreign-instance-then-delete',
  (w) => (w.foreignInstance = true),
  async (id) => {
    await waitFor(id, (phase) => phase === 'Failed');
    await client.workflow.getHandle(id).signal(deleteSignal);
    await client.workflow.getHandle(id).result();
  },
  { deletionPolicy: 'Delete' },
);

await record(
  'cancel-in-failed',
  (w) => (w.rds = 'storage-full'),
  async (id) => {
    await waitFor(id, (phase) => phase === 'Failed');
    await client.workflow.getHandle(id).cancel();
    await client.workflow
      .getHandle(id)
      .result()
      .catch(() => undefined);
  },
  { deletionPolicy: 'Delete' },
);

await record(
  'seen-version-provision-delete',
  () => {},
  async (id, o) => {
    // no status write just to say Pending; the watcher's version handed to the status writes
    await waitFor(id, (phase, step) => phase === 'Available' && step === 'waitForChange');
    await client.workflow.getHandle(id).signal(deleteSignal, {
      ...o,
      seen: { resourceVersion: '1042' },
    });
    await client.workflow.getHandle(id).result();
  },
  { deletionPolicy: 'Delete' },
);

// every status write a local activity (a marker each): provision, modify, then delete
await record('local-status-writes', () => {}, provisionModifyDelete, { deletionPolicy: 'Delete' });

await connection.close();
await client.connection.close();
