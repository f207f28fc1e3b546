// The one set of failure kinds every adapter raises (RDS and STS, Vault, Consul, Kubernetes),
// with the advice a user reads in the Database's status. A kind decides what is retried; a
// failure's type (the ApplicationFailure type, the status condition's reason) names it or one of
// its specific outcomes. No I/O: workflows import it to read the kind of a failure.

/**
 * What went wrong, in the terms that decide what happens next:
 * - `invalid-spec`: the spec cannot be provisioned as written; nothing is retried;
 * - `not-ours`: what sits under our name belongs to another object; left untouched;
 * - `permission`: a system refused the worker's credentials; a person must grant them;
 * - `quota`: an account limit is reached; a person must raise it or free resources;
 * - `conflict`: the resource's state (or the store's setup) forbids the step; a person looks;
 * - `transient`: throttling, 5xx, connection errors, timeouts: retried with a jittered delay;
 * - `bug`: an error no adapter knows (a TypeError, no status): retried a few times, then Failed.
 */
export type FailureKind =
  'invalid-spec' | 'not-ours' | 'permission' | 'quota' | 'conflict' | 'transient' | 'bug';

/** The failure types activities raise; non-retryable ones end a step in phase Failed. */
export const FAILURE = {
  /** the spec cannot be provisioned as written (RDS said InvalidParameter*, ...) */
  invalidSpec: 'InvalidSpec',
  /** AWS, Kubernetes, Vault or Consul refused the worker's credentials (401/403, AccessDenied) */
  permissionDenied: 'PermissionDenied',
  /** an AWS account quota is reached (InstanceQuotaExceeded, StorageQuotaExceeded, ...) */
  quotaExceeded: 'QuotaExceeded',
  /** RDS refuses the request in the instance's current state (InvalidDBInstanceState) */
  conflict: 'Conflict',
  /** throttling, 5xx, connection errors: worth retrying */
  transient: 'Transient',
  /** an error no adapter classifies (a bug in rdsflow): retried a few times, then Failed */
  bug: 'Bug',
  /** an instance with our identifier exists but carries another object's tags */
  instanceNotOurs: 'InstanceNotOurs',
  /**
   * a Vault secret or Consul entry at our path, or a DB parameter group under our name, was
   * written for another object (UID)
   */
  entryNotOurs: 'EntryNotOurs',
  /** RDS put the instance in a terminal state (failed, storage-full, ...) */
  instanceFailed: 'InstanceFailed',
  /** the instance vanished while we waited for it */
  instanceGone: 'InstanceGone',
  /**
   * RDS says "not found", but the worker's credentials look at another account or region than
   * the one the instance was created in: nothing is proven gone, nothing is released
   */
  instanceElsewhere: 'InstanceElsewhere',
  /** deletionPolicy Snapshot, but RDS cannot snapshot the instance in its state */
  cannotSnapshot: 'CannotSnapshot',
  /** Vault or Consul refused the request as made (a missing mount, a bad path, a lost secret) */
  storeRejected: 'StoreRejected',
  /** an activity outlived its time limits (the workflow reads this from Temporal's timeout) */
  timeout: 'Timeout',
  /** a poll window ended before RDS reached the state awaited: the server asks again */
  notYet: 'NotYetAvailable',
} as const;

export type FailureType = (typeof FAILURE)[keyof typeof FAILURE];

/** The kind of each failure type: the specific outcomes are cases of the seven kinds. */
export const FAILURE_KIND: Readonly<Record<FailureType, FailureKind>> = {
  InvalidSpec: 'invalid-spec',
  PermissionDenied: 'permission',
  QuotaExceeded: 'quota',
  Conflict: 'conflict',
  Transient: 'transient',
  Bug: 'bug',
  InstanceNotOurs: 'not-ours',
  EntryNotOurs: 'not-ours',
  InstanceFailed: 'conflict',
  InstanceGone: 'conflict',
  InstanceElsewhere: 'conflict',
  CannotSnapshot: 'conflict',
  StoreRejected: 'conflict',
  Timeout: 'transient',
  NotYetAvailable: 'transient',
};

/** The type of a failure as it crossed Temporal; a type no adapter raises reads as a bug. */
export function failureType(type: string | null | undefined): FailureType {
  return typeof type === 'string' && Object.hasOwn(FAILURE_KIND, type)
    ? (type as FailureType)
    : 'Bug';
}

export function kindOf(type: string | null | undefined): FailureKind {
  return FAILURE_KIND[failureType(type)];
}

/** The systems an adapter talks to, as a user knows them. */
export type System = 'AWS' | 'Vault' | 'Consul' | 'Kubernetes';

/** What a user does about a failure of each kind (appended to the status message). */
export const ADVICE: Readonly<Record<FailureKind, string>> = {
  'invalid-spec': 'Fix the spec: a new generation is tried again at once.',
  'not-ours': 'rdsflow leaves it untouched: rename the Database, or remove or adopt what is there.',
  permission: "Grant the worker's credentials what the refused call needs, then `rdsflow retry`.",
  quota:
    'Raise the AWS account quota (Service Quotas, RDS) or free what counts against it, then `rdsflow retry`.',
  conflict: 'Look at the resource named above, fix its state, then `rdsflow retry`.',
  transient: 'Nothing to do: rdsflow retries with backoff.',
  bug:
    "This is a bug in rdsflow: the worker's log has the stack (search for the step); " +
    'please report it. `rdsflow retry` tries again.',
};

/** Who to grant what, for each system that can refuse the worker (permission). */
export const PERMISSION_ADVICE: Readonly<Record<System, string>> = {
  AWS:
    "Grant the worker's IAM role the action AWS names (deploy/iam/worker-policy.json lists " +
    'every action rdsflow calls; docs/operating.md, "AWS permissions"), or renew its ' +
    'credentials, then `rdsflow retry`.',
  Kubernetes:
    "Grant the worker's ServiceAccount the verb on the resource Kubernetes names (deploy/rbac/" +
    'worker.yaml: databases and databases/status in group rdsflow.io, events), then `rdsflow retry`.',
  Vault:
    "Grant the worker's Vault token create, read, update and delete on the KV mount's data/ and " +
    'metadata/ paths under rdsflow/ (or renew the token), then `rdsflow retry`.',
  Consul:
    "Grant the worker's Consul ACL token write on key prefix rdsflow/ and on the service and node " +
    'it registers, then `rdsflow retry`.',
};
