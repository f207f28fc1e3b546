// A stand-in for the apiserver's Lease endpoints, for unit tests of leader election: one Lease
// per server, compare-and-swap on its resourceVersion (409 on a stale write, 404 before it is
// made, as the apiserver does), and per candidate a connection that can be refused or go silent
// (answering nothing until the client's call timeout, as the bounded client does).
import { ApiException, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { LeaseApi } from '../../watcher/lease.js';
import type { FakeClock } from './fake-clock.js';

export type Link = 'up' | 'refused' | 'silent';

export interface LeaseWrite {
  readonly by: string;
  readonly holder: string;
  readonly at: number;
}

const clone = (lease: V1Lease): V1Lease => {
  const spec = lease.spec ?? {};
  const time = (t: Date | undefined) => (t ? new V1MicroTime(t.valueOf()) : undefined);
  return {
    metadata: { ...lease.metadata },
    spec: { ...spec, acquireTime: time(spec.acquireTime), renewTime: time(spec.renewTime) },
  };
};

export class FakeLeaseServer {
  private stored: V1Lease | undefined;
  private version = 0;
  /** every write the server accepted, in order */
  readonly writes: LeaseWrite[] = [];

  constructor(
    private readonly clock: FakeClock,
    /** how long a silent connection leaves a call hanging before the client gives up */
    readonly callTimeoutMs = 5_000,
  ) {}

  /** The Lease as stored now (a copy). */
  get lease(): V1Lease | undefined {
    return this.stored ? clone(this.stored) : undefined;
  }

  get holder(): string | undefined {
    return this.stored?.spec?.holderIdentity;
  }

  /** Stores a Lease as another process (or a machine with a skewed clock) would have. */
  plant(spec: NonNullable<V1Lease['spec']>, name = 'watcher'): void {
    this.version++;
    this.stored = {
      metadata: { name, namespace: 'rdsflow', resourceVersion: String(this.version) },
      spec,
    };
  }

  /** One candidate's connection to this server. */
  client(by: string): LeaseClient {
    return new LeaseClient(this, by);
  }

  /** @internal: the server side of a call that reached it */
  serve(by: string, call: keyof LeaseApi, body?: V1Lease): V1Lease {
    if (call === 'readNamespacedLease') {
      if (!this.stored) throw new ApiException(404, 'leases "watcher" not found', {}, {});
      return clone(this.stored);
    }
    if (!body) throw new ApiException(400, 'no body', {}, {});
    if (call === 'createNamespacedLease' && this.stored)
      throw new ApiException(409, 'already exists', {}, {});
    if (
      call === 'replaceNamespacedLease' &&
      body.metadata?.resourceVersion !== this.stored?.metadata?.resourceVersion
    )
      throw new ApiException(409, 'the object has been modified', {}, {});
    this.version++;
    this.stored = clone({
      ...body,
      metadata: { ...body.metadata, resourceVersion: String(this.version) },
    });
    this.writes.push({ by, holder: body.spec?.holderIdentity ?? '', at: this.clock.now() });
    return clone(this.stored);
  }

  /** @internal */
  get time(): FakeClock {
    return this.clock;
  }
}

export class LeaseClient implements LeaseApi {
  link: Link = 'up';
  /** calls made over this connection, answered or not */
  calls = 0;

  constructor(
    private readonly server: FakeLeaseServer,
    private readonly by: string,
  ) {}

  readNamespacedLease(): Promise<V1Lease> {
    return this.call('readNamespacedLease');
  }

  createNamespacedLease(request: { body: V1Lease }): Promise<V1Lease> {
    return this.call('createNamespacedLease', request.body);
  }

  replaceNamespacedLease(request: { body: V1Lease }): Promise<V1Lease> {
    return this.call('replaceNamespacedLease', request.body);
  }

  private async call(call: keyof LeaseApi, body?: V1Lease): Promise<V1Lease> {
    this.calls++;
    if (this.link === 'refused') throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    if (this.link === 'silent') {
      await this.server.time.sleep(this.server.callTimeoutMs);
      throw new Error(`${call} timed out after ${this.server.callTimeoutMs} ms`);
    }
    return this.server.serve(this.by, call, body);
  }
}
