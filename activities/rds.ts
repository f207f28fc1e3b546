// RDS activities: create (adopting only our own instance, or a retained one when asked), wait,
// converge, delete. Every call that changes or deletes an instance is preceded, in the same
// activity, by a read of the instance and its tags: rdsflow acts only on an instance tagged with
// this object's UID (docs/ownership.md). RDS's state rules are followed, never guessed around.
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  ModifyDBInstanceCommand,
  RemoveTagsFromResourceCommand,
  type CreateDBInstanceCommandInput,
  type DBInstance,
  type ModifyDBInstanceCommandInput,
  type PendingModifiedValues,
  type Tag,
} from '@aws-sdk/client-rds';
import { ApplicationFailure } from '@temporalio/common';
import { activityInfo, log } from '@temporalio/activity';

import { TAG_KEYS } from '../contracts/names.js';
import type { InstanceSetting } from '../contracts/database.js';
import type {
  AwsTarget,
  DatabaseNames,
  PerformanceInsights,
  ResolvedDatabase,
} from '../contracts/spec.js';
import { FAILURE, type DeleteInstanceRequest, type Endpoint } from '../contracts/workflow.js';
import { classifyError, terminal } from './errors.js';
import { deleteDbInstance, releaseDbInstance, waitUntilDeleted } from './rds-delete.js';
import { parameterGroupDrift } from './rds-parameters.js';
import { restoreDbInstance } from './rds-restore.js';
import {
  RDS_STATUS,
  RDS_TERMINAL_STATUSES,
  aws,
  describe,
  endpointOf,
  errorName,
  identityTags,
  instanceNotOurs,
  notYet,
  readOwnInstance,
  poll,
  tagsOf,
  userTags,
  type RdsDeps,
  depsFor,
  type RdsBinding,
} from './rds-instance.js';

export { NOT_YET, RDS_TERMINAL_STATUSES, attributeRdsCalls } from './rds-instance.js';
export type { PollTiming, RdsBinding, RdsClients, RdsDeps } from './rds-instance.js';

/** One instance setting as RDS has it now, and the ModifyDBInstance input that sets it. */
interface SettingDrift {
  readonly setting: InstanceSetting;
  /** what the instance has or is already getting (its PendingModifiedValues first) */
  readonly live: (instance: DBInstance, pending: PendingModifiedValues) => unknown;
  readonly wanted: (db: ResolvedDatabase) => unknown;
  readonly input: (db: ResolvedDatabase) => Partial<ModifyDBInstanceCommandInput>;
}

const sorted = (ids: readonly string[] | undefined) => (ids ? [...ids].sort() : undefined);

/**
 * The settings a ModifyDBInstance can change. storageEncrypted and kmsKeyId are not among them:
 * RDS cannot change them (the spec refuses a change), and engine, databaseName, masterUsername
 * neither.
 */
