// The watcher's world in memory, for unit tests of the Reconciler: Database objects as the
// apiserver would hold them (UIDs, generations, resourceVersions, finalizers, deletion) and
// workflows as Temporal would run them, behind the watcher's Effects interface. Every Temporal
// call that lands is journaled, every attempt too; either side can fail, refuse or hang on demand.
import { ApiException } from '@kubernetes/client-node';
import type { DatabaseObject, DatabaseRef, DatabaseStatus } from '../../contracts/database.js';
import { FINALIZER } from '../../contracts/names.js';
import type { ObjectView, DatabaseWorkflowInput } from '../../contracts/workflow.js';
import type { DatabaseEvent } from '../../kube/databases.js';
import type { Effects } from '../../watcher/effects.js';
import type { FakeClock } from './fake-clock.js';

export type CallKind =
  | 'start'
  | 'signalWithStart(specChanged)'
  | 'signalWithStart(delete)'
  | 'signal(delete)'
  | 'signal(objectGone)';

export interface Call {
  readonly kind: CallKind;
  readonly uid: string;
  /** the generation the call carried (its input's or its object view's) */
  readonly generation: number | undefined;
  readonly spec: Record<string, unknown> | undefined;
  readonly at: number;
}

/** What a side does when called: answers, fails (unreachable), or refuses (403). */
export type Fault = 'none' | 'down' | 'forbidden';

export class FakeWorld {
  private readonly objects = new Map<string, DatabaseObject>();
  private readonly running = new Map<string, DatabaseRef>();
  private nextUid = 1;
  private version = 100;
  private readonly held = new Map<string, (() => void)[]>();
  /** Temporal calls that landed, in order */
  readonly calls: Call[] = [];
  /** Temporal calls attempted, landed or not (when, and for which object) */
  readonly attempts: { readonly uid: string; readonly at: number }[] = [];
  /** the watcher's Kubernetes writes, in order, calls to Temporal included by kind */
  readonly journal: string[] = [];
  readonly events: (DatabaseEvent & { readonly uid: string })[] = [];
  temporal: Fault = 'none';
  kube: Fault = 'none';
  /** objects whose read fails (as a timeout would) */
  readonly unreadable = new Set<string>();
  /** objects whose Temporal calls hang until `unstick()` */
  readonly stuck = new Set<string>();

  constructor(private readonly clock: FakeClock) {}

  /** A user's `kubectl apply` of a new object. */
  create(name: string, spec: Record<string, unknown> = { engine: 'postgres' }): DatabaseObject {
    const object: DatabaseObject = {
      apiVersion: 'rdsflow.io/v1alpha1',
      kind: 'Database',
      metadata: {
        namespace: 'shop',
        name,
        uid: `uid-${this.nextUid++}`,
        generation: 1,
        resourceVersion: String(this.version++),
      },
      // as stored: a test may store what the schema would refuse (a pre-schema object)
      spec: spec as unknown as DatabaseObject['spec'],
    };
    this.objects.set(object.metadata.uid, object);
    return this.get(object.metadata.uid);
  }

  /** The object as the apiserver holds it now (a copy). */
  get(uid: string): DatabaseObject {
    const object = this.objects.get(uid);
    if (!object) throw new Error(`no object ${uid}`);
    return structuredClone(object);
  }

  exists(uid: string): boolean {
    return this.objects.has(uid);
  }

  /** A spec edit: a new generation. */
  edit(uid: string, spec: Record<string, unknown>): DatabaseObject {
    return this.update(uid, (o) => {
      o.spec = { ...o.spec, ...spec };
      o.metadata.generation = (o.metadata.generation ?? 1) + 1;
    });
  }

  /** A status write (the workflow's): a new resourceVersion, the same generation. */
  writeStatus(uid: string, status: DatabaseStatus): DatabaseObject {
    return this.update(uid, (o) => (o.status = { ...o.status, ...status }));
  }

  /** A user's delete of an object our finalizer holds: it stays, being deleted. */
  markDeleting(uid: string): DatabaseObject {
    return this.update(uid, (o) => (o.metadata.deletionTimestamp = '2026-01-01T00:00:00Z'));
  }

  /** The object gone from the apiserver (its finalizer released, or removed by hand). */
  remove(uid: string): void {
    this.objects.delete(uid);
  }

  /** A workflow running for `object` (started by an earlier watcher, say). */
  runWorkflow(object: DatabaseObject): void {
    const { namespace, name, uid } = object.metadata;
    this.running.set(uid, { namespace, name, uid });
  }

  isRunning(uid: string): boolean {
    return this.running.has(uid);
  }

