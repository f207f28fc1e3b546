// RDS activities: create (idempotently, adopting only our own instance), wait, modify, delete.
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RemoveTagsFromResourceCommand,
  type DBInstance,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { ApplicationFailure } from '@temporalio/common';
import { activityInfo, heartbeat, log, sleep } from '@temporalio/activity';
import type { DeletionPolicy } from '../contracts/database.js';
import { TAG_KEYS } from '../contracts/names.js';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import { FAILURE, type Endpoint } from '../contracts/workflow.js';
import { classifyAwsError, terminal } from './errors.js';
import { readMasterPassword, type VaultDeps } from './vault.js';

export type RdsSlice = Pick<RDSClient, 'send'>;

export interface PollTiming {
  /** time between two DescribeDBInstances calls */
  readonly pollIntervalMs: number;
  /** how long one activity attempt polls before handing back to the server to retry later */
  readonly pollWindowMs: number;
}

export interface RdsDeps extends VaultDeps {
  readonly rds: RdsSlice;
  readonly timing: PollTiming;
}

/** RDS instance statuses (DBInstanceStatus), named once. */
export const RDS_STATUS = {
  available: 'available',
  creating: 'creating',
  deleting: 'deleting',
  modifying: 'modifying',
  stopped: 'stopped',
} as const;

/** Statuses from which an instance will not become available without a person. */
export const RDS_TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  'failed',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-restore',
  'incompatible-credentials',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'restore-error',
  'storage-full',
  'stopped',
]);

export const NOT_YET = 'NotYetAvailable';

function identityTags(db: ResolvedDatabase): Tag[] {
  return [
    { Key: TAG_KEYS.namespace, Value: db.ref.namespace },
    { Key: TAG_KEYS.name, Value: db.ref.name },
    { Key: TAG_KEYS.uid, Value: db.ref.uid },
  ];
}

function userTags(db: ResolvedDatabase): Tag[] {
  return Object.entries(db.tags).map(([Key, Value]) => ({ Key, Value }));
}

function errorName(error: unknown): string {
  return (error as { name?: string }).name ?? '';
}

const isNotFound = (error: unknown) => /DBInstanceNotFound/.test(errorName(error));

async function aws<T>(step: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    throw classifyAwsError(step, error, activityInfo().attempt);
  }
}

async function describe(deps: RdsDeps, identifier: string): Promise<DBInstance | undefined> {
  try {
    const out = await deps.rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
    );
    return out.DBInstances?.[0];
  } catch (error: unknown) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function endpointOf(instance: DBInstance): Endpoint | undefined {
  const host = instance.Endpoint?.Address;
  const port = instance.Endpoint?.Port;
  return host && port ? { host, port } : undefined;
}

/**
 * Polls `identifier` with heartbeats until `decide` returns a result, for at most one poll
 * window; then hands back to the server with a retryable NotYetAvailable, so a long wait costs
 * no history events and no worker slot between windows, and survives worker crashes.
 */
async function pollInstance<T>(
  deps: RdsDeps,
  step: string,
  identifier: string,
  decide: (instance: DBInstance | undefined) => T | undefined,
): Promise<T & { polls: number }> {
  const { pollIntervalMs, pollWindowMs } = deps.timing;
  const deadline = Date.now() + pollWindowMs;
  let polls = 0;
  let status: string;
  for (;;) {
    const instance = await aws(step, () => describe(deps, identifier));
    polls++;
    status = instance?.DBInstanceStatus ?? 'absent';
    const result = decide(instance);
    if (result !== undefined) return { ...result, polls };
    heartbeat({ status, polls });
    if (Date.now() + pollIntervalMs > deadline) break;
    await sleep(pollIntervalMs);
  }
  throw ApplicationFailure.create({
    type: NOT_YET,
    message: `${identifier} is ${status}`,
    nextRetryDelay: pollIntervalMs,
  });
}

