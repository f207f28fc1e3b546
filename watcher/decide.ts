// The watcher's one decision, as a pure function: given what this watcher last told Temporal
// about an object (if anything) and what Kubernetes says now, which call is due? No I/O, so every
// rule is unit-tested and two watchers holding the same facts decide the same thing.
import type { DatabaseObject, DatabaseRef } from '../contracts/database.js';
import { FINALIZER, refProblem } from '../contracts/names.js';
import { resolveDatabase } from '../contracts/spec.js';
import type { ObjectView, DatabaseWorkflowInput } from '../contracts/workflow.js';
import { viewOf } from '../kube/databases.js';

export { viewOf };

/** What this watcher has handled for one object (by UID). */
export interface Handled {
  readonly generation: number;
  readonly deleting: boolean;
}

/**
 * What Kubernetes says of an object. `gone` is only what the watch or a relist reported (a
 * DELETED event, an object missing from a list) and proves nothing: an object that left the
 * watcher's scope (a label selector, a namespace list) is reported the same way. The reconciler
 * reads the object before deciding and turns `gone` into `deleted` (its last state had a
 * deletionTimestamp: a user's delete), `vanished` (not found, or another UID: proves no
 * delete), `present` (being deleted) or `released` (still there, outside the scope).
 */
export type Observation =
  | { readonly kind: 'present'; readonly object: DatabaseObject }
  | { readonly kind: 'gone'; readonly ref: DatabaseRef; readonly last?: DatabaseObject }
  | { readonly kind: 'deleted'; readonly ref: DatabaseRef; readonly last: DatabaseObject }
  | { readonly kind: 'vanished'; readonly ref: DatabaseRef }
  | { readonly kind: 'released'; readonly object: DatabaseObject };

/** An observation whose meaning has been proven by reading the object: what decide() takes. */
export type Proven = Exclude<Observation, { readonly kind: 'gone' }>;

export type Action =
  /** nothing to tell Temporal; `why` is for the debug log */
  | { readonly kind: 'none'; readonly why: string }
  /** start the entity workflow, or reuse the running one (new object, or first sighting) */
  | {
      readonly kind: 'start';
      readonly input: DatabaseWorkflowInput;
      /** add our finalizer first, so the object cannot vanish unnoticed */
      readonly addFinalizer: boolean;
    }
  /** tell the workflow about a new generation, starting it if it is not running */
  | {
      readonly kind: 'specChanged';
      readonly input: DatabaseWorkflowInput;
      readonly view: ObjectView;
      readonly addFinalizer: boolean;
    }
  /**
   * The object is being deleted. With `input`: signal-with-start (our finalizer holds the object,
   * so the workflow must run to release it). Without: signal a running workflow, if any. The
   * object as last observed goes with the request, so the deletion applies its newest spec.
   */
  | {
      readonly kind: 'delete';
      readonly ref: DatabaseRef;
      readonly input?: DatabaseWorkflowInput;
      readonly view?: ObjectView;
    }
  /**
   * The object vanished without a delete the watcher could see (its finalizer removed by hand,
   * a restore): the running workflow, if any, is told; it reads the object back and orphans the
   * database (kept, marked released), never deletes it.
   */
  | { readonly kind: 'objectGone'; readonly ref: DatabaseRef }
  /**
   * The object left the watcher's scope but exists: rdsflow stops acting on it (no delete),
   * says so on the object, and takes it up again when it is back in scope.
   */
  | { readonly kind: 'release'; readonly ref: DatabaseRef }
  /** the object cannot be provisioned as stored: say so on the object, start nothing */
  | {
      readonly kind: 'reject';
      readonly ref: DatabaseRef;
      readonly generation: number;
      readonly problems: readonly string[];
    };

export const REJECTED_REASON = 'InvalidSpec';