const MODIFIABLE: readonly SettingDrift[] = [
  {
    setting: 'instanceClass',
    live: (i, p) => p.DBInstanceClass ?? i.DBInstanceClass,
    wanted: (db) => db.instanceClass,
    input: (db) => ({ DBInstanceClass: db.instanceClass }),
  },
  {
    setting: 'storageGiB',
    live: (i, p) => p.AllocatedStorage ?? i.AllocatedStorage,
    wanted: (db) => db.storageGiB,
    input: (db) => ({ AllocatedStorage: db.storageGiB }),
  },
  {
    setting: 'multiAZ',
    live: (i, p) => p.MultiAZ ?? i.MultiAZ ?? false,
    wanted: (db) => db.multiAZ,
    input: (db) => ({ MultiAZ: db.multiAZ }),
  },
  {
    setting: 'subnetGroup',
    live: (i, p) => p.DBSubnetGroupName ?? i.DBSubnetGroup?.DBSubnetGroupName,
    wanted: (db) => db.subnetGroup,
    input: (db) => ({ DBSubnetGroupName: db.subnetGroup }),
  },
  {
    setting: 'securityGroupIds',
    live: (i) => sorted(i.VpcSecurityGroups?.flatMap((g) => g.VpcSecurityGroupId ?? [])),
    wanted: (db) => sorted(db.securityGroupIds),
    input: (db) => ({ VpcSecurityGroupIds: [...(db.securityGroupIds ?? [])] }),
  },
  {
    setting: 'publiclyAccessible',
    live: (i) => i.PubliclyAccessible ?? false,
    wanted: (db) => db.publiclyAccessible,
    input: (db) => ({ PubliclyAccessible: db.publiclyAccessible }),
  },
  {
    setting: 'storageType',
    live: (i, p) => p.StorageType ?? i.StorageType,
    wanted: (db) => db.storageType,
    input: (db) => ({ StorageType: db.storageType }),
  },
  {
    setting: 'iops',
    live: (i, p) => p.Iops ?? i.Iops,
    wanted: (db) => db.iops,
    input: (db) => ({ Iops: db.iops }),
  },
  {
    setting: 'storageThroughput',
    live: (i, p) => p.StorageThroughput ?? i.StorageThroughput,
    wanted: (db) => db.storageThroughput,
    input: (db) => ({ StorageThroughput: db.storageThroughput }),
  },
  {
    setting: 'maxAllocatedStorage',
    live: (i) => i.MaxAllocatedStorage,
    wanted: (db) => db.maxAllocatedStorage,
    input: (db) => ({ MaxAllocatedStorage: db.maxAllocatedStorage }),
  },
  {
    setting: 'backupRetentionDays',
    live: (i, p) => p.BackupRetentionPeriod ?? i.BackupRetentionPeriod,
    wanted: (db) => db.backupRetentionDays,
    input: (db) => ({ BackupRetentionPeriod: db.backupRetentionDays }),
  },
  {
    setting: 'backupWindow',
    live: (i) => i.PreferredBackupWindow,
    wanted: (db) => db.backupWindow,
    input: (db) => ({ PreferredBackupWindow: db.backupWindow }),
  },
  {
    setting: 'maintenanceWindow',
    live: (i) => i.PreferredMaintenanceWindow?.toLowerCase(),
    wanted: (db) => db.maintenanceWindow,
    input: (db) => ({ PreferredMaintenanceWindow: db.maintenanceWindow }),
  },
  {
    setting: 'deletionProtection',
    live: (i) => i.DeletionProtection ?? false,
    wanted: (db) => db.deletionProtection,
    input: (db) => ({ DeletionProtection: db.deletionProtection }),
  },
  {
    setting: 'autoMinorVersionUpgrade',
    live: (i) => i.AutoMinorVersionUpgrade,
    wanted: (db) => db.autoMinorVersionUpgrade,
    input: (db) => ({ AutoMinorVersionUpgrade: db.autoMinorVersionUpgrade }),
  },
  {
    setting: 'copyTagsToSnapshot',
    live: (i) => i.CopyTagsToSnapshot ?? false,
    wanted: (db) => db.copyTagsToSnapshot,
    input: (db) => ({ CopyTagsToSnapshot: db.copyTagsToSnapshot }),
  },
  {
    setting: 'iamDatabaseAuthentication',
    live: (i, p) =>
      p.IAMDatabaseAuthenticationEnabled ?? i.IAMDatabaseAuthenticationEnabled ?? false,
    wanted: (db) => db.iamDatabaseAuthentication,
    input: (db) => ({ EnableIAMDatabaseAuthentication: db.iamDatabaseAuthentication }),
  },
  {
    setting: 'performanceInsights',
    live: (i) => performanceInsightsOf(i),
    wanted: (db) => db.performanceInsights && performanceInsightsInput(db.performanceInsights),
    input: (db) => (db.performanceInsights ? performanceInsightsInput(db.performanceInsights) : {}),
  },
  {
    setting: 'caCertificate',
    live: (i, p) => p.CACertificateIdentifier ?? i.CACertificateIdentifier,
    wanted: (db) => db.caCertificate,
    input: (db) => ({ CACertificateIdentifier: db.caCertificate }),
  },
];

