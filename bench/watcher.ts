// `npm run bench [-- 1,100,1000]`: how fast does an applied Database become a started workflow?
// For each N, applies N objects through the real kube-apiserver with the real watcher process
// running, and prints the latency from each create call returning to Temporal having accepted
// the workflow start (p50/p95/p99/max), the throughput, and the watcher's memory; then, against
// the same Temporal server, the raw rate of workflow.start calls with no watcher in between.
// Then a paced stream (RDSFLOW_BENCH_PACED=<objects/s>x<seconds>, default 100x30): objects
// created on a steady schedule, not in a burst, and the same latencies.
// Everything it creates is removed at the end. Needs `npm run infra -- up`.
import { existsSync, readFileSync } from 'node:fs';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WORKFLOW_TYPE } from '../contracts/workflow.js';
import { TEST_LABEL } from '../infra/apps.js';
import { layoutFrom } from '../infra/layout.js';
import { stackEnv } from '../infra/stack.js';

Object.assign(process.env, stackEnv(layoutFrom(process.env)));
const { loadConfig } = await import('../config/config.js');
const { connectTemporal, kubeClientConfig } = await import('../config/clients.js');
const { startWatcher, health, metric } = await import('../test/support/processes.js');
const { API_GROUP, API_VERSION, PLURAL } = await import('../contracts/database.js');
const { mergePatch } = await import('../kube/databases.js');
const { boundedApiClient } = await import('../kube/bounded.js');

