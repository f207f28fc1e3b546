// RDS activities: create (adopting only our own instance, or a retained one when asked), wait,
// converge, delete. Every call that changes or deletes an instance is preceded, in the same
// activity, by a read of the instance and its tags: rdsflow acts only on an instance tagged with
// this object's UID (docs/ownership.md). RDS's state rules are followed, never guessed around.
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  ModifyDBInstanceCommand,
  RemoveTagsFromResourceCommand,
  type DBInstance,
  type ModifyDBInstanceCommandInput,
} from '@aws-sdk/client-rds';
import { ApplicationFailure } from '@temporalio/common';
import { activityInfo, log } from '@temporalio/activity';

import { TAG_KEYS } from '../contracts/names.js';
import type { AwsTarget, DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
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

/**
 * What the spec states that the instance does not have (or is not already getting). Settings
 * the spec leaves out are not compared: an adopted instance keeps its own.
 */
function specDrift(instance: DBInstance, db: ResolvedDatabase): ModifyDBInstanceCommandInput {
  const pending = instance.PendingModifiedValues ?? {};
  const drift: ModifyDBInstanceCommandInput = { DBInstanceIdentifier: db.dbInstanceIdentifier };
  const stated = new Set(db.stated);
  if (
    stated.has('instanceClass') &&
    (pending.DBInstanceClass ?? instance.DBInstanceClass) !== db.instanceClass
  )
    drift.DBInstanceClass = db.instanceClass;
  if (
    stated.has('storageGiB') &&
    (pending.AllocatedStorage ?? instance.AllocatedStorage) !== db.storageGiB
  )
    drift.AllocatedStorage = db.storageGiB;
  if (stated.has('multiAZ') && (pending.MultiAZ ?? instance.MultiAZ ?? false) !== db.multiAZ)
    drift.MultiAZ = db.multiAZ;
  if (db.engineVersion && (pending.EngineVersion ?? instance.EngineVersion) !== db.engineVersion)
    drift.EngineVersion = db.engineVersion;
  return { ...drift, ...parameterGroupDrift(instance, db) };
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
      const out = await restoreDbInstance(deps, db, tags);
      const status = out.DBInstance?.DBInstanceStatus ?? RDS_STATUS.creating;
      return { adopted: false, status, restoredFrom: db.source.snapshot };
    }
    const out = await deps.rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBInstanceClass: db.instanceClass,
        Engine: db.engine,
        ...(db.engineVersion ? { EngineVersion: db.engineVersion } : {}),
        AllocatedStorage: db.storageGiB,
        DBName: db.databaseName,
        MasterUsername: db.masterUsername,
        MasterUserPassword: credentials.password,
        MultiAZ: db.multiAZ,
        CopyTagsToSnapshot: true,
        ...(db.parameterGroup ? { DBParameterGroupName: db.parameterGroup } : {}),
        Tags: tags,
      }),
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