/** Performance Insights as the request states it (the key and period only when stated). */
function performanceInsightsInput(pi: PerformanceInsights): Partial<ModifyDBInstanceCommandInput> {
  return {
    EnablePerformanceInsights: pi.enabled,
    ...(pi.retentionDays !== undefined
      ? { PerformanceInsightsRetentionPeriod: pi.retentionDays }
      : {}),
    ...(pi.kmsKeyId !== undefined ? { PerformanceInsightsKMSKeyId: pi.kmsKeyId } : {}),
  };
}

/** The instance's Performance Insights in the same shape, for the parts the spec states. */
function performanceInsightsOf(instance: DBInstance): Partial<ModifyDBInstanceCommandInput> {
  return {
    EnablePerformanceInsights: instance.PerformanceInsightsEnabled ?? false,
    ...(instance.PerformanceInsightsRetentionPeriod !== undefined
      ? { PerformanceInsightsRetentionPeriod: instance.PerformanceInsightsRetentionPeriod }
      : {}),
    ...(instance.PerformanceInsightsKMSKeyId !== undefined
      ? { PerformanceInsightsKMSKeyId: instance.PerformanceInsightsKMSKeyId }
      : {}),
  };
}

/** Whether the live value already is what the spec wants (a stated key's value, for objects). */
function same(live: unknown, wanted: unknown): boolean {
  if (typeof wanted !== 'object' || wanted === null || Array.isArray(wanted))
    return JSON.stringify(live) === JSON.stringify(wanted);
  const have = (live ?? {}) as Record<string, unknown>;
  return Object.entries(wanted).every(([key, value]) => have[key] === value);
}

/**
 * What the spec states that the instance does not have (or is not already getting). Settings
 * the spec leaves out are not compared: an adopted instance keeps its own.
 */
function specDrift(instance: DBInstance, db: ResolvedDatabase): ModifyDBInstanceCommandInput {
  const pending = instance.PendingModifiedValues ?? {};
  const stated = new Set(db.stated);
  const drift: ModifyDBInstanceCommandInput = { DBInstanceIdentifier: db.dbInstanceIdentifier };
  for (const rule of MODIFIABLE) {
    if (stated.has(rule.setting) && !same(rule.live(instance, pending), rule.wanted(db)))
      Object.assign(drift, rule.input(db));
  }
  if (db.engineVersion && (pending.EngineVersion ?? instance.EngineVersion) !== db.engineVersion)
    drift.EngineVersion = db.engineVersion;
  return { ...drift, ...parameterGroupDrift(instance, db) };
}

/**
 * The CreateDBInstance request's settings: what the spec states, CREATE_DEFAULTS for the rest
 * that have one (resolved already), and nothing for what RDS defaults itself.
 */
export function instanceSettings(
  db: ResolvedDatabase,
): Partial<CreateDBInstanceCommandInput> & Pick<CreateDBInstanceCommandInput, 'DBInstanceClass'> {
  const optional: Partial<CreateDBInstanceCommandInput> = {
    DBSubnetGroupName: db.subnetGroup,
    VpcSecurityGroupIds: db.securityGroupIds && [...db.securityGroupIds],
    StorageType: db.storageType,
    Iops: db.iops,
    StorageThroughput: db.storageThroughput,
    MaxAllocatedStorage: db.maxAllocatedStorage,
    KmsKeyId: db.kmsKeyId,
    BackupRetentionPeriod: db.backupRetentionDays,
    PreferredBackupWindow: db.backupWindow,
    PreferredMaintenanceWindow: db.maintenanceWindow,
    AutoMinorVersionUpgrade: db.autoMinorVersionUpgrade,
    EnableIAMDatabaseAuthentication: db.iamDatabaseAuthentication,
    CACertificateIdentifier: db.caCertificate,
    ...(db.performanceInsights ? performanceInsightsInput(db.performanceInsights) : {}),
  };
  return {
    ...(Object.fromEntries(
      Object.entries(optional).filter(([, value]) => value !== undefined),
    ) as Partial<CreateDBInstanceCommandInput>),
    DBInstanceClass: db.instanceClass,
    AllocatedStorage: db.storageGiB,
    MultiAZ: db.multiAZ,
    PubliclyAccessible: db.publiclyAccessible,
    StorageEncrypted: db.storageEncrypted,
    DeletionProtection: db.deletionProtection,
    CopyTagsToSnapshot: db.copyTagsToSnapshot,
  };
}