export function createRdsActivities(deps: RdsDeps) {
  return {
    /**
     * Creates the instance. If one with our identifier exists and carries this object's UID tag
     * (a retried or crashed earlier attempt), it is adopted; any other owner is a clear error.
     */
    async createDbInstance(db: ResolvedDatabase): Promise<{ adopted: boolean; status: string }> {
      const password = await readMasterPassword(deps, db.vaultPath);
      try {
        const out = await deps.rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: db.dbInstanceIdentifier,
            DBInstanceClass: db.instanceClass,
            Engine: db.engine,
            ...(db.engineVersion ? { EngineVersion: db.engineVersion } : {}),
            AllocatedStorage: db.storageGiB,
            DBName: db.databaseName,
            MasterUsername: db.masterUsername,
            MasterUserPassword: password,
            MultiAZ: db.multiAZ,
            CopyTagsToSnapshot: true,
            Tags: [...userTags(db), ...identityTags(db)],
          }),
        );
        log.info('RDS instance creation requested', {
          dbInstanceIdentifier: db.dbInstanceIdentifier,
        });
        return { adopted: false, status: out.DBInstance?.DBInstanceStatus ?? RDS_STATUS.creating };
      } catch (error: unknown) {
        if (!/DBInstanceAlreadyExists/.test(errorName(error))) {
          throw classifyAwsError('createDbInstance', error, activityInfo().attempt);
        }
      }
      const existing = await aws('createDbInstance', () => describe(deps, db.dbInstanceIdentifier));
      if (!existing)
        throw ApplicationFailure.retryable(
          `${db.dbInstanceIdentifier} exists and vanished; retrying`,
          FAILURE.transient,
        );
      const tags: Record<string, string | undefined> = Object.fromEntries(
        (existing.TagList ?? []).map((t) => [t.Key ?? '', t.Value]),
      );
      if (tags[TAG_KEYS.uid] !== db.ref.uid) {
        const owner = tags[TAG_KEYS.uid]
          ? `${tags[TAG_KEYS.namespace] ?? '?'}/${tags[TAG_KEYS.name] ?? '?'} (uid ${tags[TAG_KEYS.uid]})`
          : 'nobody known to rdsflow (no rdsflow.io tags)';
        throw terminal(
          FAILURE.instanceNotOurs,
          `RDS instance ${db.dbInstanceIdentifier} already exists and belongs to ${owner}; rdsflow adopts only instances tagged with this object's UID`,
        );
      }
      log.info('adopted existing RDS instance', { dbInstanceIdentifier: db.dbInstanceIdentifier });
      return { adopted: true, status: existing.DBInstanceStatus ?? 'unknown' };
    },

    /** Waits until the instance is `available` and returns its endpoint; terminal states fail. */
    async waitUntilAvailable(identifier: string): Promise<{ endpoint: Endpoint; polls: number }> {
      return pollInstance(deps, 'waitUntilAvailable', identifier, (instance) => {
        if (!instance)
          throw terminal(FAILURE.instanceGone, `RDS instance ${identifier} no longer exists`);
        const status = instance.DBInstanceStatus ?? 'unknown';
        if (RDS_TERMINAL_STATUSES.has(status)) {
          throw terminal(FAILURE.instanceFailed, `RDS instance ${identifier} is ${status}`, {
            rdsStatus: status,
          });
        }
        const endpoint = endpointOf(instance);
        return status === RDS_STATUS.available && endpoint ? { endpoint } : undefined;
      });
    },

    /** Applies the spec's modifiable fields and tags now (ApplyImmediately). */
    async modifyDbInstance(db: ResolvedDatabase): Promise<{ status: string }> {
      const instance = await aws('modifyDbInstance', () => describe(deps, db.dbInstanceIdentifier));
      if (!instance)
        throw terminal(
          FAILURE.instanceGone,
          `RDS instance ${db.dbInstanceIdentifier} no longer exists`,
        );
      const out = await aws('modifyDbInstance', () =>
        deps.rds.send(
          new ModifyDBInstanceCommand({
            DBInstanceIdentifier: db.dbInstanceIdentifier,
            DBInstanceClass: db.instanceClass,
            AllocatedStorage: db.storageGiB,
            MultiAZ: db.multiAZ,
            ...(db.engineVersion && db.engineVersion !== instance.EngineVersion
              ? { EngineVersion: db.engineVersion }
              : {}),
            ApplyImmediately: true,
          }),
        ),
      );
      const arn = instance.DBInstanceArn;
      if (arn) {
        const stale = (instance.TagList ?? [])
          .map((t) => t.Key ?? '')
          .filter((k) => !k.startsWith('rdsflow.io/') && !(k in db.tags));
        if (stale.length > 0) {
          await aws('modifyDbInstance', () =>
            deps.rds.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: stale })),
          );
        }
        await aws('modifyDbInstance', () =>
          deps.rds.send(
            new AddTagsToResourceCommand({
              ResourceName: arn,
              Tags: [...userTags(db), ...identityTags(db)],
            }),
          ),
        );
      }
      return { status: out.DBInstance?.DBInstanceStatus ?? RDS_STATUS.modifying };
    },

    /**
     * Deletes per policy: Snapshot keeps a final snapshot, Delete skips it, Retain leaves the
     * instance alone. An instance already gone (or going) is success.
     */
    async deleteDbInstance(
      db: DatabaseNames,
      policy: DeletionPolicy,
    ): Promise<{ snapshot?: string; retained: boolean }> {
      if (policy === 'Retain') return { retained: true };
      const snapshot = `${db.dbInstanceIdentifier}-final-${db.ref.uid
        .replace(/[^a-z0-9]/gi, '')
        .slice(0, 8)
        .toLowerCase()}`;
      try {
        await deps.rds.send(
          new DeleteDBInstanceCommand({
            DBInstanceIdentifier: db.dbInstanceIdentifier,
            ...(policy === 'Snapshot'
              ? { SkipFinalSnapshot: false, FinalDBSnapshotIdentifier: snapshot }
              : { SkipFinalSnapshot: true }),
            DeleteAutomatedBackups: policy === 'Delete',
          }),
        );
      } catch (error: unknown) {
        const name = errorName(error);
        // already gone, or already being deleted by an earlier attempt
        if (!isNotFound(error) && !/InvalidDBInstanceState/.test(name)) {
          throw classifyAwsError('deleteDbInstance', error, activityInfo().attempt);
        }
      }
      return policy === 'Snapshot' ? { snapshot, retained: false } : { retained: false };
    },

    /** Waits until the instance no longer exists. */
    async waitUntilDeleted(identifier: string): Promise<{ polls: number }> {
      return pollInstance(deps, 'waitUntilDeleted', identifier, (instance) =>
        instance ? undefined : {},
      );
    },
  };
}
