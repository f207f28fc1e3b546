// Leader election (watcher/lease.ts) on a fake clock against a stand-in for the Lease API:
// taking the lease, renewing it, losing it when renewals fail, takeover after expiry, hand-over
// on stop, and never two watchers acting at once. Minutes of leases run in milliseconds; the
// real-process tests (test/watcher/ha.test.ts, stall.test.ts) keep covering the real apiserver.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lead, type LeaseOptions } from '../../watcher/lease.js';
import { capturedLog, LEVEL } from '../support/captured-log.js';
import { FakeClock } from '../support/fake-clock.js';
import { FakeLeaseServer, type LeaseClient, type Link } from '../support/fake-leases.js';

// the defaults of lead(): lease 15 s, renew deadline 10 s, retry every 2 s
const LEASE_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_MS = 2_000;
const WATCHDOG_MS = 500;

interface Term {
  readonly from: number;
  to: number | undefined;
  readonly fence: () => number;
}

interface Candidate {
  readonly identity: string;
  readonly api: LeaseClient;
  readonly terms: Term[];
  standbys: number;
  readonly stop: () => void;
  readonly done: Promise<void>;
  readonly leading: boolean;
  readonly lines: ReturnType<typeof capturedLog>['lines'];
}

function candidate(
  server: FakeLeaseServer,
  clock: FakeClock,
  identity: string,
  active?: (term: Term, signal: AbortSignal) => Promise<void>,
): Candidate {
  const api = server.client(identity);
  const stop = new AbortController();
  const { log, lines } = capturedLog();
  const terms: Term[] = [];
  const options: LeaseOptions = { namespace: 'rdsflow', name: 'watcher', identity, clock };
  const self = {
    identity,
    api,
    terms,
    standbys: 0,
    lines,
    stop: () => stop.abort(),
    get leading() {
      const last = terms.at(-1);
      return last !== undefined && last.to === undefined;
    },
  } as Omit<Candidate, 'done'> & { standbys: number };
  const done = lead(
    api,
    options,
    log,
    {
      standby: () => self.standbys++,
      active: (signal, fence) => {
        const term: Term = { from: clock.now(), to: undefined, fence };
        terms.push(term);
        signal.addEventListener('abort', () => (term.to ??= clock.now()), { once: true });
        if (active) return active(term, signal);
        return new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      },
    },
    stop.signal,
  );
  return Object.assign(self, { done });
}

function world() {
  const clock = new FakeClock();
  const server = new FakeLeaseServer(clock);
  return { clock, server };
}

const lastWriteBy = (server: FakeLeaseServer, identity: string) => {
  const writes = server.writes.filter((w) => w.by === identity && w.holder === identity);
  const last = writes.at(-1);
  assert.ok(last, `${identity} wrote the lease`);
  return last.at;
};

