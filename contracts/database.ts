// The Database custom resource as every process sees it (docs/architecture.md). Types and constants only.

export const API_GROUP = 'rdsflow.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'Database';
export const PLURAL = 'databases';

export const ENGINES = ['postgres', 'mysql', 'mariadb'] as const;
export type Engine = (typeof ENGINES)[number];

export const DELETION_POLICIES = ['Snapshot', 'Delete', 'Retain'] as const;
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];

export const PHASES = [
  'Pending',
  'AwaitingApproval',
  'Provisioning',
  'Available',
  'Modifying',
  'Deleting',
  'Failed',
  'Cancelled',
] as const;
export type Phase = (typeof PHASES)[number];

/** The spec as a user writes it; the apiserver fills the defaults the CRD declares. */
export interface DatabaseSpec {
  engine: Engine;
  engineVersion?: string;
  instanceClass?: string;
  storageGiB?: number;
  databaseName?: string;
  masterUsername?: string;
  multiAZ?: boolean;
  deletionPolicy?: DeletionPolicy;
  requireApproval?: boolean;
  /** take over an instance (and its credentials) retained by a deleted Database of this name */
  adoptRetained?: boolean;
  tags?: Record<string, string>;
}

/** What `rdsflow approve` approves: one generation's spec, shown on the status. */
export interface PendingApproval {
  generation: number;
  engine: Engine;
  engineVersion?: string;
  instanceClass: string;
  storageGiB: number;
  multiAZ: boolean;
  deletionPolicy: DeletionPolicy;
}

/** Kubernetes' conventional condition shape. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface DatabaseStatus {
  phase?: Phase;
  observedGeneration?: number;
  conditions?: Condition[];
  dbInstanceIdentifier?: string;
  endpoint?: { host: string; port: number };
  /** where the credentials are kept; never the credentials */
  secretRef?: { vaultPath: string };
  consulKey?: string;
  workflowId?: string;
  message?: string;
  /** present while a generation waits for `rdsflow approve` */
  pendingApproval?: PendingApproval;
  /** the UID of the deleted or vanished Database whose retained instance this one took over */
  adoptedFrom?: string;
}

/** One status write: phase, message and the Ready condition, plus where things are. */
export interface StatusUpdate {
  readonly phase: Phase;
  readonly message: string;
  /** CamelCase reason for the Ready condition; defaults to the phase */
  readonly reason?: string;
  readonly observedGeneration?: number;
  readonly dbInstanceIdentifier?: string;
  readonly endpoint?: { readonly host: string; readonly port: number };
  readonly vaultPath?: string;
  readonly consulKey?: string;
  readonly workflowId?: string;
  /** the generation waiting for approval; absent clears it */
  readonly pendingApproval?: PendingApproval;
  /** the UID whose retained instance was taken over (kept once written) */
  readonly adoptedFrom?: string;
}

/** The identity of one Database object: what the workflow is keyed by and tags carry. */
export interface DatabaseRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface DatabaseObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: DatabaseSpec;
  status?: DatabaseStatus;
}
