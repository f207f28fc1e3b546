// The resolved spec as the workflow carries it, and the pure rules it applies to it. No zod and
// nothing else heavy: the workflow bundle imports this module, and every cached workflow holds
// its own instance of each module it imports (contracts/schema.ts, with zod, stays out).
import {
  DELETION_POLICIES,
  type DatabaseRef,
  type DeletionPolicy,
  type Engine,
  type InstanceSetting,
  type PendingApproval,
  type StorageType,
} from './database.js';

/**
 * Where a Database's AWS calls go, from its DatabaseClass: the region, the account its
 * credentials must be, and which credentials (names only: the Secret's name, the role's ARN;
 * never a key). Absent: no class, the worker's own identity and AWS_REGION.
 */
export interface AwsTarget {
  readonly className: string;
  /** the class's metadata.generation that was applied */
  readonly classGeneration: number;
  readonly region: string;
  readonly account?: string;
  readonly credentials?: {
    /** a Secret in the worker's own namespace */
    readonly secretName?: string;
    readonly roleArn?: string;
    readonly externalId?: string;
  };
}

/** Performance Insights as the spec states it. */
export interface PerformanceInsights {
  readonly enabled: boolean;
  readonly retentionDays?: number;
  readonly kmsKeyId?: string;
}

/**
 * The instance settings of a production instance: network, storage, encryption, backups,
 * maintenance, protection, monitoring. The four with a CREATE_DEFAULT always hold a value (the
 * spec's or that default); the others only when the spec states them (otherwise RDS's own
 * default applies to a create, and an existing instance keeps its own).
 */
export interface InstanceOptions {
  readonly subnetGroup?: string;
  readonly securityGroupIds?: readonly string[];
  readonly publiclyAccessible: boolean;
  readonly storageType?: StorageType;
  readonly iops?: number;
  readonly storageThroughput?: number;
  readonly maxAllocatedStorage?: number;
  readonly storageEncrypted: boolean;
  readonly kmsKeyId?: string;
  readonly backupRetentionDays?: number;
  readonly backupWindow?: string;
  readonly maintenanceWindow?: string;
  readonly deletionProtection: boolean;
  readonly autoMinorVersionUpgrade?: boolean;
  readonly copyTagsToSnapshot: boolean;
  readonly iamDatabaseAuthentication?: boolean;
  readonly performanceInsights?: PerformanceInsights;
  readonly caCertificate?: string;
}

/** A spec with defaults applied and names derived: the workflow's input to every step. */
export interface ResolvedDatabase extends InstanceOptions {
  readonly ref: DatabaseRef;
  readonly generation: number;
  readonly engine: Engine;
  readonly engineVersion?: string;
  readonly instanceClass: string;
  readonly storageGiB: number;
  readonly databaseName: string;
  readonly masterUsername: string;
  readonly multiAZ: boolean;
  readonly deletionPolicy: DeletionPolicy;
  readonly requireApproval: boolean;
  readonly adoptRetained: boolean;
  /** the user's tags only; identity tags are added where the instance is created */
  readonly tags: Readonly<Record<string, string>>;
  /** DB parameters: a parameter group this Database owns (not with `parameterGroup`) */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * The DB parameter group the instance uses: the spec's existing group (attached, never
   * changed), or, with `parameters`, the owned group once the workflow has ensured it.
   * Undefined: RDS's default for a create; an existing instance keeps its own.
   */
  readonly parameterGroup?: string;
  /** restore this DB snapshot instead of creating an empty instance */
  readonly source?: { readonly snapshot: string };
  /** the instance settings the spec states (the others are defaults, for a create only) */
  readonly stated: readonly InstanceSetting[];
  readonly dbInstanceIdentifier: string;
  readonly vaultPath: string;
  readonly consulKey: string;
  /** the class in effect, and so the account and region of every AWS call; none: the worker's */
  readonly aws?: AwsTarget;
}

/**
 * What cleanup needs: the names derived from the object's identity, and where its instance
 * lives (the class in effect when it was applied), so a delete looks where the create went.
 */
export type DatabaseNames = Pick<
  ResolvedDatabase,
  'ref' | 'dbInstanceIdentifier' | 'vaultPath' | 'consulKey' | 'aws'