describe('leader election', () => {
  it('takes a lease nobody holds and renews it every retry period, keeping it for good', async () => {
    const { clock, server } = world();
    const start = clock.now();
    const a = candidate(server, clock, 'a');
    await clock.advance(0);
    assert.ok(a.leading, 'a leads at once');
    assert.equal(a.standbys, 1, 'it waited as a candidate first');
    assert.equal(server.holder, 'a');

    await clock.advance(60_000);
    assert.ok(a.leading);
    assert.equal(a.terms.length, 1, 'one term throughout');
    const spec = server.lease?.spec;
    assert.equal(spec?.holderIdentity, 'a');
    assert.equal(spec?.acquireTime?.valueOf(), start, 'acquired once');
    assert.ok(clock.now() - (spec?.renewTime?.valueOf() ?? 0) <= RETRY_MS, 'renewed lately');
    assert.equal(spec?.leaseTransitions, 0);
    assert.equal(spec?.leaseDurationSeconds, LEASE_MS / 1_000);
    const renewals = server.writes.filter((w) => w.by === 'a').length;
    assert.ok(renewals >= 60_000 / RETRY_MS, `renewed ${renewals} times in a minute`);
    const fence = a.terms[0]?.fence() ?? 0;
    assert.ok(fence > clock.now(), 'a leader may act');
    assert.ok(fence <= lastWriteBy(server, 'a') + LEASE_MS, 'but not past its lease');
    a.stop();
    await clock.advance(0);
    await a.done;
  });

  it('keeps a standby idle for as long as the holder renews', async () => {
    const { clock, server } = world();
    const a = candidate(server, clock, 'a');
    await clock.advance(0);
    const b = candidate(server, clock, 'b');
    await clock.advance(10 * 60_000);
    assert.ok(a.leading);
    assert.equal(b.terms.length, 0, 'b never led');
    assert.ok(b.api.calls > 100, 'b kept looking');
    assert.ok(
      server.writes.every((w) => w.by === 'a'),
      'b never wrote the lease',
    );
    for (const c of [a, b]) c.stop();
    await clock.advance(0);
    await Promise.all([a.done, b.done]);
  });

  it('lets exactly one of two candidates that start together lead', async () => {
    const { clock, server } = world();
    const both = [candidate(server, clock, 'a'), candidate(server, clock, 'b')];
    await clock.advance(30_000);
    assert.equal(both.filter((c) => c.leading).length, 1);
    assert.equal(
      both.reduce((n, c) => n + c.terms.length, 0),
      1,
      'one term, never two',
    );
    for (const c of both) c.stop();
    await clock.advance(0);
    await Promise.all(both.map((c) => c.done));
  });

  for (const link of ['refused', 'silent'] as const) {
    it(`a leader whose renewals fail (${link}) stops acting within the renew deadline, and another takes over only after the lease expired`, async () => {
      const { clock, server } = world();
      const a = candidate(server, clock, 'a');
      await clock.advance(0);
      const b = candidate(server, clock, 'b');
      await clock.advance(7_300);
      a.api.link = link;
      const renewed = lastWriteBy(server, 'a');
      const term = a.terms[0];
      assert.ok(term);

      assert.ok(await clock.until(() => term.to !== undefined, LEASE_MS), 'a stood down');
      assert.ok(
        (term.to ?? 0) <= renewed + RENEW_DEADLINE_MS + WATCHDOG_MS,
        `stood down ${(term.to ?? 0) - renewed} ms after its last renewal`,
      );
      assert.equal(term.fence(), 0, 'nothing may land after the renew deadline');
      assert.ok(
        a.lines.some((l) => l.level === LEVEL.warn && l.msg === 'leadership lost; stopping work'),
      );

      assert.ok(await clock.until(() => b.leading, 2 * LEASE_MS), 'b took over');
      const takeover = lastWriteBy(server, 'b');
      assert.ok(takeover >= renewed + LEASE_MS, 'not before the lease expired');
      assert.ok(takeover < renewed + LEASE_MS + 2 * RETRY_MS, 'soon after it did');
      assert.ok((b.terms[0]?.from ?? 0) > (term.to ?? Infinity), 'never both at once');
      assert.equal(server.lease?.spec?.leaseTransitions, 1);

      // the old leader is back: it finds the lease held and stays a standby
      a.api.link = 'up';
      await clock.advance(60_000);
      assert.equal(a.terms.length, 1, 'a did not lead again');
      assert.ok(b.leading);
      for (const c of [a, b]) c.stop();
      await clock.advance(LEASE_MS);
      await Promise.all([a.done, b.done]);
    });
  }

  it('gives the lease up on stop, so a standby takes over at once instead of after expiry', async () => {
    const { clock, server } = world();
    const a = candidate(server, clock, 'a');
    await clock.advance(0);
    const b = candidate(server, clock, 'b');
    await clock.advance(9_000);
    a.stop();
    await clock.advance(0);
    await a.done;
    const stoppedAt = clock.now();
    assert.notEqual(a.terms[0]?.to, undefined, "a's term ended");
    assert.equal(server.holder, '', 'a released the lease');
    assert.ok(await clock.until(() => b.leading, RETRY_MS + 100), 'b leads within a retry period');
    assert.ok((b.terms[0]?.from ?? Infinity) - stoppedAt <= RETRY_MS);
    b.stop();
    await clock.advance(0);
    await b.done;
  });

  it('does not take a lease that looks stale by the holder’s clock before watching it a whole lease duration', async () => {
    const { clock, server } = world();
    // a holder on a machine whose clock runs an hour behind: its renewTime looks long expired
    server.plant({
      holderIdentity: 'elsewhere',
      leaseDurationSeconds: 15,
      renewTime: new Date(clock.now() - 3_600_000),
      leaseTransitions: 4,
    });
    const a = candidate(server, clock, 'a');
    await clock.advance(LEASE_MS - RETRY_MS);
    assert.equal(a.terms.length, 0, 'not taken on the strength of a timestamp');
    assert.ok(await clock.until(() => a.leading, 2 * RETRY_MS), 'taken once it stayed unchanged');
    assert.equal(server.lease?.spec?.leaseTransitions, 5);
    a.stop();
    await clock.advance(0);
    await a.done;
  });

  it('competes again after its term fails, without waiting for the lease to expire', async () => {
    const { clock, server } = world();
    let failures = 1;
    const a = candidate(server, clock, 'a', (_term, signal) =>
      failures-- > 0
        ? Promise.reject(new Error('term failed'))
        : new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
    );
    await clock.advance(RETRY_MS + 100);
    assert.equal(a.terms.length, 2, 'a second term began');
    assert.ok(a.leading);
    assert.ok(
      a.lines.some((l) => l.level === LEVEL.error && l.msg.startsWith('active term failed')),
    );
    a.stop();
    await clock.advance(0);
    await a.done;
  });

  it('never has two watchers acting at once, whatever fails when', async () => {
    for (let seed = 1; seed <= 6; seed++) await chaos(seed);
  });
});

