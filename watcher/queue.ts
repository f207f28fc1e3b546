// A per-key work queue: items of one key are handled one at a time and in order, different keys
// in parallel up to a limit. A newer item for a key replaces one still waiting (the decision is
// level-based: only the latest state matters), and a failed item is retried with capped,
// jittered backoff, never dropped. Callers can await the moment their item, or a newer one for
// the same key, has been handled.
import { systemClock, type Clock } from './clock.js';

export interface QueueOptions {
  readonly concurrency: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** the real clock unless a test passes a fake one */
  readonly clock?: Clock;
}

export interface FailureReport {
  readonly key: string;
  readonly attempt: number;
  readonly retryInMs: number;
  readonly error: unknown;
}

type Handler<T> = (key: string, item: T, since: number) => Promise<void>;

interface Entry<T> {
  item: T;
  /** when the oldest item not yet handled arrived (ms since epoch) */
  since: number;
  waiters: (() => void)[];
  running: boolean;
  /** a newer item arrived while this key was being handled, at `nextSince` */
  dirty: boolean;
  nextSince: number;
  attempt: number;
  /** cancels the pending retry, if any */
  cancelRetry: (() => void) | undefined;
}

export function backoffMs(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  // ±20% jitter so that many keys failing together do not retry in lockstep
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export class KeyedQueue<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly ready: string[] = [];
  private active = 0;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly clock: Clock;

  constructor(
    private readonly handler: Handler<T>,
    private readonly options: QueueOptions,
    private readonly onFailure: (report: FailureReport) => void = () => undefined,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** Keys with work waiting, running or backing off. */
  get depth(): number {
    return this.entries.size;
  }

  /** Queues `item` for `key`; resolves once it (or a newer item of the key) has been handled. */
  push(key: string, item: T, now = this.clock.now()): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = this.entries.get(key);
      if (entry) {
        entry.item = item;
        entry.waiters.push(resolve);
        if (entry.running && !entry.dirty) {
          entry.dirty = true;
          entry.nextSince = now;
        }
        return;
      }
      this.entries.set(key, {
        item,
        since: now,
        waiters: [resolve],
        running: false,
        dirty: false,
        nextSince: now,
        attempt: 0,
        cancelRetry: undefined,
      });
      this.ready.push(key);
      this.pump();
    });
  }

  /** Stops taking work, cancels pending retries, waits for handlers already running. */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) entry.cancelRetry?.();
    this.ready.length = 0;
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    for (const entry of this.entries.values()) for (const done of entry.waiters) done();
    this.entries.clear();
  }

  private pump(): void {
    while (!this.closed && this.active < this.options.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      const entry = this.entries.get(key);
      if (!entry || entry.running) continue;
      this.run(key, entry);
    }
  }

  private run(key: string, entry: Entry<T>): void {
    this.active++;
    entry.running = true;
    entry.dirty = false;
    entry.cancelRetry = undefined;
    const waiters = entry.waiters;
    entry.waiters = [];
    const since = entry.since;
    const finish = (ok: boolean, error?: unknown) => {
      this.active--;
      entry.running = false;
      if (ok) {
        for (const done of waiters) done();
        entry.attempt = 0;
        if (entry.dirty) {
          entry.since = entry.nextSince;
          this.ready.push(key);
        } else {
          this.entries.delete(key);
        }
      } else {
        entry.waiters = [...waiters, ...entry.waiters];
        entry.attempt++;
        const retryInMs = backoffMs(
          entry.attempt,
          this.options.initialBackoffMs,
          this.options.maxBackoffMs,
        );
        this.onFailure({ key, attempt: entry.attempt, retryInMs, error });
        if (!this.closed) {
          entry.cancelRetry = this.clock.after(retryInMs, () => {
            entry.cancelRetry = undefined;
            this.ready.push(key);
            this.pump();
          });
        }
      }
      if (this.active === 0) for (const done of this.idleWaiters.splice(0)) done();
      this.pump();
    };
    this.handler(key, entry.item, since).then(
      () => finish(true),
      (error: unknown) => finish(false, error),
    );
  }
}
