// `npm run bench` (second part; alone: `tsx bench/provision.ts [N]`): rdsflow's own overhead
// from apply to Available, with an RDS that answers at once (the worker talks to moto directly,
// not to the realistic front), and what it asks of the apiserver per database, counted from the
// apiserver's own /metrics (apiserver_request_total): the GETs, PATCHes and Event POSTs of the
// worker and the watcher while N databases are provisioned, then deleted. The benchmark itself
// only creates, deletes and LISTs (never counted). Then, with rdsflow's processes stopped, the
// yardstick: N workflows of the same shape (the same activities and local activities, in the
// same order, each doing nothing) on the same
// Temporal server, started at once. Run it on a quiet stack: another client of the apiserver
// (a test run) would be counted too. Needs `npm run infra -- up`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Step } from './noop-workflow.js';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { TEST_LABEL } from '../infra/apps.js';
import { layoutFrom } from '../infra/layout.js';
import { stackEnv } from '../infra/stack.js';

Object.assign(process.env, stackEnv(layoutFrom(process.env)));
const { loadConfig } = await import('../config/config.js');
const { connectTemporal, kubeClientConfig, temporalConnectionOptions } =
  await import('../config/clients.js');
const { boundedApiClient } = await import('../kube/bounded.js');
const { metric, startWatcher, startWorker } = await import('../test/support/processes.js');
type AppProcess = Awaited<ReturnType<typeof startWorker>>;
const { API_GROUP, API_VERSION, PLURAL } = await import('../contracts/database.js');
const { listDatabases, mergePatch } = await import('../kube/databases.js');
const { workflowIdOf } = await import('../test/support/env.js');
const { SEARCH_ATTRIBUTES } = await import('../contracts/search-attributes.js');

const config = loadConfig(process.env, ['kube', 'temporal']);
const kube = boundedApiClient(kubeClientConfig(config.kube), CustomObjectsApi, config.kube);
const where = { group: API_GROUP, version: API_VERSION, plural: PLURAL, namespace: 'default' };
const n = Number(process.argv[2] ?? 200);
const id = `bench-p-${Date.now().toString(36)}`;
const selector = `${TEST_LABEL}=${id}`;

/** rdsflow's requests so far: GET/PATCH of Databases (and their status), Event POSTs. */
function requestCounts(): Map<string, number> {
  const text = execFileSync(
    process.env['RDSFLOW_KUBECTL'] ?? 'kubectl',
    ['get', '--raw', '/metrics'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  ).toString();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const label = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(line)?.[1] ?? '';
    const resource = label('resource');
    const verb = label('verb');
    const counted =
      (resource === 'databases' && (verb === 'GET' || verb === 'PATCH' || verb === 'APPLY')) ||
      (resource === 'events' && verb === 'POST');
    if (!counted) continue;
    const key = `${verb} ${resource}${label('subresource') ? `/${label('subresource')}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.split(' ').at(-1)));
  }
  return counts;
}

function since(before: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [key, value] of requestCounts()) {
    const d = value - (before.get(key) ?? 0);
    if (d > 0) delta.set(key, d);
  }
  return delta;
}

