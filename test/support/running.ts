// A test's own rdsflow on the running stack: a Temporal client, the test's Database objects
// (a Watched fixture: its own label and task queue), and the worker and watcher processes the
// test starts. close() stops the processes and removes what the test made.
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../config/clients.js';
import { config } from './env.js';
import { startWatcher, startWorker, type AppProcess } from './processes.js';
import { Watched } from './watched.js';

export class Rdsflow {
  readonly processes: AppProcess[] = [];

  private constructor(
    readonly client: Client,
    readonly watched: Watched,
  ) {}

  static async connect(): Promise<Rdsflow> {
    const client = await connectTemporal(config.temporal);
    return new Rdsflow(client, await Watched.create(client));
  }

  /** Every process's output, for a failure's diagnostics. */
  readonly logs = (): string => this.processes.map((p) => p.output()).join('\n');

  async worker(env: Record<string, string> = {}): Promise<AppProcess> {
    const worker = await startWorker(this.watched.taskQueue, env);
    this.processes.push(worker);
    return worker;
  }

  async watcher(env: Record<string, string> = {}): Promise<AppProcess> {
    const watcher = await startWatcher({
      taskQueue: this.watched.taskQueue,
      selector: this.watched.selector,
      env,
    });
    this.processes.push(watcher);
    return watcher;
  }

  async close(): Promise<void> {
    for (const p of this.processes) await p.stop();
    await this.watched.cleanup();
    await this.client.connection.close();
  }
}
