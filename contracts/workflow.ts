// What crosses between the watcher, the CLI and the database workflow: the workflow's name and
// input, its signals and query, and the failure types activities raise. No I/O, no SDK values
// beyond message definitions, so workflows may import it.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  Condition,
  DatabaseRef,
  DatabaseSpec,
  DeletionPolicy,
  PendingApproval,
  Phase,
  StatusUpdate,
} from './database.js';
import type { DatabaseNames, ResolvedDatabase } from './resolved.js';

export const WORKFLOW_TYPE = 'databaseWorkflow';

/**
 * Which object (of which cluster) a message is about. A workflow acts on its own object only:
 * a signal whose claim names another namespace, name, UID or cluster is refused.
 */
export interface ObjectClaim {
  readonly metadata: DatabaseRef & { readonly generation?: number };
  /** the identity of the object's cluster (contracts/names.ts CLUSTER_ID_PATTERN) */
  readonly cluster?: string;
}

/**
 * The workflow's view of its object: identity, generation and spec as the watcher or a read
 * back found them. Never secrets (the words used for it: contracts/README.md).
 */
export interface ObjectView extends ObjectClaim {
  readonly spec: DatabaseSpec | Record<string, unknown>;
  /**
   * The object's version as the watcher last observed it, handed on to status writes: a write
   * computed from it needs no read first (a compare-and-swap: a version that moved on is read
   * again).
   */
  readonly version?: ObjectVersion;
}

export interface ObjectVersion {
  readonly resourceVersion: string;
  readonly conditions?: Condition[];
  /** the finalizers at that version: rdsflow's there proves the watcher guarded the object */
  readonly finalizers?: string[];
}

/**
 * The run's stage. Each stage is its own run in the Temporal UI (continue-as-new between them):
 * `provision` creates the database, `serve` waits for changes, `modify` applies one,
 * `delete` removes it (a user deleted the object), `orphan` keeps it and marks it released
 * (the object vanished without a delete: its finalizer removed by hand, a restore).
 */
export type Stage = 'provision' | 'serve' | 'modify' | 'delete' | 'orphan';

