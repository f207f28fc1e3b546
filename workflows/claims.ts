// A workflow acts on its own object only. Every message that names an object (a spec change, a
// delete request, a report that the object is gone) is checked against the workflow's own
// identity, fixed at its start: the same namespace, name, UID and cluster, or it is refused,
// whoever sent it (the watcher, the rdsflow CLI, the stock temporal CLI).
import { ApplicationFailure, isCancellation, log, workflowInfo } from '@temporalio/workflow';
import type { DatabaseRef } from '../contracts/database.js';
import { refFromWorkflowId } from '../contracts/names.js';
import type { ObjectClaim } from '../contracts/workflow.js';
import { describeFailure } from './failures.js';
import { quick } from './profiles.js';

/** The object a workflow was started for, and its cluster (absent for hand-made test runs). */
export interface Identity extends DatabaseRef {
  readonly cluster?: string;
}

export function identityOf(claim: ObjectClaim): Identity {
  const { namespace, name, uid } = claim.metadata;
  return { namespace, name, uid, ...(claim.cluster ? { cluster: claim.cluster } : {}) };
}

/**
 * Why a claim does not name this workflow's object, or undefined when it does. The answer says
 * which part differs, not the other object's values: it goes on this object's Events.
 */
export function claimProblem(own: Identity, claim: unknown): string | undefined {
  const metadata = (claim as ObjectClaim | undefined)?.metadata;
  if (typeof metadata !== 'object' || metadata === null) return 'it names no object';
  const other = claim as ObjectClaim;
  const differs = [
    metadata.namespace !== own.namespace ? 'namespace' : undefined,
    metadata.name !== own.name ? 'name' : undefined,
    metadata.uid !== own.uid ? 'UID' : undefined,
    (other.cluster ?? '') !== (own.cluster ?? '') ? 'cluster' : undefined,
  ].filter((part): part is string => part !== undefined);
  return differs.length > 0
    ? `it names another object (its ${differs.join(', ')} differ${differs.length > 1 ? '' : 's'})`
    : undefined;
}

/** A workflow whose ID names another object than its input does must not act at all. */
export function assertIdMatches(own: Identity): void {
  const fromId = refFromWorkflowId(workflowInfo().workflowId);
  if (!fromId) return;
  const problem = claimProblem(own, { metadata: fromId, cluster: fromId.cluster });
  if (problem) {
    throw ApplicationFailure.nonRetryable(
      `workflow ${workflowInfo().workflowId} was started with an input that names another ` +
        `object than its ID (${problem}); it does nothing`,
      'IdentityMismatch',
    );
  }
}

/** A Warning Event on the object and a line in the worker's log; never stops the story. */
export async function warn(ref: DatabaseRef, reason: string, message: string): Promise<void> {
  try {
    await quick.recordEvent(ref, { type: 'Warning', reason, message });
  } catch (error: unknown) {
    if (isCancellation(error)) throw error;
    log.warn('event not recorded', { reason, error: describeFailure(error).message });
  }
}

/** A refused message: said in the worker's log (with what it named) and on the object. */
export async function refuse(
  own: Identity,
  signal: string,
  why: string,
  claim?: unknown,
): Promise<void> {
  const named = (claim as ObjectClaim | undefined)?.metadata;
  log.warn('signal refused', {
    signal,
    why,
    named: named ? `${named.namespace}/${named.name} (uid ${named.uid})` : 'nothing',
    cluster: (claim as ObjectClaim | undefined)?.cluster ?? null,
  });
  await warn(
    own,
    'SignalRefused',
    `A ${signal} signal was refused and not applied: ${why}. rdsflow acts on a Database's ` +
      'own requests only (the watcher sends them from what Kubernetes says of the object).',
  );
}
