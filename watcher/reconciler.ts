// Ties list-watch to Temporal: every observation goes through a per-object queue (one object's
// events in order, different objects in parallel), decide() picks the call, effects carry it
// out, and only once Temporal (or Kubernetes) has acknowledged it does the watcher remember it.
// A failed call is retried with backoff; nothing is dropped.
import type { Logger } from 'pino';
import type { DatabaseObject } from '../contracts/database.js';
import {
  decide,
  handledAfter,
  type Action,
  type Observation,
  type Proven,
  type Handled,
} from './decide.js';
import { systemClock, type Clock } from './clock.js';
import type { Effects } from './effects.js';
import { isPermanentKubeError, kubeFailureKind } from './effects.js';
import type { EventType } from './list-watch.js';
import type { WatcherMetrics } from './metrics.js';
import { KeyedQueue } from './queue.js';

export interface ReconcilerOptions {
  readonly concurrency: number;
  /** the watcher's scope in words, for the Event of an object that left it */
  readonly scope: string;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** the real clock unless a test passes a fake one */
  readonly clock?: Clock;
}

interface Item {
  readonly observation: Observation;
}

export class Reconciler {
  /** what has been carried out per object UID; lost on restart, rebuilt by the first list */
  private readonly handled = new Map<string, Handled>();
  private readonly queue: KeyedQueue<Item>;
  private readonly clock: Clock;

  constructor(
    private readonly effects: Effects,
    private readonly metrics: WatcherMetrics,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.queue = new KeyedQueue<Item>(
      (uid, item, since) => this.handle(uid, item.observation, since),
      {
        concurrency: options.concurrency,
        initialBackoffMs: options.initialBackoffMs ?? 1_000,
        maxBackoffMs: options.maxBackoffMs ?? 15_000,
        clock: this.clock,
      },
      ({ key, attempt, retryInMs, error }) => {
        this.metrics.retries.inc();
        this.log.warn(
          { uid: key, attempt, retryInMs, err: error },
          'event not delivered; retrying',
        );
      },
    );
  }

  get depth(): number {
    return this.queue.depth;
  }

  observe(observation: Observation, receivedAt: number, type: EventType): Promise<void> {
    this.metrics.events.inc({ type });
    const uid = 'ref' in observation ? observation.ref.uid : observation.object.metadata.uid;
    const done = this.queue.push(uid, { observation }, receivedAt);
    this.metrics.queueDepth.set(this.queue.depth);
    return done;
  }

  close(): Promise<void> {
    return this.queue.close();
  }

  /**
   * After the first list, and then every sweep interval: a running workflow of this cluster
   * whose object is not listed may belong to an object that vanished while no watcher looked
   * (its finalizer removed by hand), or to one deleted while outside this watcher's scope. Each
   * such object is read (never inferred from the list, which a selector or a namespace list
   * narrows): one being deleted gets its delete request; one gone is reported gone (its
   * workflow orphans the database, never deletes it); one that exists outside the scope is
   * left alone (another watcher may own it).
   */
  async sweepOrphans(listed: ReadonlySet<string>): Promise<number> {
    let orphans = 0;
    for await (const ref of this.effects.runningWorkflows()) {
      if (listed.has(ref.uid)) continue;
      const fields = { object: `${ref.namespace}/${ref.name}`, uid: ref.uid };
      let current: DatabaseObject | undefined;
      try {
        current = await this.effects.read(ref);
      } catch (error: unknown) {
        this.log.warn(
          { ...fields, err: error },
          'cannot check whether the object of a running workflow exists; leaving it',
        );
        continue;
      }
      if (current && !current.metadata.deletionTimestamp) {
        this.log.info(
          fields,
          "a running workflow's object is outside this watcher's scope; left as it is",
        );
        continue;
      }
      orphans++;
      void this.observe(
        current ? { kind: 'present', object: current } : { kind: 'gone', ref },
        this.clock.now(),
        'VANISHED',
      );
    }
    return orphans;
  }

  /**
   * Deletion is proven, never inferred: an object the watch or a relist no longer shows is read
   * back. Not there, or another object (UID) under its name: vanished, which proves no delete
   * (its workflow orphans the database). There and being deleted: the usual delete. There and
   * not being deleted: it left the scope, and is released.
   */
  private async prove(observation: Observation): Promise<Proven> {
    if (observation.kind !== 'gone') return observation;
    const { ref, last } = observation;
    // the apiserver's last word on it was a user's delete: said to the workflow, which reads
    // the object back itself before it acts
    if (last?.metadata.deletionTimestamp) return { kind: 'deleted', ref, last };
    const current = await this.effects.read(ref);
    if (!current) return { kind: 'vanished', ref };
    if (current.metadata.deletionTimestamp) return { kind: 'present', object: current };
    return { kind: 'released', object: current };
  }