export interface DatabaseWorkflowInput {
  readonly stage: Stage;
  /** the latest object the workflow has been told about */
  readonly object: ObjectView;
  /** what earlier runs established, carried across continue-as-new */
  readonly carried?: CarriedState;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface CarriedState {
  /** the resolved spec in effect on the instance (names and settings; never secrets) */
  readonly applied?: ResolvedDatabase;
  /**
   * The resolved spec a create (or restore) was sent with, before the instance was ever
   * available: where it and its parameter group may exist, and what a later generation may not
   * change (a failed provisioning's retry, a delete, a cleanup look there)
   */
  readonly attempted?: ResolvedDatabase;
  /** generation whose spec is in effect on the instance */
  readonly appliedGeneration?: number;
  readonly endpoint?: Endpoint;
  /**
   * The instance's ARN as RDS gave it when it was created or adopted: the account and region
   * where a "not found" answer is believed (a delete trusts no answer from elsewhere).
   */
  readonly instanceArn?: string;
  /** the newest generation a person approved (`rdsflow approve`) */
  readonly approvedGeneration?: number;
  /** a proven delete request arrived while an earlier run was busy */
  readonly deleteRequested?: boolean;
  /** the object was proven gone without a delete while an earlier run was busy */
  readonly orphanRequested?: boolean;
  /**
   * Parameters set at a reboot that has not happened yet (static ones, RDS applies them when the
   * instance restarts): shown in status.parameters.pendingReboot while the instance says so
   */
  readonly pendingReboot?: readonly string[];
  /** the newest status an earlier run could not write to the object: written again here */
  readonly unwrittenStatus?: StatusUpdate;
}

/**
 * What a deletion did to the RDS instance: `deleted` (and gone), `retained` (tagged as
 * released, credentials kept), `absent` (nothing there), `not-ours` (another owner's instance
 * under our identifier: left untouched), `released` (kept and marked released: the object
 * vanished without a delete).
 */
export type InstanceOutcome = 'deleted' | 'retained' | 'absent' | 'not-ours' | 'released';

/**
 * How the workflow ended: `deleted` (a user deleted the object; the policy was applied) or
 * `orphaned` (the object vanished without a delete; everything was kept and marked released).
 * A cancelled workflow ends as Cancelled (status Cancelled on the object), not with a result.
 */
export interface DatabaseWorkflowResult {
  readonly outcome: 'deleted' | 'orphaned';
  readonly deletionPolicy: string;
  /** the final snapshot, only when RDS really took it */
  readonly snapshot?: string;
  readonly instance?: InstanceOutcome;
}

/** The delete step's request: one deletion of one instance, proven ours at the moment of it. */
export interface DeleteInstanceRequest {
  readonly names: DatabaseNames;
  /**
   * The least protective policy the deletion may apply; the object's newest policy, read right
   * before the destructive call, wins when it protects more (a switch to Retain while waiting).
   */
  readonly policy: DeletionPolicy;
  /** unique per deletion (finalSnapshotIdentifier) */
  readonly finalSnapshot: string;
  /**
   * A cancel's rollback: delete only an instance whose `created-by-run` tag names this run,
   * and never retag; anything else is left as it is.
   */
  readonly createdByRun?: string;
  /** where the instance was created (CarriedState.instanceArn): "not found" is proven there */
  readonly expectedArn?: string;
}

/**
 * What deleteDbInstance did: `deleting` (RDS accepted, or was already deleting ours), `absent`,
 * `retained`, `kept` (a rollback found nothing this run created), `orphaned` (the object
 * vanished before the destructive call: nothing was deleted).
 */
export interface DeleteInstanceResult {
  readonly state: 'deleting' | 'absent' | 'retained' | 'kept' | 'orphaned';
  /** the policy applied: the request's, or the object's newer and more protective one */
  readonly policy?: DeletionPolicy;
  /** the final snapshot RDS was asked for */
  readonly snapshot?: string;
}

/**
 * The object as the apiserver has it, read back by its workflow on every message that names
 * it (a delete request, a spec change, a report that it is gone): only a `deletionTimestamp` (a
 * user's delete held by the finalizer) proves a delete. `deleting`: there, same UID, being
 * deleted; `gone`: not found, or another object (UID) under the name (the database is orphaned,
 * never deleted); `present`: there and not being deleted. The object read is what is applied.
 */
export type ObjectReading =
  | { readonly state: 'deleting'; readonly object: ObjectView }
  | { readonly state: 'gone'; readonly replacedBy?: string }
  | { readonly state: 'present'; readonly object: ObjectView };

/** Live status for operators (`rdsflow describe`, the Temporal UI's query tab). */
export interface LiveStatus {
  readonly phase: Phase;
  readonly stage: Stage;
  /** the step running now, e.g. `waitUntilAvailable` */
  readonly step: string;
  /** attempt of the current step (1 on the first try) */
  readonly attempt: number;
  readonly lastError?: string;
  readonly endpoint?: Endpoint;
  readonly observedGeneration?: number;
  readonly message: string;
  /** the generation waiting for `rdsflow approve`, and what it asks for */
  readonly awaitingApproval?: PendingApproval;
}

export const specChangedSignal = defineSignal<[ObjectView]>('specChanged');
/**
 * The object is being deleted. The watcher sends the object as last observed, so a policy edited
 * just before the delete is the policy applied. The workflow reads the object back before it
 * acts: only a deletionTimestamp proves a delete, whoever sent the signal.
 */
export const deleteSignal = defineSignal<[ObjectView?]>('delete');
/**
 * The watcher no longer finds the object (not found, or another UID under its name). The
 * workflow reads it back too; absence orphans the database (kept, marked released), never
 * deletes it.
 */
export const objectGoneSignal = defineSignal<[ObjectClaim?]>('objectGone');
/** Approves one generation: a newer spec needs an approval of its own. */
export interface Approval {
  readonly generation?: number;
  readonly by?: string;
}
export const approveSignal = defineSignal<[Approval?]>('approve');
export const retrySignal = defineSignal<[]>('retry');
export const statusQuery = defineQuery<LiveStatus>('status');

// the failure types activities raise, with their kinds and advice: contracts/failures.ts
export { FAILURE } from './failures.js';