/** A small seeded generator: the same seed, the same story. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Three watchers for half an hour: links refused, gone silent and restored, watchers stopped and
 * new ones started, at random. At every moment at most one may act (its fence in the future),
 * and the lease changes hands often enough for that to mean something.
 */
async function chaos(seed: number): Promise<void> {
  const { clock, server } = world();
  const next = random(seed);
  const links: Link[] = ['up', 'up', 'up', 'refused', 'silent'];
  let born = 0;
  const spawn = () => candidate(server, clock, `w${born++}`);
  const alive = [spawn(), spawn(), spawn()];
  const all = [...alive];
  for (let t = 0; t < 30 * 60; t++) {
    const roll = next();
    const victim = alive[Math.floor(next() * alive.length)];
    if (victim && roll < 0.05) victim.api.link = links[Math.floor(next() * links.length)] ?? 'up';
    else if (victim && roll < 0.06) {
      victim.stop();
      alive.splice(alive.indexOf(victim), 1);
      const fresh = spawn();
      alive.push(fresh);
      all.push(fresh);
    }
    await clock.advance(1_000);
    const acting = all.filter((c) => c.leading && (c.terms.at(-1)?.fence() ?? 0) > clock.now());
    assert.ok(
      acting.length <= 1,
      `seed ${seed}, t=${t}s: ${acting.map((c) => c.identity).join(', ')}`,
    );
  }
  const terms = all.flatMap((c) => c.terms).sort((x, y) => x.from - y.from);
  for (let i = 1; i < terms.length; i++) {
    const before = terms[i - 1];
    assert.ok(
      before?.to !== undefined && before.to < (terms[i]?.from ?? 0),
      `seed ${seed}: terms overlap`,
    );
  }
  assert.ok(terms.length >= 5, `seed ${seed}: the lease changed hands (${terms.length} terms)`);
  for (const c of alive) {
    c.api.link = 'up';
    c.stop();
  }
  await clock.advance(10_000);
  await Promise.all(all.map((c) => c.done));
}