const CONCURRENCY = 16;
// the watcher's own setting (RDSFLOW_WATCHER_CONCURRENCY), its default unless given
const WATCHER_CONCURRENCY = Number(process.env['RDSFLOW_WATCHER_CONCURRENCY'] ?? 16);
// labelled like the tests' objects: `npm start`'s watcher leaves them alone
const LABEL = TEST_LABEL;
const config = loadConfig(process.env, ['temporal', 'kube']);
const kube = boundedApiClient(kubeClientConfig(config.kube), CustomObjectsApi, config.kube);
const where = { group: API_GROUP, version: API_VERSION, plural: PLURAL, namespace: 'default' };

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** CPU time (user + system) a process has used, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux)
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The process's resident memory; 0 once it has exited. */
function rssMiB(pid: number): number {
  if (!existsSync(`/proc/${pid}/status`)) return 0;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface Row {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  perSecond: number;
  rssIdle: number;
  rssPeak: number;
  heapIdle: number;
  heapAfter: number;
  /** how fast the apiserver took the creates themselves */
  createdPerSecond: number;
  /** the watcher's own CPU time per object */
  cpuPerObject: number;
}

/** Ends the run's workflows (`started`: IDs known to the caller, which the list may lag) and objects. */
async function cleanUp(
  client: Client,
  id: string,
  names: string[],
  started: string[] = [],
): Promise<void> {
  const running = new Set(started);
  for await (const w of client.workflow.list({
    query: `TaskQueue = '${id}' AND ExecutionStatus = 'Running'`,
  }))
    running.add(w.workflowId);
  await pool([...running], CONCURRENCY, async (workflowId) => {
    await client.workflow
      .getHandle(workflowId)
      .terminate('benchmark cleanup')
      .catch((error: unknown) => {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      });
  });
  await pool(names, CONCURRENCY, async (name) => {
    await kube
      .patchNamespacedCustomObject(
        { ...where, name, body: { metadata: { finalizers: null } } },
        mergePatch,
      )
      .catch(() => undefined);
    await kube.deleteNamespacedCustomObject({ ...where, name }).catch(() => undefined);
  });
}

/** Runs `fn` over `items` at `rate` a second (each on its schedule, however long the last took). */
async function paced<T>(items: T[], rate: number, fn: (item: T) => Promise<void>): Promise<void> {
  const first = Date.now();
  await Promise.all(
    items.map(async (item, i) => {
      const wait = first + (i * 1000) / rate - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await fn(item);
    }),
  );
}

type Watcher = Awaited<ReturnType<typeof startWatcher>>;

/** Creates the objects (16 clients, or paced at `rate` a second); when each create returned, by UID. */
async function createObjects(
  id: string,
  names: string[],
  rate?: number,
): Promise<Map<string, number>> {
  const createdAt = new Map<string, number>();
  const create = async (name: string) => {
    const object = (await kube.createNamespacedCustomObject({
      ...where,
      body: {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: 'Database',
        metadata: { name, labels: { [LABEL]: id } },
        spec: { engine: 'postgres' },
      },
    })) as { metadata: { uid: string } };
    createdAt.set(object.metadata.uid, Date.now());
  };
  if (rate) await paced(names, rate, create);
  else await pool(names, CONCURRENCY, create);
  return createdAt;
}

/** Waits until the watcher started all `n` workflows; when Temporal started each, by object UID. */
async function startTimes(
  client: Client,
  watcher: Watcher,
  id: string,
  n: number,
): Promise<Map<string, number>> {
  // the observer must not load what it measures: a count while waiting (one cheap query),
  // the start times (recorded by Temporal itself) read once at the end
  const query = `TaskQueue = '${id}' AND WorkflowType = '${WORKFLOW_TYPE}'`;
  const deadline = Date.now() + 10 * 60_000;
  for (let started = 0; started < n; started = (await client.workflow.count(query)).count) {
    if (Date.now() > deadline) throw new Error(`only ${started}/${n} workflows started`);
    watcher.assertAlive();
    await new Promise((r) => setTimeout(r, 200));
  }
  const times = new Map<string, number>();
  for await (const w of client.workflow.list({ query })) {
    times.set(w.workflowId.split('/').at(-1) ?? '', w.startTime.getTime());
  }
  return times;
}

/** The watcher's resident memory, sampled every 100 ms until read. */
function rssSampler(pid: number): { idle: number; peak(): number } {
  const idle = rssMiB(pid);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
  return {
    idle,
    peak: () => {
      clearInterval(sampler);
      return Math.max(peak, rssMiB(pid));
    },
  };
}

function startWatcherFor(id: string): Promise<Watcher> {
  return startWatcher({
    taskQueue: id,
    selector: `${LABEL}=${id}`,
    env: {
      RDSFLOW_WATCHER_CONCURRENCY: String(WATCHER_CONCURRENCY),
      // V8 settings to try on the watcher (e.g. --max-semi-space-size=1), RSS being the question
      ...(process.env['RDSFLOW_BENCH_NODE_OPTIONS']
        ? { NODE_OPTIONS: process.env['RDSFLOW_BENCH_NODE_OPTIONS'] }
        : {}),
    },
  });
}

/** N objects through the watcher: as fast as 16 clients can create them, or at `rate` a second. */
async function throughWatcher(client: Client, n: number, rate?: number): Promise<Row> {
  const id = `bench-${Date.now().toString(36)}-${n}`;
  const watcher = await startWatcherFor(id);
  const pid = watcher.child.pid ?? 0;
  const names = Array.from({ length: n }, (_, i) => `${id}-${i}`);
  try {
    while ((await health(watcher)).status !== 200) await new Promise((r) => setTimeout(r, 50));
    const rss = rssSampler(pid);
    const heap = async () =>
      (await metric(watcher, 'rdsflow_watcher_nodejs_heap_size_used_bytes')) / 2 ** 20;
    const heapIdle = await heap();
    const cpuBefore = cpuMs(pid);
    const first = Date.now();
    const createdAt = await createObjects(id, names, rate);
    const createdPerSecond = (n * 1000) / Math.max(1, Date.now() - first);
    const started = await startTimes(client, watcher, id, n);
    const rssPeak = rss.peak();
    const cpuPerObject = (cpuMs(pid) - cpuBefore) / n;
    const latencies = [...started]
      .map(([uid, t]) => t - (createdAt.get(uid) ?? t))
      .sort((a, b) => a - b);
    const last = Math.max(...started.values());
    return {
      n,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
      perSecond: (n * 1000) / Math.max(1, last - first),
      rssIdle: rss.idle,
      rssPeak,
      heapIdle,
      heapAfter: await heap(),
      createdPerSecond,
      cpuPerObject,
    };
  } finally {
    await watcher.stop();
    await cleanUp(client, id, names);
  }
}

async function rawStarts(client: Client, n: number): Promise<Row> {
  const id = `bench-raw-${Date.now().toString(36)}-${n}`;
  const ids = Array.from({ length: n }, (_, i) => `${id}/${i}`);
  const latencies: number[] = [];
  const first = Date.now();
  await pool(ids, CONCURRENCY, async (workflowId) => {
    const t0 = Date.now();
    await client.workflow.start(WORKFLOW_TYPE, { taskQueue: id, workflowId, args: [{}] });
    latencies.push(Date.now() - t0);
  });
  const elapsed = Date.now() - first;
  await cleanUp(client, id, [], ids);
  latencies.sort((a, b) => a - b);
  return {
    n,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    perSecond: (n * 1000) / Math.max(1, elapsed),
    rssIdle: Number.NaN,
    rssPeak: Number.NaN,
    heapIdle: Number.NaN,
    heapAfter: Number.NaN,
    createdPerSecond: Number.NaN,
    cpuPerObject: Number.NaN,
  };
}

const sizes = (process.argv[2] ?? '1,100,1000')
  .split(',')
  .map(Number)
  .filter((v) => v > 0);
const client = await connectTemporal(config.temporal);
const fmt = (v: number, width: number, digits = 0) =>
  (Number.isNaN(v) ? '-' : v.toFixed(digits)).padStart(width);
try {
  process.stdout.write(
    `watcher: kubectl create returned → workflow start accepted by Temporal ` +
      `(concurrency ${CONCURRENCY} creates, watcher concurrency ${WATCHER_CONCURRENCY})\n` +
      `     N  p50 ms  p95 ms  p99 ms  max ms   objects/s   (creates/s)   CPU ms/object   RSS MiB idle → peak   heap MiB idle → after\n`,
  );
  const watched: Row[] = [];
  for (const n of sizes) {
    const row = await throughWatcher(client, n);
    watched.push(row);
    process.stdout.write(
      `${fmt(n, 6)}${fmt(row.p50, 8)}${fmt(row.p95, 8)}${fmt(row.p99, 8)}${fmt(row.max, 8)}` +
        `${fmt(row.perSecond, 12, 1)}   ${fmt(row.createdPerSecond, 10, 1)}` +
        `${fmt(row.cpuPerObject, 15, 1)}   ` +
        `${fmt(row.rssIdle, 6, 1)} → ${fmt(row.rssPeak, 6, 1)}` +
        `      ${fmt(row.heapIdle, 6, 1)} → ${fmt(row.heapAfter, 6, 1)}\n`,
    );
  }
  // paced: a steady stream instead of a burst (RDSFLOW_BENCH_PACED=<objects/s>x<seconds>)
  const [rate = 100, seconds = 30] = (process.env['RDSFLOW_BENCH_PACED'] ?? '100x30')
    .split('x')
    .map(Number);
  const steady = await throughWatcher(client, rate * seconds, rate);
  process.stdout.write(
    `paced: ${rate} objects/s for ${seconds} s (${rate * seconds} objects)\n` +
      `${fmt(rate * seconds, 6)}${fmt(steady.p50, 8)}${fmt(steady.p95, 8)}${fmt(steady.p99, 8)}` +
      `${fmt(steady.max, 8)}${fmt(steady.perSecond, 12, 1)}   ${fmt(steady.createdPerSecond, 10, 1)}` +
      `${fmt(steady.cpuPerObject, 15, 1)}   ${fmt(steady.rssIdle, 6, 1)} → ${fmt(steady.rssPeak, 6, 1)}\n`,
  );
  process.stdout.write(
    `raw workflow.start on the same server, no watcher (concurrency ${CONCURRENCY})\n` +
      `     N  p50 ms  p95 ms  p99 ms  max ms    starts/s   watcher/raw throughput\n`,
  );
  for (const [i, n] of sizes.entries()) {
    const row = await rawStarts(client, n);
    const ratio = (watched[i]?.perSecond ?? Number.NaN) / row.perSecond;
    process.stdout.write(
      `${fmt(n, 6)}${fmt(row.p50, 8)}${fmt(row.p95, 8)}${fmt(row.p99, 8)}${fmt(row.max, 8)}` +
        `${fmt(row.perSecond, 12, 1)}   ${fmt(ratio, 6, 2)}\n`,
    );
  }
} finally {
  await client.connection.close();
}