/** The whole CreateDBInstance request of a new instance. */
function createRequest(
  db: ResolvedDatabase,
  credentials: { readonly password: string },
  tags: Tag[],
): CreateDBInstanceCommandInput {
  return {
    DBInstanceIdentifier: db.dbInstanceIdentifier,
    Engine: db.engine,
    ...(db.engineVersion ? { EngineVersion: db.engineVersion } : {}),
    ...instanceSettings(db),
    ...(db.parameterGroup ? { DBParameterGroupName: db.parameterGroup } : {}),
    DBName: db.databaseName,
    MasterUsername: db.masterUsername,
    MasterUserPassword: credentials.password,
    Tags: tags,
  };
}

/**
 * Aligns the tags with the spec: user tags as written, identity and credential tags rdsflow's. Only
 * tags rdsflow set itself (`managed`: the user tags of the spec applied before) are removed when
 * the spec drops them; tags other tools add (AWS Backup, cost allocation) are never touched.
 */
async function convergeTags(
  deps: RdsDeps,
  instance: DBInstance,
  db: ResolvedDatabase,
  credentialId: string,
  managed: readonly string[],
): Promise<boolean> {
  const arn = instance.DBInstanceArn;
  if (!arn) return false;
  const current = tagsOf(instance);
  const stale = managed.filter(
    (k) => k in current && !k.startsWith('rdsflow.io/') && !(k in db.tags),
  );
  const wanted = [
    ...userTags(db),
    ...identityTags(db.ref),
    { Key: TAG_KEYS.credential, Value: credentialId },
  ];
  const missing = wanted.filter((t) => current[t.Key ?? ''] !== t.Value);
  if (stale.length > 0) {
    await aws('modifyDbInstance', () =>
      deps.destructive.send(
        new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: stale }),
      ),
    );
  }
  if (missing.length > 0) {
    await aws('modifyDbInstance', () =>
      deps.destructive.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: missing })),
    );
  }
  return stale.length > 0 || missing.length > 0;
}

/**
 * Makes a retained instance this object's: its UID tag on, the retained mark off, and where it
 * came from (the former owner's UID) recorded on it.
 */
async function takeOver(
  deps: RdsDeps,
  instance: DBInstance,
  db: ResolvedDatabase,
  from: string,
): Promise<void> {
  const arn = instance.DBInstanceArn ?? '';
  const tags = [...identityTags(db.ref), { Key: TAG_KEYS.adoptedFrom, Value: from }];
  await aws('createDbInstance', () =>
    deps.destructive.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: tags })),
  );
  await aws('createDbInstance', () =>
    deps.destructive.send(
      new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: [TAG_KEYS.retainedFrom] }),
    ),
  );
}

/**
 * An instance already under our identifier: ours (a retried or crashed earlier attempt) is
 * adopted; one retained by a deleted Database of this name is taken over only with
 * spec.adoptRetained; any other is InstanceNotOurs, untouched.
 */