/** Why an object from the API cannot even be addressed, or undefined when it can. */
export function malformed(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return 'not an object';
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return 'no metadata';
  const { namespace, name, uid, generation } = metadata as Record<string, unknown>;
  if (typeof namespace !== 'string' || typeof name !== 'string') return 'no namespace or name';
  if (typeof uid !== 'string' || uid.length === 0) return 'no uid';
  if (generation !== undefined && (typeof generation !== 'number' || generation < 0))
    return 'metadata.generation is not a number';
  return refProblem(namespace, name);
}

function refOf(object: DatabaseObject): DatabaseRef {
  const { namespace, name, uid } = object.metadata;
  return { namespace, name, uid };
}

/** What the watcher records once an action on this observation has been carried out. */
export function handledAfter(observation: Observation): Handled | undefined {
  if (observation.kind !== 'present') return undefined;
  const { metadata } = observation.object;
  return {
    generation: metadata.generation ?? 1,
    deleting: metadata.deletionTimestamp !== undefined,
  };
}

const hasFinalizer = (object: DatabaseObject): boolean =>
  (object.metadata.finalizers ?? []).includes(FINALIZER);

/** An object being deleted: ask for its deletion once, and again if its spec moves on. */
function decideDeleting(handled: Handled | undefined, object: DatabaseObject): Action {
  // a spec edited after the delete (a policy, say) is told too: the deletion applies it
  if (handled?.deleting && handled.generation >= (object.metadata.generation ?? 1)) {
    return { kind: 'none', why: 'delete already requested' };
  }
  const ref = refOf(object);
  const view = viewOf(object);
  if (!hasFinalizer(object)) return { kind: 'delete', ref, view };
  return { kind: 'delete', ref, view, input: { stage: 'delete', object: view } };
}

/** A spec that cannot be provisioned as stored: say so once, start nothing. */
function decideInvalid(object: DatabaseObject, problems: readonly string[]): Action {
  const status = object.status;
  const generation = object.metadata.generation ?? 1;
  const said =
    (status?.observedGeneration ?? 0) >= generation &&
    status?.phase === 'Failed' &&
    status.conditions?.some((c) => c.type === 'Ready' && c.reason === REJECTED_REASON);
  if (said) return { kind: 'none', why: 'invalid spec already reported' };
  return { kind: 'reject', ref: refOf(object), generation, problems };
}

/** A live object with a generation this watcher has not handled. */
function decideGeneration(handled: Handled | undefined, object: DatabaseObject): Action {
  const generation = object.metadata.generation ?? 1;
  const reported = (object.status?.observedGeneration ?? 0) >= generation;
  const resolved = resolveDatabase(viewOf(object));
  if (!resolved.ok) return decideInvalid(object, resolved.problems);
  if (object.status?.phase === 'Cancelled' && reported) {
    return { kind: 'none', why: 'cancelled by an operator; a new generation starts it again' };
  }
  const input: DatabaseWorkflowInput = { stage: 'provision', object: viewOf(object) };
  // first sighting of a new object, or of one whose workflow has reported this generation: a
  // plain start (reusing a running execution) adds nothing to a running workflow's history.
  // Otherwise the generation may have moved while no watcher looked: tell the workflow.
  if (!handled && (reported || generation === 1)) {
    return { kind: 'start', input, addFinalizer: !hasFinalizer(object) };
  }
  return { kind: 'specChanged', input, view: viewOf(object), addFinalizer: !hasFinalizer(object) };
}

export function decide(handled: Handled | undefined, observation: Proven): Action {
  if (observation.kind === 'deleted') {
    // normally the workflow released the finalizer and is done; a running one reads the object
    // back before it acts on this (and finds it gone: the finalizer was removed by hand)
    return { kind: 'delete', ref: observation.ref, view: viewOf(observation.last) };
  }
  if (observation.kind === 'vanished') return { kind: 'objectGone', ref: observation.ref };
  if (observation.kind === 'released') return { kind: 'release', ref: refOf(observation.object) };
  const object = observation.object;
  if (object.metadata.deletionTimestamp !== undefined) return decideDeleting(handled, object);
  if (handled && handled.generation >= (object.metadata.generation ?? 1)) {
    return { kind: 'none', why: 'no new generation (status or metadata change)' };
  }
  return decideGeneration(handled, object);
}
