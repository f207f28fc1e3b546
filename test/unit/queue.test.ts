// The watcher's per-object queue: order within a key, parallelism across keys, coalescing,
// and retry without loss.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedQueue, backoffMs } from '../../watcher/queue.js';

const fast = { concurrency: 4, initialBackoffMs: 5, maxBackoffMs: 20 };

describe('KeyedQueue', () => {
  it('handles one key at a time and coalesces what arrives meanwhile to the latest', async () => {
    const handled: string[] = [];
    let running = 0;
    let most = 0;
    const queue = new KeyedQueue<string>(async (key, item) => {
      running++;
      most = Math.max(most, running);
      await sleep(20);
      handled.push(`${key}:${item}`);
      running--;
    }, fast);
    const first = queue.push('a', '1');
    await sleep(5); // a:1 is running
    const later = [queue.push('a', '2'), queue.push('a', '3')];
    await Promise.all([first, ...later]);
    assert.deepEqual(handled, ['a:1', 'a:3']);
    assert.equal(most, 1);
    assert.equal(queue.depth, 0);
  });

  it('runs different keys in parallel up to the limit', async () => {
    let running = 0;
    let most = 0;
    const queue = new KeyedQueue<number>(
      async () => {
        running++;
        most = Math.max(most, running);
        await sleep(15);
        running--;
      },
      { ...fast, concurrency: 3 },
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => queue.push(`k${i}`, i)));
    assert.equal(most, 3);
  });

  it('retries a failing item with backoff until it succeeds, with the newest item', async () => {
    const tried: string[] = [];
    const failures: number[] = [];
    let fail = 3;
    const queue = new KeyedQueue<string>(
      (_key, item) => {
        tried.push(item);
        if (fail-- > 0) return Promise.reject(new Error('Temporal unavailable'));
        return Promise.resolve();
      },
      fast,
      (report) => failures.push(report.attempt),
    );
    const done = queue.push('a', 'v1');
    await sleep(2);
    void queue.push('a', 'v2');
    await done;
    assert.deepEqual(failures, [1, 2, 3]);
    assert.equal(tried.at(-1), 'v2');
    assert.ok(!tried.slice(1).includes('v1'), 'a replaced item is not retried');
  });

  it('caps the backoff and spreads it with jitter', () => {
    for (let attempt = 1; attempt < 30; attempt++) {
      const ms = backoffMs(attempt, 1_000, 15_000);
      assert.ok(ms >= 800 && ms <= 18_000, `attempt ${attempt}: ${ms}`);
    }
    assert.ok(backoffMs(1, 1_000, 15_000) <= 1_200);
  });

  it('close() waits for running handlers and stops retrying', async () => {
    let calls = 0;
    const queue = new KeyedQueue<string>(async () => {
      calls++;
      await sleep(10);
      throw new Error('down');
    }, fast);
    void queue.push('a', 'x');
    await sleep(2);
    await queue.close();
    const after = calls;
    await sleep(50);
    assert.equal(calls, after);
  });
});
