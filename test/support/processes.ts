// Runs the real worker and watcher, as built (dist/worker/main.js, dist/watcher/main.js on plain
// node, the shipped workflow bundle), as child processes, each with its own task queue (and the
// watcher with its own label selector), so tests can kill and restart them like an operator's
// crash would, and read their logs and /healthz, /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { built, repo } from './built.js';

export interface AppProcess {
  readonly child: ChildProcess;
  /** where /healthz and /metrics are served */
  readonly httpUrl: string;
  readonly output: () => string;
  /** SIGKILL: no graceful shutdown, the crash case */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown */
  stop(): Promise<number | null>;
  /** SIGSTOP / SIGCONT: the process is frozen, its connections go stale */
  freeze(): void;
  thaw(): void;
  /** Throws, with the process's last log lines, if it has exited (a bench's crash report). */
  assertAlive(): void;
}

async function startApp(
  entry: string,
  startedMessage: string,
  env: Record<string, string>,
): Promise<AppProcess> {
  let output = '';
  const child = spawn(process.execPath, [built(entry)], {
    cwd: repo,
    env: { ...process.env, RDSFLOW_HTTP_ADDR: '127.0.0.1:0', RDSFLOW_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const marker = `"msg":"${startedMessage}"`;
  const deadline = Date.now() + 60_000;
  while (!output.includes(marker)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${entry} did not start:\n${output}`);
    }
    await sleep(100);
  }
  const startLine = output.split('\n').find((line) => line.includes(marker)) ?? '';
  const http = /"http":"([^"]+)"/.exec(startLine)?.[1] ?? '';
  return {
    child,
    httpUrl: `http://${http}`,
    output: () => output,
    async kill() {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      return exited;
    },
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    assertAlive() {
      if (child.exitCode === null && child.signalCode === null) return;
      const last = output.trim().split('\n').slice(-20).join('\n');
      throw new Error(`${entry} exited (${child.exitCode ?? child.signalCode}):\n${last}`);
    },
  };
}

export function startWorker(
  taskQueue: string,
  extraEnv: Record<string, string> = {},
): Promise<AppProcess> {
  return startApp('worker/main.js', 'worker started', {
    RDSFLOW_TASK_QUEUE: taskQueue,
    RDSFLOW_POLL_INTERVAL: '200ms',
    RDSFLOW_POLL_WINDOW: '5s',
    RDSFLOW_SHUTDOWN_GRACE: '2s',
    // the worker's own service account (deploy/rbac/worker.yaml), as in a cluster
    ...(process.env['RDSFLOW_WORKER_KUBECONFIG']
      ? { KUBECONFIG: process.env['RDSFLOW_WORKER_KUBECONFIG'] }
      : {}),
    ...extraEnv,
  });
}

export interface WatcherOptions {
  readonly taskQueue: string;
  /** each test watches only its own objects */
  readonly selector: string;
  readonly env?: Record<string, string>;
}

export function startWatcher(options: WatcherOptions): Promise<AppProcess> {
  return startApp('watcher/main.js', 'watcher started', {
    RDSFLOW_TASK_QUEUE: options.taskQueue,
    RDSFLOW_WATCH_SELECTOR: options.selector,
    // the watcher's own service account (deploy/rbac/watcher.yaml), as in a cluster
    ...(process.env['RDSFLOW_WATCHER_KUBECONFIG']
      ? { KUBECONFIG: process.env['RDSFLOW_WATCHER_KUBECONFIG'] }
      : {}),
    ...options.env,
  });
}

/** The JSON of /healthz, with its HTTP status. */
export async function health(
  app: AppProcess,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${app.httpUrl}/healthz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The sum of a Prometheus counter's samples whose labels include `labels`. */
export async function metric(
  app: AppProcess,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${app.httpUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`)))
      sum += Number(match[3]);
  }
  return sum;
}