function perDatabase(delta: Map<string, number>): string {
  const total = [...delta.values()].reduce((a, b) => a + b, 0);
  const parts = [...delta].map(([k, v]) => `${(v / n).toFixed(1)} ${k}`).join(', ');
  return `${(total / n).toFixed(1)} per database (${parts})`;
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

async function phases(): Promise<Map<string, string>> {
  const objects = await listDatabases(kube, 'default', selector);
  return new Map(objects.map((o) => [o.metadata.name, o.status?.phase ?? 'Pending']));
}

/** rdsflow's processes of this run, watched while waiting */
const running: [string, AppProcess][] = [];

/** Polls the objects' phases (a LIST, never counted) every `everyMs` until `done`. */
async function until(
  what: string,
  done: (p: Map<string, string>) => boolean,
  everyMs = 20,
): Promise<void> {
  // a second per database, at least five minutes: on 2 cores, 1,000 take several minutes
  const deadline = Date.now() + Math.max(5 * 60_000, n * 1_000);
  while (!done(await phases())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // a process that died ends the run at once, with its last words
    for (const [, app] of running) app.assertAlive();
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const uids = new Map<string, string>();
const SINGLE_RUNS = 11;

async function create(name: string): Promise<void> {
  const created = (await kube.createNamespacedCustomObject({
    ...where,
    body: {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: 'Database',
      metadata: { name, labels: { [TEST_LABEL]: id } },
      spec: { engine: 'postgres', deletionPolicy: 'Delete' },
    },
  })) as { metadata: { uid: string } };
  uids.set(name, created.metadata.uid);
}

/** The provisioning run of `workflowId`, as the yardstick copies it. */
interface RunShape {
  /** activities, local activities, phase upserts and the continue-as-new, in order */
  readonly steps: Step[];
  /** the start input, as the run got it */
  readonly input: unknown;
}

/** The shape of the provisioning run of `workflowId`: its steps in the order it took them. */
async function shapeOfFirstRun(client: Client, workflowId: string): Promise<RunShape> {
  const runs: { runId: string; start: number }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push({ runId: w.runId, start: w.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  const first = runs[0];
  if (!first) throw new Error(`no run of ${workflowId} found`);
  const history = await client.workflow.getHandle(workflowId, first.runId).fetchHistory();
  const events = history.events ?? [];
  const payload = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  const steps = events.flatMap((e): Step[] => {
    if (e.activityTaskScheduledEventAttributes) return ['activity'];
    if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') return ['local'];
    if (e.upsertWorkflowSearchAttributesEventAttributes) return ['upsert'];
    if (e.workflowExecutionContinuedAsNewEventAttributes) return ['continue'];
    return [];
  });
  return { steps, input: payload ? JSON.parse(Buffer.from(payload).toString()) : undefined };
}

/** The start options of rdsflow's watcher that cost the server something: attributes, memo. */
function startedLikeRdsflow(i: number) {
  return {
    staticSummary: `postgres database default/noop-${i}`,
    memo: { database: `default/noop-${i}`, engine: 'postgres' },
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.namespace, value: 'default' },
      { key: SEARCH_ATTRIBUTES.name, value: `noop-${i}` },
      { key: SEARCH_ATTRIBUTES.engine, value: 'postgres' },
      { key: SEARCH_ATTRIBUTES.phase, value: 'Pending' },
    ],
  };
}

/**
 * The same Temporal server running `n` workflows of the shape's no-op steps each, started at
 * once, on one worker with the SDK's defaults (as rdsflow's worker): seconds until all ended.
 * `full`: the whole shape (phase upserts, continue-as-new, started with rdsflow's input, search
 * attributes and memo); otherwise its activities and local activities only.
 */
async function noopRun(client: Client, n: number, shape: RunShape, full: boolean) {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `${id}-noop-${full ? 'full' : 'steps'}`;
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./noop-workflow.ts', import.meta.url)),
    activities: { step: () => Promise.resolve() },
  });
  const running = worker.run();
  const steps = full ? shape.steps : shape.steps.filter((s) => s === 'activity' || s === 'local');
  try {
    const t0 = Date.now();
    const handles = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.workflow.start('noopShaped', {
          taskQueue,
          workflowId: `${taskQueue}/${i}`,
          args: full ? [steps, shape.input] : [steps],
          ...(full ? startedLikeRdsflow(i) : {}),
        }),
      ),
    );
    await Promise.all(handles.map((h) => h.result()));
    return (Date.now() - t0) / 1000;
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
  }
}

// V8 settings to try on both processes (RSS being the question), as the image's entrypoint sets
const nodeOptions: Record<string, string> = process.env['RDSFLOW_BENCH_NODE_OPTIONS']
  ? { NODE_OPTIONS: process.env['RDSFLOW_BENCH_NODE_OPTIONS'] }
  : {};
