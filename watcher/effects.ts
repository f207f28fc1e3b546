// The watcher's side effects: the Temporal calls each decision maps to, and the few Kubernetes
// writes it makes itself (our finalizer, a rejected object's status and Event). Every Temporal
// call is idempotent by construction (the workflow ID is the object's; a running execution is
// reused), so a retried or duplicated call, or a second watcher, changes nothing.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { DatabaseObject, DatabaseRef } from '../contracts/database.js';
import { refFromWorkflowId, taskQueueFor, workflowIdFor } from '../contracts/names.js';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes.js';
import {
  WORKFLOW_TYPE,
  deleteSignal,
  objectGoneSignal,
  specChangedSignal,
  type ObjectView,
  type DatabaseWorkflowInput,
} from '../contracts/workflow.js';
import {
  addFinalizer,
  currentObject,
  KnownObjects,
  recordEvent,
  writeStatus,
  type DatabaseApi,
  type DatabaseEvent,
  type EventApi,
} from '../kube/databases.js';
import { FAILURE_KIND, type FailureKind } from '../contracts/failures.js';
import { verdictOf } from '../runtime/failure-type.js';
import { REJECTED_REASON } from './decide.js';

export const COMPONENT = 'rdsflow-watcher';

export type TemporalCall = 'start' | 'signalWithStart' | 'signal';

export interface Effects {
  start(input: DatabaseWorkflowInput): Promise<void>;
  specChanged(input: DatabaseWorkflowInput, view: ObjectView): Promise<void>;
  /**
   * With `input`: signal-with-start; without: signal a running workflow, if there is one. The
   * object as last observed (`view`) goes with the signal.
   */
  requestDelete(
    ref: DatabaseRef,
    input?: DatabaseWorkflowInput,
    view?: ObjectView,
  ): Promise<'signalled' | 'not-running'>;
  /** tells a running workflow its object is gone (it reads it back; absence orphans) */
  objectGone(ref: DatabaseRef): Promise<'signalled' | 'not-running'>;
  /** the workflow ID of an object of this watcher's cluster */
  workflowId(ref: DatabaseRef): string;
  /** false when the object is gone or already being deleted; `watched` saves a read */
  addFinalizer(ref: DatabaseRef, watched?: DatabaseObject): Promise<boolean>;
  reject(ref: DatabaseRef, generation: number, problems: readonly string[]): Promise<void>;
  event(ref: DatabaseRef, event: DatabaseEvent): Promise<void>;
  /** objects of this cluster whose entity workflow runs */
  runningWorkflows(): AsyncIterable<DatabaseRef>;
  /** the object as it is now, if it still exists with this UID */
  read(ref: DatabaseRef): Promise<DatabaseObject | undefined>;
}

/**
 * The kind of a Kubernetes failure, read as the worker's activities read it
 * (runtime/failure-type.ts): `permission` (401/403), `conflict` (a Status NotFound: the object
 * or its namespace is gone), `bug` (a request refused as malformed, an error with no status),
 * or `transient` (5xx, 429, 409, a bare 404, timeouts, connection errors).
 */
export function kubeFailureKind(error: unknown): FailureKind {
  return FAILURE_KIND[verdictOf('Kubernetes', error).type];
}

/** A Kubernetes answer that retrying will not change: every kind but transient. */
export function isPermanentKubeError(error: unknown): boolean {
  return kubeFailureKind(error) !== 'transient';
}

export interface EffectDeps {
  readonly temporal: Client;
  /** the configured task queue; this cluster's workflows run on its per-cluster queue */
  readonly taskQueue: string;
  /** this cluster's identity (kube/cluster.ts): in every workflow ID, queue and message */
  readonly cluster: string;
  readonly kube: DatabaseApi;
  readonly events: EventApi;
  /** bounds each Temporal call, so an unreachable server fails the call and it is retried */
  readonly callTimeoutMs: number;
  readonly onCall: (call: TemporalCall, outcome: 'ok' | 'error') => void;
  /**
   * Leader election's fence: until when (ms since epoch) a call may still land; no Temporal call
   * starts once it has passed, and none runs past it.
   */
  readonly fence?: () => number;
  /** told once when the namespace lacks rdsflow's search attributes */
  readonly onSearchAttributesMissing?: (missing: readonly string[]) => void;
  readonly now?: () => Date;
}

const RECHECK_MS = 5 * 60_000;

/**
 * Whether this Temporal namespace has rdsflow's search attributes: checked on first use, a
 * yes remembered, a no (or an unanswerable question, e.g. no operator rights) re-asked every
 * 5 minutes, with one warning that says how to register them.
 */
