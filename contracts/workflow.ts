// What crosses between the watcher, the CLI and the database workflow: the workflow's name and
// input, its signals and query, and the failure types activities raise. No I/O, no SDK values
// beyond message definitions, so workflows may import it.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DatabaseRef, DatabaseSpec, Phase } from './database.js';
import type { ResolvedDatabase } from './spec.js';

export const WORKFLOW_TYPE = 'databaseWorkflow';

/** What the workflow knows of its object: identity, generation and spec. Never secrets. */
export interface DatabaseSnapshot {
  readonly metadata: DatabaseRef & { readonly generation?: number };
  readonly spec: DatabaseSpec | Record<string, unknown>;
}

/**
 * The run's stage. Each stage is its own run in the Temporal UI (continue-as-new between them):
 * `provision` creates the database, `serve` waits for changes, `modify` applies one,
 * `delete` removes it.
 */
export type Stage = 'provision' | 'serve' | 'modify' | 'delete';

export interface DatabaseWorkflowInput {
  readonly stage: Stage;
  /** the latest object the workflow has been told about */
  readonly object: DatabaseSnapshot;
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
  /** generation whose spec is in effect on the instance */
  readonly appliedGeneration?: number;
  readonly endpoint?: Endpoint;
  readonly approved?: boolean;
  /** a delete request arrived while an earlier run was busy */
  readonly deleteRequested?: boolean;
}

/** A cancelled workflow ends as Cancelled (with status Cancelled on the object), not with a result. */
export interface DatabaseWorkflowResult {
  readonly outcome: 'deleted';
  readonly deletionPolicy: string;
  readonly snapshot?: string;
}

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
}

export const specChangedSignal = defineSignal<[DatabaseSnapshot]>('specChanged');
export const deleteSignal = defineSignal<[]>('delete');
export const approveSignal = defineSignal<[{ readonly by?: string }?]>('approve');
export const retrySignal = defineSignal<[]>('retry');
export const statusQuery = defineQuery<LiveStatus>('status');

/** Failure types raised by activities; non-retryable ones end a step in phase Failed. */
export const FAILURE = {
  /** the spec cannot be provisioned as written (RDS said InvalidParameter*, quota, ...) */
  invalidSpec: 'InvalidSpec',
  /** an instance with our identifier exists but carries another object's tags */
  instanceNotOurs: 'InstanceNotOurs',
  /** RDS put the instance in a terminal state (failed, storage-full, ...) */
  instanceFailed: 'InstanceFailed',
  /** the instance vanished while we waited for it */
  instanceGone: 'InstanceGone',
  /** Vault or Consul refused the request (permissions, bad path) */
  storeRejected: 'StoreRejected',
  /** throttling, 5xx, connection errors: worth retrying */
  transient: 'Transient',
} as const;
