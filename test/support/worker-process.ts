// Runs the real worker (worker/main.ts) as a child process on its own task queue, so tests
// can kill and restart it like an operator's crash would.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const repo = fileURLToPath(new URL('../../', import.meta.url));

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** where /healthz and /metrics are served */
  readonly httpUrl: string;
  readonly output: () => string;
  /** SIGKILL: no graceful shutdown, the crash case */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown */
  stop(): Promise<number | null>;
}

export async function startWorker(
  taskQueue: string,
  extraEnv: Record<string, string> = {},
): Promise<WorkerProcess> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: repo,
    env: {
      ...process.env,
      RDSFLOW_TASK_QUEUE: taskQueue,
      RDSFLOW_HTTP_ADDR: '127.0.0.1:0',
      RDSFLOW_POLL_INTERVAL: '200ms',
      RDSFLOW_POLL_WINDOW: '5s',
      RDSFLOW_SHUTDOWN_GRACE: '2s',
      RDSFLOW_LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const deadline = Date.now() + 60_000;
  while (!output.includes('"msg":"worker started"')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker did not start:\n${output}`);
    }
    await sleep(100);
  }
  const startLine =
    output.split('\n').find((line) => line.includes('"msg":"worker started"')) ?? '';
  const http = /"http":"([^"]+)"/.exec(startLine)?.[1] ?? '';
  return {
    child,
    httpUrl: `http://${http}`,
    output: () => output,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