>;

/** The names of a resolved spec, for the steps that need no more (a smaller history). */
export function namesOf(db: DatabaseNames): DatabaseNames {
  const { ref, dbInstanceIdentifier, vaultPath, consulKey, aws } = db;
  return { ref, dbInstanceIdentifier, vaultPath, consulKey, ...(aws ? { aws } : {}) };
}

/** Where an instance lives, in words: `account 1234…, region eu-west-1` or the worker's own. */
function placeOf(target: AwsTarget | undefined): string {
  if (!target) return "the worker's own account and region";
  return `region ${target.region}${target.account ? `, account ${target.account}` : ''}`;
}

/**
 * Fields that RDS cannot change after creation (the CRD's transition rules are the twin): each
 * one that differs, with what it was. The encryption settings count as changed when the spec
 * adds or removes them, as the CRD counts it.
 */
export function immutableChanges(before: ResolvedDatabase, after: ResolvedDatabase): string[] {
  const was = (value: string | boolean | undefined) =>
    value === undefined ? 'unset' : String(value);
  const stated = (db: ResolvedDatabase, key: InstanceSetting) => db.stated.includes(key);
  const changed = (key: 'storageEncrypted' | 'kmsKeyId') =>
    before[key] !== after[key] || stated(before, key) !== stated(after, key);
  const changes: string[] = [];
  for (const key of ['engine', 'databaseName', 'masterUsername'] as const) {
    if (before[key] !== after[key]) changes.push(`spec.${key} (was ${before[key]})`);
  }
  for (const key of ['storageEncrypted', 'kmsKeyId'] as const) {
    const old = stated(before, key) ? was(before[key]) : 'unset';
    if (changed(key)) changes.push(`spec.${key} (was ${old})`);
  }
  return [...changes, ...originChanges(before, after)];
}

/** Where the instance came from and where it lives: neither changes after creation. */
function originChanges(before: ResolvedDatabase, after: ResolvedDatabase): string[] {
  const changes: string[] = [];
  // the twin of the CRD's transition rule on spec.source
  if (before.source?.snapshot !== after.source?.snapshot)
    changes.push(`spec.source (was ${before.source ? before.source.snapshot : 'none'})`);
  // NOTE: an RDS instance cannot move to another region or account; a class change may not
  // move it either (a class whose region or account was edited applies to new Databases only)
  const b = before.aws;
  const a = after.aws;
  if (b?.region !== a?.region || b?.account !== a?.account)
    changes.push(`the DatabaseClass's place (was ${placeOf(b)}, now ${placeOf(a)})`);
  return changes;
}

/**
 * The deletion policy a spec asks for, by the schema's own rule (one of DELETION_POLICIES,
 * exactly), even when the rest of the spec is invalid (a deletion must still know it);
 * undefined when it names none.
 */
export function deletionPolicyOf(spec: unknown): DeletionPolicy | undefined {
  if (typeof spec !== 'object' || spec === null) return undefined;
  const policy: unknown = (spec as Record<string, unknown>)['deletionPolicy'];
  return DELETION_POLICIES.find((p) => p === policy);
}

/** How much each policy keeps: Retain all, Snapshot a final snapshot, Delete nothing. */
const PROTECTION: Readonly<Record<DeletionPolicy, number>> = { Retain: 2, Snapshot: 1, Delete: 0 };

/** The more protective of two policies (a delete under approval applies the approved floor). */
export function mostProtective(a: DeletionPolicy, b: DeletionPolicy): DeletionPolicy {
  return PROTECTION[a] >= PROTECTION[b] ? a : b;
}

/** The part of a resolved spec a person approves (`rdsflow approve` shows it). */
export function approvalOf(db: ResolvedDatabase): PendingApproval {
  return {
    generation: db.generation,
    engine: db.engine,
    ...(db.engineVersion ? { engineVersion: db.engineVersion } : {}),
    instanceClass: db.instanceClass,
    storageGiB: db.storageGiB,
    multiAZ: db.multiAZ,
    deletionPolicy: db.deletionPolicy,
  };
}