  /** Lets the object's hung Temporal calls land, and its next ones answer at once. */
  unstick(uid: string): void {
    this.stuck.delete(uid);
    for (const go of this.held.get(uid) ?? []) go();
    this.held.delete(uid);
  }

  callsOf(uid: string): CallKind[] {
    return this.calls.filter((c) => c.uid === uid).map((c) => c.kind);
  }

  readonly effects: Effects = {
    start: (input) => this.call('start', input.object.metadata.uid, input),
    specChanged: (input, view) =>
      this.call('signalWithStart(specChanged)', input.object.metadata.uid, input, view),
    requestDelete: async (ref, input, view) => {
      if (input) {
        await this.call('signalWithStart(delete)', ref.uid, input, view);
        return 'signalled';
      }
      return this.signal('signal(delete)', ref, view);
    },
    objectGone: (ref) => this.signal('signal(objectGone)', ref),
    workflowId: (ref) => `database-${ref.namespace}-${ref.name}-${ref.uid}`,
    addFinalizer: async (ref) => {
      await this.kubeCall(ref.uid);
      const object = this.objects.get(ref.uid);
      if (!object || object.metadata.deletionTimestamp) return false;
      this.update(ref.uid, (o) => (o.metadata.finalizers = [FINALIZER]));
      this.journal.push(`finalizer ${ref.uid}`);
      return true;
    },
    reject: async (ref, generation, problems) => {
      await this.kubeCall(ref.uid);
      this.writeStatus(ref.uid, {
        phase: 'Failed',
        observedGeneration: generation,
        message: `invalid spec: ${problems.join('; ')}`,
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'InvalidSpec',
            message: problems.join('; '),
            lastTransitionTime: new Date(this.clock.now()).toISOString(),
            observedGeneration: generation,
          },
        ],
      });
      this.journal.push(`reject ${ref.uid}`);
    },
    event: async (ref, event) => {
      await this.kubeCall(ref.uid);
      this.events.push({ ...event, uid: ref.uid });
    },
    runningWorkflows: () => this.listRunning(),
    read: async (ref) => {
      await this.kubeCall(ref.uid);
      if (this.unreadable.has(ref.uid)) throw new Error('read timed out');
      const object = this.objects.get(ref.uid);
      return object ? structuredClone(object) : undefined;
    },
  };

  private async *listRunning(): AsyncIterable<DatabaseRef> {
    await this.temporalCall('');
    for (const ref of [...this.running.values()]) yield ref;
  }

  private update(uid: string, change: (o: DatabaseObject) => void): DatabaseObject {
    const object = this.objects.get(uid);
    if (!object) throw new Error(`no object ${uid}`);
    change(object);
    object.metadata.resourceVersion = String(this.version++);
    return this.get(uid);
  }

  private async call(
    kind: CallKind,
    uid: string,
    input: DatabaseWorkflowInput,
    view?: ObjectView,
  ): Promise<void> {
    await this.temporalCall(uid);
    const carried = view ?? input.object;
    this.running.set(uid, {
      namespace: input.object.metadata.namespace,
      name: input.object.metadata.name,
      uid,
    });
    this.land(kind, uid, carried);
  }

  private async signal(
    kind: CallKind,
    ref: DatabaseRef,
    view?: ObjectView,
  ): Promise<'signalled' | 'not-running'> {
    await this.temporalCall(ref.uid);
    if (!this.running.has(ref.uid)) return 'not-running';
    this.land(kind, ref.uid, view);
    return 'signalled';
  }

  private land(kind: CallKind, uid: string, carried: ObjectView | undefined): void {
    this.calls.push({
      kind,
      uid,
      generation: carried?.metadata.generation,
      spec: carried?.spec,
      at: this.clock.now(),
    });
    this.journal.push(`${kind} ${uid}`);
  }

  private async temporalCall(uid: string): Promise<void> {
    this.attempts.push({ uid, at: this.clock.now() });
    if (this.stuck.has(uid)) {
      await new Promise<void>((resolve) =>
        this.held.set(uid, [...(this.held.get(uid) ?? []), resolve]),
      );
    }
    await this.fault(this.temporal, () => new Error('14 UNAVAILABLE: Temporal unreachable'));
  }

  private async kubeCall(uid: string): Promise<void> {
    await this.fault(this.kube, () => new Error(`connect ECONNREFUSED (object ${uid})`));
  }

  private async fault(fault: Fault, down: () => Error): Promise<void> {
    await Promise.resolve();
    if (fault === 'down') throw down();
    if (fault === 'forbidden')
      throw new ApiException(403, 'forbidden: cannot patch databases', {}, {});
  }
}