function registrationCheck(deps: EffectDeps): () => Promise<boolean> {
  let known: boolean | undefined;
  let checkedAt = 0;
  let warned = false;
  return async () => {
    if (known === true || (known === false && Date.now() - checkedAt < RECHECK_MS)) return known;
    checkedAt = Date.now();
    try {
      const { customAttributes } = await deps.temporal.connection.withDeadline(
        Date.now() + deps.callTimeoutMs,
        () =>
          deps.temporal.connection.operatorService.listSearchAttributes({
            namespace: deps.temporal.options.namespace,
          }),
      );
      const missing = Object.values(SEARCH_ATTRIBUTES)
        .map((key) => key.name)
        .filter((name) => !(name in (customAttributes ?? {})));
      known = missing.length === 0;
      if (!known && !warned) {
        warned = true;
        deps.onSearchAttributesMissing?.(missing);
      }
    } catch (error: unknown) {
      // PERMISSION_DENIED or UNIMPLEMENTED (e.g. a hosted Temporal): the question has no answer
      const code = (error as { code?: unknown }).code;
      if (code !== 7 && code !== 12) throw error; // unreachable: the call is retried anyway
      known = false;
    }
    return known;
  };
}

/** A Temporal call bounded by the call timeout and the leader fence, counted by outcome. */
function timedCalls(deps: EffectDeps) {
  return async <T>(call: TemporalCall, fn: () => Promise<T>): Promise<T> => {
    const until = deps.fence?.() ?? Number.POSITIVE_INFINITY;
    if (until <= Date.now()) {
      deps.onCall(call, 'error');
      throw new Error(`${call} not sent: this watcher may no longer hold the leader lease`);
    }
    try {
      const result = await deps.temporal.connection.withDeadline(
        Math.min(Date.now() + deps.callTimeoutMs, until),
        fn,
      );
      deps.onCall(call, 'ok');
      return result;
    } catch (error: unknown) {
      // a workflow that is not running is an answer, not a failed call
      deps.onCall(call, error instanceof WorkflowNotFoundError ? 'ok' : 'error');
      throw error;
    }
  };
}

/** The start options of an object's workflow: ID, input, what the UI shows, search attributes. */
/**
 * The input with the object's version as the watcher's finalizer patch left it: the workflow
 * hands it to its first status write, which then needs no read.
 */
function withLatest(input: DatabaseWorkflowInput, known: KnownObjects): DatabaseWorkflowInput {
  const ref = input.object.metadata;
  const latest = known.get(ref);
  if (!latest?.metadata.resourceVersion) return input;
  known.forget(ref);
  const conditions = latest.status?.conditions;
  const finalizers = latest.metadata.finalizers;
  const version = {
    resourceVersion: latest.metadata.resourceVersion,
    ...(conditions ? { conditions } : {}),
    ...(finalizers ? { finalizers } : {}),
  };
  return { ...input, object: { ...input.object, version } };
}

/** An object view as this cluster's watcher sends it: naming the cluster the object lives in. */
function claimed<T extends ObjectView | undefined>(view: T, cluster: string): T {
  return view ? { ...view, cluster } : view;
}

function startOptions(deps: EffectDeps, known: KnownObjects) {
  const searchAttributes = registrationCheck(deps);
  return async (given: DatabaseWorkflowInput) => {
    const latest = withLatest(given, known);
    const input = { ...latest, object: claimed(latest.object, deps.cluster) };
    const { metadata, spec } = input.object;
    const engine = typeof spec['engine'] === 'string' ? spec['engine'] : 'unknown';
    const database = `${metadata.namespace}/${metadata.name}`;
    const phase = input.stage === 'delete' ? 'Deleting' : 'Pending';
    return {
      taskQueue: taskQueueFor(deps.taskQueue, deps.cluster),
      workflowId: workflowIdFor(metadata, deps.cluster),
      args: [input] as [DatabaseWorkflowInput],
      // what the Temporal UI shows in its list and on the run's page
      staticSummary: `${engine} database ${database}`,
      staticDetails: `Kubernetes Database \`${database}\` (uid ${metadata.uid}); stage ${input.stage}`,
      memo: { database, engine },
      ...((await searchAttributes())
        ? {
            typedSearchAttributes: [
              { key: SEARCH_ATTRIBUTES.namespace, value: metadata.namespace },
              { key: SEARCH_ATTRIBUTES.name, value: metadata.name },
              { key: SEARCH_ATTRIBUTES.engine, value: engine },
              { key: SEARCH_ATTRIBUTES.phase, value: phase },
            ],
          }
        : {}),
    };
  };
}

