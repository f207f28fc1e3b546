// `npm run record-histories`: runs the database workflow through its main stories on the local
// Temporal dev server with stubbed activities and saves every run's history under
// test/replay/histories/. The replay test replays them against the current workflow code, so a
// change that breaks determinism fails CI. Until the first release the workflow changes freely
// and every story is recorded again (docs/testing.md); `npm run record-histories -- <story>`
// records one story and keeps the others' histories.
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
import { workflowIdFor } from '../../contracts/names.js';
import {
  approveSignal,
  deleteSignal,
  objectGoneSignal,
  specChangedSignal,
  statusQuery,
  type ObjectView,
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

const CLUSTER = 'replay-cluster';

function object(spec: Record<string, unknown>, generation = 1): ObjectView {
  return {
    metadata: { namespace: 'replay', name: 'orders', uid: randomUUID(), generation },
    spec: { engine: 'postgres', ...spec },
    // the watcher names the object's cluster, and hands on its version (no read before writes)
    cluster: CLUSTER,
    version: { resourceVersion: '1041' },
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
  story: (workflowId: string, o: ObjectView, world: FakeWorld) => Promise<void>,
  spec: Record<string, unknown>,
  startOptions: Partial<WorkflowStartOptions> = {},
) {
  if (only.length > 0 && !only.includes(name)) return;
  const world = fakeWorld();
  setup(world);
  const taskQueue = `record-${name}-${randomUUID()}`;
  const o = object(spec);
  // the ID the watcher gives it: the workflow checks its input names the same object
  const workflowId = workflowIdFor(o.metadata, CLUSTER);
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
    await story(workflowId, o, world);
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

/** A user edits the object: the fake apiserver shows the new generation, the watcher says so. */
async function userEdits(id: string, world: FakeWorld, o: ObjectView): Promise<void> {
  world.kube = { state: 'present', object: o };
  await client.workflow.getHandle(id).signal(specChangedSignal, o);
}

/** A user deletes the object: the fake apiserver shows it being deleted, the watcher says so. */
async function userDeletes(id: string, world: FakeWorld, o: ObjectView): Promise<void> {
  world.kube = { state: 'deleting', object: o };
  await client.workflow.getHandle(id).signal(deleteSignal, o);
}

const serving = (id: string) =>
  waitFor(id, (phase, step) => phase === 'Available' && step === 'waitForChange');

const ended = (id: string) =>
  client.workflow
    .getHandle(id)
    .result()
    .catch(() => undefined);

/** Available, a new generation applied, Available again, then deleted (as the watcher starts it). */
await record(
  'provision-modify-delete',
  () => {},
  async (id, o, world) => {
    await serving(id);
    await userEdits(id, world, {
      ...o,
      metadata: { ...o.metadata, generation: 2 },
      spec: { engine: 'postgres', storageGiB: 40, deletionPolicy: 'Delete' },
    });
    await sleep(500);
    await serving(id);
    await userDeletes(id, world, { ...o, metadata: { ...o.metadata, generation: 2 } });
    await ended(id);
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

await record(
  'bad-spec-then-delete',
  () => {},
  async (id, o, world) => {
    await waitFor(id, (phase) => phase === 'Failed');
    await userDeletes(id, world, o);
    await ended(id);
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
    await ended(id);
  },
  { deletionPolicy: 'Snapshot' },
);

await record(
  'delete-during-provisioning',
  (w) => {
    w.rds = 'not-yet';
    w.pollDelay = '1 second';
  },
  async (id, o, world) => {
    await waitFor(id, (_phase, step) => step === 'waitUntilAvailable');
    await userDeletes(id, world, o);
    await ended(id);
  },
  {},
);

// gone before it was guarded, without a delete: orphaned, nothing created or deleted
await record(
  'object-gone-before-finalizer',
  (w) => {
    w.objectGone = true;
    w.kube = { state: 'gone' };
  },
  async (id) => {
    await ended(id);
  },
  { deletionPolicy: 'Delete' },
);

// the finalizer removed by hand while serving: the watcher reports the object gone
await record(
  'object-gone-while-serving',
  () => {},
  async (id, o, world) => {
    await serving(id);
    world.kube = { state: 'gone' };
    await client.workflow
      .getHandle(id)
      .signal(objectGoneSignal, { metadata: o.metadata, cluster: CLUSTER });
    await ended(id);
  },
  { deletionPolicy: 'Delete' },
);

// signals naming another object, a delete of an object not being deleted: refused, then served
await record(
  'refused-signals',
  () => {},
  async (id, o, world) => {
    await serving(id);
    const other = { ...o, metadata: { ...o.metadata, uid: randomUUID() } };
    await client.workflow.getHandle(id).signal(specChangedSignal, other);
    await client.workflow.getHandle(id).signal(deleteSignal, { ...o, cluster: 'elsewhere' });
    await client.workflow.getHandle(id).signal(deleteSignal, o);
    await client.workflow.getHandle(id).signal(approveSignal, {});
    await sleep(1_000);
    await serving(id);
    await userDeletes(id, world, o);
    await ended(id);
  },
  { deletionPolicy: 'Delete' },
);

await record(
  'approval-rebinding',
  () => {},
  async (id, o, world) => {
    await waitFor(id, (phase) => phase === 'AwaitingApproval');
    const next = {
      ...o,
      metadata: { ...o.metadata, generation: 2 },
      spec: {
        engine: 'postgres',
        requireApproval: true,
        storageGiB: 40,
        deletionPolicy: 'Snapshot',
      },
    };
    await userEdits(id, world, next);
    await sleep(500);
    // an approval naming no generation is refused, visibly
    await client.workflow.getHandle(id).signal(approveSignal, { by: 'replay' });
    await client.workflow.getHandle(id).signal(approveSignal, { by: 'replay', generation: 2 });
    await serving(id);
    // an unapproved weaker policy, then the delete: the approved policy applies
    const weaker = {
      ...next,
      metadata: { ...o.metadata, generation: 3 },
      spec: { ...next.spec, requireApproval: false, deletionPolicy: 'Delete' },
    };
    await userEdits(id, world, weaker);
    await waitFor(id, (phase) => phase === 'AwaitingApproval');
    await userDeletes(id, world, weaker);
    await ended(id);
  },
  { requireApproval: true, deletionPolicy: 'Delete' },
);

await record(
  'retain-then-delete',
  () => {},
  async (id, o, world) => {
    await serving(id);
    await userDeletes(id, world, { ...o, spec: { engine: 'postgres', deletionPolicy: 'Retain' } });
    await ended(id);
  },
  { deletionPolicy: 'Retain' },
);

await record(
  'foreign-instance-then-delete',
  (w) => (w.foreignInstance = true),
  async (id, o, world) => {
    await waitFor(id, (phase) => phase === 'Failed');
    await userDeletes(id, world, o);
    await ended(id);
  },
  { deletionPolicy: 'Delete' },
);

await record(
  'cancel-in-failed',
  (w) => (w.rds = 'storage-full'),
  async (id) => {
    await waitFor(id, (phase) => phase === 'Failed');
    await client.workflow.getHandle(id).cancel();
    await ended(id);
  },
  { deletionPolicy: 'Delete' },
);

// an adoption cancelled while it waits: what it took is given back
await record(
  'cancelled-adoption',
  (w) => {
    w.adopt = true;
    w.adoptFrom = randomUUID();
    w.rds = 'not-yet';
    w.pollDelay = '1 second';
  },
  async (id) => {
    await waitFor(id, (_phase, step) => step === 'waitUntilAvailable');
    await client.workflow.getHandle(id).cancel();
    await ended(id);
  },
  { deletionPolicy: 'Delete', adoptRetained: true },
);

// a cancel during a deletion is refused: the deletion finishes
await record(
  'cancel-during-delete',
  () => {},
  async (id, o, world) => {
    await serving(id);
    world.deleteWaits = 3;
    await userDeletes(id, world, o);
    await waitFor(id, (_phase, step) => step === 'waitUntilDeleted');
    await client.workflow.getHandle(id).cancel();
    await ended(id);
  },
  { deletionPolicy: 'Snapshot' },
);

await connection.close();
await client.connection.close();