const worker = await startWorker(id, {
  AWS_ENDPOINT_URL_RDS: process.env['RDSFLOW_MOTO_URL'] ?? '',
  RDSFLOW_POLL_INTERVAL: '100ms',
  ...nodeOptions,
});
const watcher = await startWatcher({ taskQueue: id, selector, env: nodeOptions });
running.push(['worker', worker], ['watcher', watcher]);
let shape: { seconds: number; perSecond: number; name: string } | undefined;
try {
  // one at a time: rdsflow's own time from the create returning to the status saying Available
  // eleven runs: one slow run (a GC, a checkpoint of the Temporal server's SQLite) moves a
  // median of five
  const single: number[] = [];
  for (let i = 0; i < SINGLE_RUNS; i++) {
    const name = `${id}-one-${i}`;
    const t0 = Date.now();
    await create(name);
    await until(`${name} Available`, (p) => p.get(name) === 'Available');
    single.push(Date.now() - t0);
  }
  single.sort((a, b) => a - b);
  process.stdout.write(
    `one Database, apply → Available, RDS answering at once (${SINGLE_RUNS} runs): ` +
      `median ${single[(SINGLE_RUNS - 1) / 2]} ms, best ${single[0]} ms, worst ${single.at(-1)} ms (${single.join(', ')})\n`,
  );

  const names = Array.from({ length: n }, (_, i) => `${id}-${i}`);
  let before = requestCounts();
  const t0 = Date.now();
  await Promise.all(names.map(create));
  // a LIST of N objects every 250 ms: often enough, without loading the apiserver it measures
  await until(`${n} Available`, (p) => names.every((x) => p.get(x) === 'Available'), 250);
  const seconds = (Date.now() - t0) / 1000;
  process.stdout.write(
    `${n} Databases at once → all Available in ${seconds.toFixed(1)} s ` +
      `(${(n / seconds).toFixed(1)} /s)\n`,
  );
  const measured = { seconds, perSecond: n / seconds };
  process.stdout.write(`apiserver requests by rdsflow, provision: ${perDatabase(since(before))}\n`);
  const heapMiB = async (app: typeof worker, prefix: string) =>
    ((await metric(app, `${prefix}_nodejs_heap_size_used_bytes`)) / 2 ** 20).toFixed(0);
  process.stdout.write(
    `RSS with ${n + 5} databases serving: worker ${rssMiB(worker.child.pid ?? 0).toFixed(0)} MiB ` +
      `(heap used ${await heapMiB(worker, 'rdsflow_worker')} MiB), ` +
      `watcher ${rssMiB(watcher.child.pid ?? 0).toFixed(0)} MiB ` +
      `(heap used ${await heapMiB(watcher, 'rdsflow_watcher')} MiB)\n`,
  );

  const singles = [...(await phases()).keys()].filter((x) => !names.includes(x));
  await Promise.all(singles.map((name) => kube.deleteNamespacedCustomObject({ ...where, name })));
  await until('the single ones deleted', (p) => singles.every((x) => !p.has(x)));
  before = requestCounts();
  await Promise.all(names.map((name) => kube.deleteNamespacedCustomObject({ ...where, name })));
  await until(`${n} deleted`, (p) => names.every((x) => !p.has(x)), 250);
  process.stdout.write(`apiserver requests by rdsflow, delete:    ${perDatabase(since(before))}\n`);
  shape = { seconds: measured.seconds, perSecond: measured.perSecond, name: names[0] ?? '' };
} finally {
  await watcher.stop();
  await worker.stop();
  for (const o of await listDatabases(kube, 'default', selector)) {
    await kube
      .patchNamespacedCustomObject(
        { ...where, name: o.metadata.name, body: { metadata: { finalizers: null } } },
        mergePatch,
      )
      .catch(() => undefined);
    await kube
      .deleteNamespacedCustomObject({ ...where, name: o.metadata.name })
      .catch(() => undefined);
  }
}

// the yardstick, once rdsflow's processes are stopped: the same shape with nothing to do
if (shape) {
  const client = await connectTemporal(config.temporal);
  try {
    const runShape = await shapeOfFirstRun(
      client,
      await workflowIdOf({
        namespace: 'default',
        name: shape.name,
        uid: uids.get(shape.name) ?? '',
      }),
    );
    const count = (kind: Step) => runShape.steps.filter((s) => s === kind).length;
    for (const full of [false, true]) {
      const seconds = await noopRun(client, n, runShape, full);
      const what = full
        ? `the whole shape (also ${count('upsert')} phase upserts, ${count('continue')} ` +
          `continue-as-new, rdsflow's input, search attributes and memo)`
        : 'their activities only';
      process.stdout.write(
        `${n} no-op workflows of the same shape (${count('activity')} activities and ` +
          `${count('local')} local activities each), ${what}, at once → all ended in ` +
          `${seconds.toFixed(1)} s (${(n / seconds).toFixed(1)} /s); rdsflow/no-op throughput ` +
          `${(shape.perSecond / (n / seconds)).toFixed(2)}\n`,
      );
    }
  } finally {
    await client.connection.close();
  }
}