  private async handle(uid: string, observed: Observation, since: number): Promise<void> {
    const observation = await this.prove(observed);
    const action = decide(this.handled.get(uid), observation);
    this.metrics.actions.inc({ action: action.kind });
    const ref = 'ref' in observation ? observation.ref : observation.object.metadata;
    // `object`, not `name`: pino's own `name` field is the logger's
    const fields = { object: `${ref.namespace}/${ref.name}`, uid };
    const watched = observation.kind === 'present' ? observation.object : undefined;
    const applied = await this.apply(action, fields, watched);
    if (applied !== 'skipped') {
      if (action.kind !== 'none' && action.kind !== 'reject') {
        this.metrics.lag.observe((this.clock.now() - since) / 1_000);
      }
      const next = handledAfter(observation);
      if (next) this.handled.set(uid, next);
      else this.handled.delete(uid);
    }
    this.metrics.queueDepth.set(this.queue.depth);
  }

  /** Carries out one action; 'skipped' when the object moved on and a newer event will come. */
  private async apply(
    action: Action,
    fields: { object: string; uid: string },
    watched: DatabaseObject | undefined,
  ): Promise<'done' | 'skipped'> {
    switch (action.kind) {
      case 'none':
        this.log.debug({ ...fields, why: action.why }, 'nothing to do');
        return 'done';
      case 'reject':
        await this.effects.reject(action.ref, action.generation, action.problems);
        this.metrics.rejected.inc();
        this.log.warn(
          { ...fields, generation: action.generation, problems: action.problems },
          'invalid spec; no workflow started',
        );
        return 'done';
      case 'start':
      case 'specChanged': {
        const ref = action.input.object.metadata;
        if (action.addFinalizer && !(await this.guard(ref, fields, watched))) return 'skipped';
        if (action.kind === 'start') await this.effects.start(action.input);
        else await this.effects.specChanged(action.input, action.view);
        this.log.info(
          {
            ...fields,
            generation: ref.generation,
            workflowId: this.effects.workflowId(ref),
            call: action.kind === 'start' ? 'start' : 'signalWithStart(specChanged)',
          },
          action.kind === 'start' ? 'workflow started' : 'workflow told of a new generation',
        );
        if (action.kind === 'start' && action.addFinalizer) {
          // off the object's critical path: an Event is for people, and best effort
          void this.notify(action.input.object.metadata, {
            type: 'Normal',
            reason: 'WorkflowStarted',
            message: `provisioning workflow ${this.effects.workflowId(ref)} started`,
          });
        }
        return 'done';
      }
      case 'release': {
        const message =
          `rdsflow stopped acting on this Database: it left the watcher's scope (${this.options.scope}). ` +
          'Nothing was deleted: its RDS instance, credentials and workflow are as they were. ' +
          'Bring it back into the scope and rdsflow manages it again.';
        this.log.warn(fields, 'object left the watcher scope; released, nothing deleted');
        void this.notify(action.ref, { type: 'Warning', reason: 'Released', message });
        return 'done';
      }
      case 'delete':
      case 'objectGone':
        await this.disappearance(action, fields);
        return 'done';
    }
  }

  /**
   * A user's delete, or an object gone without one: told to the workflow, which reads the
   * object back before it acts (a delete only on a deletionTimestamp; absence orphans).
   */
  private async disappearance(
    action: Extract<Action, { kind: 'delete' | 'objectGone' }>,
    fields: { object: string; uid: string },
  ): Promise<void> {
    const workflowId = this.effects.workflowId(action.ref);
    if (action.kind === 'objectGone') {
      const outcome = await this.effects.objectGone(action.ref);
      this.log.warn(
        { ...fields, workflowId, outcome },
        'object gone without a delete; its workflow reads it back and keeps the database',
      );
      return;
    }
    const outcome = await this.effects.requestDelete(action.ref, action.input, action.view);
    this.log.info({ ...fields, workflowId, outcome, started: !!action.input }, 'delete requested');
  }

  /** Adds our finalizer before anything starts; false when the object is gone or deleting. */
  private async guard(
    ref: { namespace: string; name: string; uid: string },
    fields: Record<string, unknown>,
    watched: DatabaseObject | undefined,
  ): Promise<boolean> {
    try {
      if (await this.effects.addFinalizer(ref, watched)) return true;
    } catch (error: unknown) {
      // a refusal is retried with backoff like any failure, but said loudly: it needs a person
      if (isPermanentKubeError(error)) {
        this.metrics.errors.inc({ stage: 'finalizer' });
        const kind = kubeFailureKind(error);
        const why = kind === 'permission' ? 'check the watcher RBAC' : `a ${kind} failure`;
        this.log.error({ ...fields, err: error, kind }, `finalizer refused; ${why}`);
      }
      throw error;
    }
    this.log.info(
      fields,
      'object gone or being deleted before it was guarded; waiting for its next event',
    );
    return false;
  }

  /** Best effort: an Event that cannot be written is logged, never retried. */
  private async notify(
    ref: { namespace: string; name: string; uid: string },
    event: Parameters<Effects['event']>[1],
  ): Promise<void> {
    try {
      await this.effects.event(ref, event);
    } catch (error: unknown) {
      this.log.debug({ object: `${ref.namespace}/${ref.name}`, err: error }, 'event not recorded');
    }
  }
}
