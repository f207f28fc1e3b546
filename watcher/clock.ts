// Time as the watcher's loops see it (the lease, the retry backoff, the periodic sweep): the real
// clock in production; unit tests pass a fake one and run minutes of leases and retries in
// milliseconds.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Clock {
  /** ms since epoch */
  now(): number;
  /** resolves after `ms`, or as soon as `signal` aborts; never rejects */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** calls `fn` once after `ms`; the returned function cancels it */
  after(ms: number, fn: () => void): () => void;
  /** calls `fn` every `ms`; the returned function stops it */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    sleep(ms, undefined, signal ? { signal } : undefined).catch(() => undefined),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
};
