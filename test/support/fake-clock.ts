// A clock for unit tests of the watcher's timing (watcher/clock.ts): time moves only when the
// test says so, and every timer due on the way fires in order, each followed by the promise
// chains it sets off, so minutes of leases and retries run in milliseconds and the same way
// every time.
import type { Clock } from '../../watcher/clock.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets every promise chain that is ready run to its end (fakes answer without real I/O). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private at: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.at = start;
  }

  now(): number {
    return this.at;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.at + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  every(ms: number, fn: () => void): () => void {
    let cancel = () => {};
    const tick = () => {
      cancel = this.after(ms, tick);
      fn();
    };
    cancel = this.after(ms, tick);
    return () => cancel();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        cancel();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const cancel = this.after(ms, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own time and in order,
   * and letting what it set off settle before the next.
   */
  async advance(ms: number): Promise<void> {
    const end = this.at + ms;
    await settle();
    for (;;) {
      const next = this.nextDue(end);
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.at = Math.max(this.at, next.at);
      next.fn();
      await settle();
    }
    this.at = end;
    await settle();
  }

  /** Advances in steps of `stepMs` until `check()` is true or `limitMs` has passed. */
  async until(check: () => boolean, limitMs: number, stepMs = 100): Promise<boolean> {
    const end = this.at + limitMs;
    while (!check() && this.at < end) await this.advance(Math.min(stepMs, end - this.at));
    return check();
  }

  private nextDue(end: number): Timer | undefined {
    let next: Timer | undefined;
    for (const t of this.timers) {
      if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)))
        next = t;
    }
    return next;
  }
}