type TemporalEffects = Pick<
  Effects,
  'start' | 'specChanged' | 'requestDelete' | 'objectGone' | 'runningWorkflows' | 'workflowId'
>;

function temporalEffects(deps: EffectDeps, known: KnownObjects): TemporalEffects {
  const timed = timedCalls(deps);
  const options = startOptions(deps, known);
  const { workflow } = deps.temporal;
  const idOf = (ref: DatabaseRef) => workflowIdFor(ref, deps.cluster);
  /** a signal to a running workflow; one that has finished has nothing left to do */
  const signalRunning = async (ref: DatabaseRef, send: (id: string) => Promise<void>) => {
    try {
      await timed('signal', () => send(idOf(ref)));
      return 'signalled' as const;
    } catch (error: unknown) {
      if (error instanceof WorkflowNotFoundError) return 'not-running' as const;
      throw error;
    }
  };
  return {
    workflowId: idOf,
    async start(input) {
      await timed('start', async () =>
        workflow.start(WORKFLOW_TYPE, {
          ...(await options(input)),
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        }),
      );
    },

    async specChanged(input, view) {
      await timed('signalWithStart', async () =>
        workflow.signalWithStart(WORKFLOW_TYPE, {
          ...(await options(input)),
          signal: specChangedSignal,
          signalArgs: [claimed(view, deps.cluster)],
        }),
      );
    },

    async requestDelete(ref, input, view) {
      // the object as last observed, or at least which object: a workflow refuses a nameless one
      const signalArgs: [ObjectView] = [claimed(view ?? { metadata: ref, spec: {} }, deps.cluster)];
      if (input) {
        await timed('signalWithStart', async () =>
          workflow.signalWithStart(WORKFLOW_TYPE, {
            ...(await options(input)),
            signal: deleteSignal,
            signalArgs,
          }),
        );
        return 'signalled';
      }
      return signalRunning(ref, (id) => workflow.getHandle(id).signal(deleteSignal, ...signalArgs));
    },

    objectGone: (ref) =>
      signalRunning(ref, (id) =>
        workflow.getHandle(id).signal(objectGoneSignal, { metadata: ref, cluster: deps.cluster }),
      ),

    runningWorkflows: () => clusterWorkflows(deps),
  };
}

/** The objects of this cluster whose workflow runs: by its queue, each ID checked again. */
async function* clusterWorkflows(deps: EffectDeps): AsyncIterable<DatabaseRef> {
  const queue = taskQueueFor(deps.taskQueue, deps.cluster);
  const query =
    `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' ` +
    `AND TaskQueue = '${queue.replace(/'/g, "\\'")}'`;
  for await (const execution of deps.temporal.workflow.list({ query })) {
    const ref = refFromWorkflowId(execution.workflowId);
    // another cluster's workflow is never this watcher's to act on, whatever its queue
    if (ref?.cluster === deps.cluster) {
      const { namespace, name, uid } = ref;
      yield { namespace, name, uid };
    }
  }
}

type KubeEffects = Pick<Effects, 'addFinalizer' | 'reject' | 'event' | 'read'>;

/** The watcher's own Kubernetes writes (finalizer, a rejected object's status and Event). */
function kubeEffects(deps: EffectDeps, known: KnownObjects): KubeEffects {
  const now = deps.now ?? (() => new Date());
  const event: Effects['event'] = async (ref, what) => {
    try {
      await recordEvent(deps.events, ref, what, COMPONENT, now());
    } catch (error: unknown) {
      if (!isPermanentKubeError(error)) throw error;
    }
  };
  return {
    addFinalizer: (ref, watched) => addFinalizer(deps.kube, ref, watched, known),
    read: (ref) => currentObject(deps.kube, ref),
    event,
    async reject(ref, generation, problems) {
      const message = `invalid spec: ${problems.join('; ')}`;
      try {
        await writeStatus(
          deps.kube,
          ref,
          { phase: 'Failed', reason: REJECTED_REASON, message, observedGeneration: generation },
          now(),
        );
      } catch (error: unknown) {
        // the Event below still tells the user; retrying a refused write would only storm
        if (!isPermanentKubeError(error)) throw error;
      }
      await event(ref, { type: 'Warning', reason: REJECTED_REASON, message });
    },
  };
}

export function createEffects(deps: EffectDeps): Effects {
  // objects as the finalizer patch left them, until the start that follows hands them on
  const known = new KnownObjects(1_000);
  return { ...temporalEffects(deps, known), ...kubeEffects(deps, known) };
}