async function adopt(
  deps: RdsDeps,
  existing: DBInstance,
  db: ResolvedDatabase,
): Promise<{ adopted: boolean; status: string; retainedFrom?: string }> {
  const id = db.dbInstanceIdentifier;
  const tags = tagsOf(existing);
  const status = existing.DBInstanceStatus ?? 'unknown';
  if (status === RDS_STATUS.deleting) {
    // NOTE: RDS keeps a deleting instance's identifier until it is gone
    throw notYet(`${id} is still being deleted; creating it again once it is gone`, deps);
  }
  if (tags[TAG_KEYS.uid] === db.ref.uid) {
    log.info('adopted existing RDS instance', { dbInstanceIdentifier: id });
    return { adopted: true, status };
  }
  const retainedFrom = tags[TAG_KEYS.retainedFrom];
  const sameName =
    tags[TAG_KEYS.namespace] === db.ref.namespace && tags[TAG_KEYS.name] === db.ref.name;
  if (retainedFrom && !tags[TAG_KEYS.uid] && sameName && db.adoptRetained) {
    await takeOver(deps, existing, db, retainedFrom);
    log.info('took over retained RDS instance', { dbInstanceIdentifier: id, retainedFrom });
    return { adopted: true, status, retainedFrom };
  }
  throw instanceNotOurs(id, db.ref, tags, 'adopt');
}

/** What createDbInstance did: created (or restored), or adopted an instance already there. */
export interface CreateOutcome {
  readonly adopted: boolean;
  readonly status: string;
  readonly retainedFrom?: string;
  /** the snapshot a new instance was restored from (spec.source) */
  readonly restoredFrom?: string;
}

/**
 * Creates the instance (restoring spec.source.snapshot when the spec names one). If one with our identifier exists and carries this object's UID tag
 * (a retried or crashed earlier attempt), it is adopted; one retained by a deleted Database
 * of this name is taken over only with spec.adoptRetained; any other owner is a clear error.
 */
export async function createDbInstance(
  deps: RdsDeps,
  db: ResolvedDatabase,
): Promise<CreateOutcome> {
  const id = db.dbInstanceIdentifier;
  // an instance already there is judged by its tags before any password is sent anywhere
  const existing = await aws('createDbInstance', () => describe(deps, id));
  if (existing) return adopt(deps, existing, db);
  const credentials = await deps.credentials.read(db);
  const tags = [
    ...userTags(db),
    ...identityTags(db.ref),
    { Key: TAG_KEYS.run, Value: activityInfo().workflowExecution?.runId ?? 'none' },
    { Key: TAG_KEYS.credential, Value: credentials.credentialId },
  ];
  try {
    if (db.source) {
      const out = await restoreDbInstance(deps, db, tags, instanceSettings(db));
      const status = out.DBInstance?.DBInstanceStatus ?? RDS_STATUS.creating;
      return { adopted: false, status, restoredFrom: db.source.snapshot };
    }
    const out = await deps.rds.send(
      new CreateDBInstanceCommand(createRequest(db, credentials, tags)),
    );
    log.info('RDS instance creation requested', { dbInstanceIdentifier: id });
    return { adopted: false, status: out.DBInstance?.DBInstanceStatus ?? RDS_STATUS.creating };
  } catch (error: unknown) {
    if (!/DBInstanceAlreadyExists/.test(errorName(error))) {
      throw classifyError('AWS', 'createDbInstance', error, activityInfo().attempt);
    }
  }
  // created meanwhile (a concurrent attempt, or an identifier still being deleted)
  const raced = await aws('createDbInstance', () => describe(deps, id));
  if (!raced)
    throw ApplicationFailure.retryable(`${id} exists and vanished; retrying`, FAILURE.transient);
  return adopt(deps, raced, db);
}

/**
 * Waits until the instance is `available` and returns its endpoint and ARN (the account and
 * region a later "not found" is believed in); terminal states fail.
 */
export async function waitUntilAvailable(
  deps: RdsDeps,
  identifier: string,
): Promise<{ endpoint: Endpoint; polls: number; arn?: string }> {
  return poll(deps, `${identifier} is not available yet`, async () => {
    const instance = await aws('waitUntilAvailable', () => describe(deps, identifier));
    if (!instance)
      throw terminal(FAILURE.instanceGone, `RDS instance ${identifier} no longer exists`);
    const status = instance.DBInstanceStatus ?? 'unknown';
    if (RDS_TERMINAL_STATUSES.has(status)) {
      throw terminal(FAILURE.instanceFailed, `RDS instance ${identifier} is ${status}`, {
        rdsStatus: status,
      });
    }
    const endpoint = endpointOf(instance);
    const arn = instance.DBInstanceArn;
    return {
      status,
      ...(status === RDS_STATUS.available && endpoint
        ? { result: { endpoint, ...(arn ? { arn } : {}) } }
        : {}),
    };
  });
}

