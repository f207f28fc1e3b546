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
} from './database.js';

/** A spec with defaults applied and names derived: the workflow's input to every step. */
export interface ResolvedDatabase {
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
}

/** What cleanup needs: derivable from the object's identity alone. */
export type DatabaseNames = Pick<
  ResolvedDatabase,
  'ref' | 'dbInstanceIdentifier' | 'vaultPath' | 'consulKey'
>;

/** Fields that RDS cannot change in place. */
export function immutableChanges(before: ResolvedDatabase, after: ResolvedDatabase): string[] {
  const changes: string[] = [];
  if (before.engine !== after.engine) changes.push(`spec.engine (was ${before.engine})`);
  if (before.databaseName !== after.databaseName)
    changes.push(`spec.databaseName (was ${before.databaseName})`);
  if (before.masterUsername !== after.masterUsername)
    changes.push(`spec.masterUsername (was ${before.masterUsername})`);
  // the twin of the CRD's transition rule on spec.source
  if (before.source?.snapshot !== after.source?.snapshot)
    changes.push(`spec.source (was ${before.source ? before.source.snapshot : 'none'})`);
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
