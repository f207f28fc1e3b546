// The Database custom resource as every process sees it (docs/architecture.md): its lists and
// defaults, named once, and its types. Types and constants only: the workflow bundle imports it.
import type { DatabaseSpec, DatabaseStatus, ParameterStatus, PendingApproval } from './schema.js';

export const API_GROUP = 'rdsflow.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'Database';
export const PLURAL = 'databases';

/** The cluster-scoped DatabaseClass a platform team writes (contracts/class-schema.ts). */
export const CLASS_KIND = 'DatabaseClass';
export const CLASS_PLURAL = 'databaseclasses';
/** `"true"` on the one class a Database without spec.className gets (as a default StorageClass) */
export const DEFAULT_CLASS_ANNOTATION = 'rdsflow.io/is-default-class';

export const ENGINES = ['postgres', 'mysql', 'mariadb'] as const;
export type Engine = (typeof ENGINES)[number];

export const DELETION_POLICIES = ['Snapshot', 'Delete', 'Retain'] as const;
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];

/** RDS storage types (StorageType). */
export const STORAGE_TYPES = ['gp2', 'gp3', 'io1', 'io2', 'standard'] as const;
export type StorageType = (typeof STORAGE_TYPES)[number];

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

/** A Condition's status, as Kubernetes spells it. */
export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/**
 * The instance settings a spec may leave out. Left out, a create uses CREATE_DEFAULTS, and a
 * change (or an adoption) leaves the instance's own value alone: rdsflow applies what the spec
 * states.
 */
export const INSTANCE_SETTINGS = [
  'engineVersion',
  'instanceClass',
  'storageGiB',
  'multiAZ',
  // network, storage, encryption, backups, maintenance, protection, monitoring
  'subnetGroup',
  'securityGroupIds',
  'publiclyAccessible',
  'storageType',
  'iops',
  'storageThroughput',
  'maxAllocatedStorage',
  'storageEncrypted',
  'kmsKeyId',
  'backupRetentionDays',
  'backupWindow',
  'maintenanceWindow',
  'deletionProtection',
  'autoMinorVersionUpgrade',
  'copyTagsToSnapshot',
  'iamDatabaseAuthentication',
  'performanceInsights',
  'caCertificate',
] as const;
export type InstanceSetting = (typeof INSTANCE_SETTINGS)[number];

/** Defaults the apiserver fills (the CRD declares them) and validation fills again. */
export const SPEC_DEFAULTS = {
  masterUsername: 'app',
  deletionPolicy: 'Snapshot',
  requireApproval: false,
  adoptRetained: false,
} as const;

/**
 * What a new instance gets for a setting its spec leaves out. Never a schema default: an
 * existing or adopted instance keeps its own (engineVersion: the engine's default). A setting
 * named neither here nor in the spec is not sent: RDS's own default applies.
 */
export const CREATE_DEFAULTS = {
  instanceClass: 'db.t3.micro',
  storageGiB: 20,
  multiAZ: false,
  publiclyAccessible: false,
  storageEncrypted: true,
  deletionProtection: true,
  copyTagsToSnapshot: true,
} as const satisfies Partial<Record<InstanceSetting, unknown>>;

// The shapes below are the zod schema's (contracts/schema.ts, the one source of the Database's
// fields, from which the CRD is generated); type-only, so the workflow bundle stays free of zod.
export type {
  Condition,
  DatabaseSpec,
  DatabaseStatus,
  ParameterStatus,
  PendingApproval,
} from './schema.js';

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
  /** the parameter group in use and what waits for a reboot (kept once written) */
  readonly parameters?: ParameterStatus;
  /** the snapshot the instance was restored from (kept once written) */
  readonly restoredFrom?: string;
  /** the DatabaseClass in effect and its generation applied (kept once written) */
  readonly class?: { readonly name: string; readonly generation: number };
  /**
   * A status written again after it was dropped: left unwritten when the object's status already
   * speaks of a newer generation (the watcher's rejection of an invalid edit, say)
   */
  readonly rewrite?: boolean;
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