/**
 * Makes the instance what the spec and the credentials say: modifiable fields, tags, and the
 * master password when the instance does not have the one in Vault (an adopted instance).
 * Only on our own instance, and only when it is `available` (RDS refuses otherwise).
 */
export async function modifyDbInstance(
  deps: RdsDeps,
  db: ResolvedDatabase,
  managedTags: readonly string[] = [],
): Promise<{ status: string; changed: boolean }> {
  const id = db.dbInstanceIdentifier;
  const found = await readOwnInstance(deps, 'modifyDbInstance', id, db.ref, 'modify');
  if (!found) throw terminal(FAILURE.instanceGone, `RDS instance ${id} no longer exists`);
  const { instance, tags } = found;
  const status = instance.DBInstanceStatus ?? 'unknown';
  if (status !== RDS_STATUS.available) {
    throw notYet(`${id} is ${status}; RDS changes an instance only when it is available`, deps);
  }
  const credentials = await deps.credentials.read(db);
  const drift = specDrift(instance, db);
  const reset = tags[TAG_KEYS.credential] !== credentials.credentialId;
  const fields = Object.keys(drift).length > 1;
  let out: { DBInstance?: DBInstance } | undefined;
  if (fields || reset) {
    out = await aws('modifyDbInstance', () =>
      deps.destructive.send(
        new ModifyDBInstanceCommand({
          ...drift,
          ...(reset ? { MasterUserPassword: credentials.password } : {}),
          ApplyImmediately: true,
        }),
      ),
    );
    if (reset) log.info('master password reset to the one in Vault', { dbInstanceIdentifier: id });
  }
  const retagged = await convergeTags(deps, instance, db, credentials.credentialId, managedTags);
  return {
    status: out?.DBInstance?.DBInstanceStatus ?? status,
    changed: fields || reset || retagged,
  };
}

/** The RDS activities, bound to their clients. */
export interface RdsActivities {
  createDbInstance(db: ResolvedDatabase): ReturnType<typeof createDbInstance>;
  /** `names`: which instance, and where (the class in effect) */
  waitUntilAvailable(names: DatabaseNames): ReturnType<typeof waitUntilAvailable>;
  modifyDbInstance(
    db: ResolvedDatabase,
    managedTags?: readonly string[],
  ): ReturnType<typeof modifyDbInstance>;
  deleteDbInstance(request: DeleteInstanceRequest): ReturnType<typeof deleteDbInstance>;
  releaseDbInstance(
    names: DatabaseNames,
    retainedFrom?: string,
  ): ReturnType<typeof releaseDbInstance>;
  waitUntilDeleted(
    target: Parameters<typeof waitUntilDeleted>[1],
  ): ReturnType<typeof waitUntilDeleted>;
}

export function createRdsActivities(binding: RdsBinding): RdsActivities {
  const at = (target: AwsTarget | undefined) => depsFor(binding, target);
  return {
    createDbInstance: async (db) => createDbInstance(await at(db.aws), db),
    waitUntilAvailable: async (names) =>
      waitUntilAvailable(await at(names.aws), names.dbInstanceIdentifier),
    modifyDbInstance: async (db, managedTags) =>
      modifyDbInstance(await at(db.aws), db, managedTags),
    deleteDbInstance: async (request) => deleteDbInstance(await at(request.names.aws), request),
    releaseDbInstance: async (names, retainedFrom) =>
      releaseDbInstance(await at(names.aws), names, retainedFrom),
    waitUntilDeleted: async (target) => waitUntilDeleted(await at(target.names.aws), target),
  };
}
