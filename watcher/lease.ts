// Optional leader election over a coordination.k8s.io/v1 Lease, the way client-go does it: the
// holder renews every retry period; a candidate takes the lease over only after it has watched
// the record stay unchanged for a whole lease duration (its own clock, so skew between machines
// does not matter). Two watchers are harmless anyway (each request is proven by the workflow); this keeps one of them idle.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { httpCodeOf } from '../kube/databases.js';
import { systemClock, type Clock } from './clock.js';

export type LeaseApi = Pick<
  CoordinationV1Api,
  'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'
>;

export interface LeaseOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** the real clock unless a test passes a fake one */
  readonly clock?: Clock;
}

export interface LeaderRoles {
  /** called when this process waits as a candidate */
  standby(): void;
  /**
   * Runs while this process leads; its signal aborts when leadership is lost or on shutdown.
   * `fence()` is the time (ms since epoch) until which an effect of this term may still land:
   * 0 once the renew deadline passed, else before the lease could expire and another watcher
   * take over. Check it right before every effect, and end the effect by then.
   */
  active(signal: AbortSignal, fence: () => number): Promise<void>;
}

export class LeaseElector {
  private observed: { key: string; at: number } | undefined;
  private readonly durationMs: number;

  constructor(
    private readonly api: LeaseApi,
    private readonly options: LeaseOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.durationMs = options.leaseDurationMs ?? 15_000;
  }

  /** One attempt to take or renew the lease; true when this process holds it afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name } = this.options;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error: unknown) {
      if (httpCodeOf(error) !== 404) throw error;
      return this.create();
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const key = `${holder}|${String(spec.renewTime?.valueOf() ?? '')}`;
    if (this.observed?.key !== key) this.observed = { key, at: this.now() };
    const mine = holder === this.options.identity;
    const expired = holder === '' || this.observed.at + this.durationMs <= this.now();
    if (!mine && !expired) return false;
    return this.replace(lease, mine);
  }

  /** The first holder of a lease nobody has made yet; false when another candidate was faster. */
  private async create(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const stamp = new V1MicroTime(this.now());
    return this.compareAndSwap(() =>
      this.api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: Math.ceil(this.durationMs / 1_000),
            acquireTime: stamp,
            renewTime: stamp,
            leaseTransitions: 0,
          },
        },
      }),
    );
  }

  /** Renews (or takes over) the lease as read; the resourceVersion makes it a compare-and-swap. */
  private async replace(lease: V1Lease, mine: boolean): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const spec = lease.spec ?? {};
    const stamp = new V1MicroTime(this.now());
    return this.compareAndSwap(() =>
      this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          metadata: { ...lease.metadata, name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: Math.ceil(this.durationMs / 1_000),
            acquireTime: mine && spec.acquireTime ? new V1MicroTime(spec.acquireTime) : stamp,
            renewTime: stamp,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
          },
        },
      }),
    );
  }

  /** true when the write went through; false when another candidate changed the lease first. */
  private async compareAndSwap(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error: unknown) {
      if (httpCodeOf(error) === 409) return false;
      throw error;
    }
  }

  /** Gives the lease up on shutdown, so a standby takes over at once instead of after expiry. */
  async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          metadata: { ...lease.metadata, name, namespace },
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 },
        },
      });
    } catch {
      // best effort: the lease expires on its own
    }
  }
}

/** Room left between the end of a leader's last effect and the lease's earliest expiry. */
const FENCE_MARGIN_MS = 1_000;

/** Competes for the lease until `signal` aborts; runs `roles.active` whenever it leads. */
export async function lead(
  api: LeaseApi,
  options: LeaseOptions,
  log: Logger,
  roles: LeaderRoles,
  signal: AbortSignal,
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const elector = new LeaseElector(api, options, () => clock.now());
  const retryMs = options.retryPeriodMs ?? 2_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  // when the last successful renewal was *sent*: others count the lease from no earlier than that
  let renewedAt = 0;
  const attempt = async (): Promise<boolean> => {
    const sentAt = clock.now();
    try {
      const held = await elector.tryAcquireOrRenew();
      if (held) renewedAt = sentAt;
      return held;
    } catch (error: unknown) {
      log.warn({ err: error, lease: options.name }, 'lease not reachable');
      return false;
    }
  };
  // NOTE: the renew deadline is shorter than the lease, so a leader that cannot renew stops
  // acting before any candidate may take the lease over
  const leaseMs = options.leaseDurationMs ?? 15_000;
  const fence = () =>
    clock.now() - renewedAt < renewDeadlineMs ? renewedAt + leaseMs - FENCE_MARGIN_MS : 0;

  while (!signal.aborted) {
    roles.standby();
    log.info({ lease: `${options.namespace}/${options.name}` }, 'waiting to lead');
    while (!signal.aborted && !(await attempt())) await clock.sleep(retryMs, signal);
    if (signal.aborted) break;

    log.info({ lease: `${options.namespace}/${options.name}` }, 'leading');
    const term = new AbortController();
    const stopTerm = () => term.abort();
    signal.addEventListener('abort', stopTerm, { once: true });
    // independent of the renew loop, which a hung call could hold up
    const stopWatchdog = clock.every(Math.min(500, retryMs), () => {
      if (fence() > clock.now() || term.signal.aborted) return;
      log.warn({ lease: options.name }, 'leadership lost; stopping work');
      term.abort();
    });
    const running = roles.active(term.signal, fence).catch((error: unknown) => {
      log.error({ err: error }, 'active term failed; standing down');
      term.abort();
    });
    while (!term.signal.aborted) {
      await clock.sleep(retryMs, term.signal);
      if (term.signal.aborted) break;
      await attempt();
    }
    stopWatchdog();
    signal.removeEventListener('abort', stopTerm);
    await running;
  }
  await elector.release();
}
