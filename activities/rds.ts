// RDS activities: create (adopting only our own instance, or a retained one when asked), wait,
// converge, delete. Every call that changes or deletes an instance is preceded, in the same
// activity, by a read of the instance and its tags: rdsflow acts only on an instance tagged with
// this object's UID (DESIGN.md §4a). RDS's state rules are followed, never guessed around.
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  RemoveTagsFromResourceCommand,
  type DBInstance,
  type ModifyDBInstanceCommandInput,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { ApplicationFailure } from '@temporalio/common';
import { activityInfo, heartbeat, log, sleep } from '@temporalio/activity';
import type { DatabaseRef } from '../contracts/database.js';
import { TAG_KEYS } from '../contracts/names.js';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import {
  FAILURE,
  type DeleteInstanceRequest,
  type DeleteInstanceResult,
  type Endpoint,
} from '../contracts/workflow.js';
import { classifyAwsError, terminal } from './errors.js';
import type { CredentialStore } from './vault.js';

export type RdsSlice = Pick<RDSClient, 'send'>;

export interface PollTiming {
  /** time between two DescribeDBInstances calls */
  readonly pollIntervalMs: number;
  /** how long one activity attempt polls before handing back to the server to retry later */
  readonly pollWindowMs: number;
}

export interface RdsDeps {
  readonly rds: RdsSlice;
  readonly timing: PollTiming;
  /** this object's master password, for the create and for a reset */
  readonly credentials: CredentialStore;
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

/**
 * NOTE: RDS deletes an instance in these states only with SkipFinalSnapshot (DeleteDBInstance
 * reference); deletionPolicy Snapshot cannot be honoured for them.
 */
export const RDS_NO_SNAPSHOT_STATUSES: ReadonlySet<string> = new Set([
  'failed',
  'incompatible-restore',
  'incompatible-network',
]);

/**
 * States in which RDS takes a final snapshot on delete. In any other (creating, backing-up,
 * modifying, ...) it answers InvalidDBInstanceState ("currently creating - a final snapshot
 * cannot be taken"), so a Snapshot deletion waits for one of these.
 */
export const RDS_SNAPSHOT_READY_STATUSES: ReadonlySet<string> = new Set([
  RDS_STATUS.available,
  RDS_STATUS.stopped,
  'storage-full',
]);

export const NOT_YET = 'NotYetAvailable';

type Tags = Readonly<Record<string, string | undefined>>;

function tagsOf(instance: DBInstance): Tags {
  return Object.fromEntries((instance.TagList ?? []).map((t) => [t.Key ?? '', t.Value]));
}

function identityTags(ref: DatabaseRef): Tag[] {
  return [
    { Key: TAG_KEYS.namespace, Value: ref.namespace },
    { Key: TAG_KEYS.name, Value: ref.name },
    { Key: TAG_KEYS.uid, Value: ref.uid },
  ];
}

function userTags(db: ResolvedDatabase): Tag[] {
  return Object.entries(db.tags).map(([Key, Value]) => ({ Key, Value }));
}

function errorName(error: unknown): string {
  return (error as { name?: string }).name ?? '';
}

const isNotFound = (error: unknown) => /DBInstanceNotFound/.test(errorName(error));
const isInvalidState = (error: unknown) => /InvalidDBInstanceState/.test(errorName(error));

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

/** Who an instance belongs to, in words, from its tags. */
export function ownerOf(tags: Tags): string {
  if (tags[TAG_KEYS.uid]) {
    return `${tags[TAG_KEYS.namespace] ?? '?'}/${tags[TAG_KEYS.name] ?? '?'} (uid ${tags[TAG_KEYS.uid]})`;
  }
  if (tags[TAG_KEYS.retainedFrom]) {
    return `nobody: it was retained by the deleted Database ${tags[TAG_KEYS.namespace] ?? '?'}/${tags[TAG_KEYS.name] ?? '?'} (uid ${tags[TAG_KEYS.retainedFrom]})`;
  }
  const others = Object.entries(tags)
    .filter(([k]) => k !== '')
    .map(([k, v]) => `${k}=${v ?? ''}`)
    .slice(0, 5);
  return `nobody known to rdsflow (no rdsflow.io/uid tag${others.length > 0 ? `; tags ${others.join(', ')}` : ''})`;
}

function notOurs(identifier: string, ref: DatabaseRef, tags: Tags, doing: string): Error {
  const retained = !tags[TAG_KEYS.uid] && tags[TAG_KEYS.retainedFrom];
  return terminal(
    FAILURE.instanceNotOurs,
    `RDS instance ${identifier} belongs to ${ownerOf(tags)}, not to this Database (uid ${ref.uid}); ` +
      `rdsflow will not ${doing} it.` +
      (retained ? ' To take it over, set spec.adoptRetained: true.' : ''),
    { dbInstanceIdentifier: identifier, ownerTags: tags },
  );
}

/** The instance, read now, if it carries this object's UID; otherwise InstanceNotOurs. */
async function ours(
  deps: RdsDeps,
  step: string,
  identifier: string,
  ref: DatabaseRef,
  doing: string,
): Promise<{ instance: DBInstance; tags: Tags } | undefined> {
  const instance = await aws(step, () => describe(deps, identifier));
  if (!instance) return undefined;
  const tags = tagsOf(instance);
  if (tags[TAG_KEYS.uid] !== ref.uid) throw notOurs(identifier, ref, tags, doing);
  return { instance, tags };
}

function notYet(message: string, deps: RdsDeps): ApplicationFailure {
  return ApplicationFailure.create({
    type: NOT_YET,
    message,
    nextRetryDelay: deps.timing.pollIntervalMs,
  });
}

/**
 * Polls with heartbeats until `attempt` returns a result, for at most one poll window; then
 * hands back to the server with a retryable NotYetAvailable, so a long wait costs no history
 * events and no worker slot between windows, and survives worker crashes.
 */
async function poll<T>(
  deps: RdsDeps,
  what: string,
  attempt: () => Promise<{ result?: T; status: string }>,
): Promise<T & { polls: number }> {
  const { pollIntervalMs, pollWindowMs } = deps.timing;
  const deadline = Date.now() + pollWindowMs;
  let polls = 0;
  let status: string;
  for (;;) {
    const outcome = await attempt();
    polls++;
    status = outcome.status;
    if (outcome.result !== undefined) return { ...outcome.result, polls };
    heartbeat({ status, polls });
    if (Date.now() + pollIntervalMs > deadline) break;
    await sleep(pollIntervalMs);
  }
  throw notYet(`${what}: ${status}`, deps);
}

/** What the spec asks for that the instance does not have (or is not already getting). */
function specDrift(instance: DBInstance, db: ResolvedDatabase): ModifyDBInstanceCommandInput {
  const pending = instance.PendingModifiedValues ?? {};
  const drift: ModifyDBInstanceCommandInput = { DBInstanceIdentifier: db.dbInstanceIdentifier };
  if ((pending.DBInstanceClass ?? instance.DBInstanceClass) !== db.instanceClass)
    drift.DBInstanceClass = db.instanceClass;
  if ((pending.AllocatedStorage ?? instance.AllocatedStorage) !== db.storageGiB)
    drift.AllocatedStorage = db.storageGiB;
  if ((pending.MultiAZ ?? instance.MultiAZ ?? false) !== db.multiAZ) drift.MultiAZ = db.multiAZ;
  if (db.engineVersion && (pending.EngineVersion ?? instance.EngineVersion) !== db.engineVersion)
    drift.EngineVersion = db.engineVersion;
  return drift;
}

/** Aligns the tags with the spec: user tags as written, identity and credential tags ours. */
async function convergeTags(
  deps: RdsDeps,
  instance: DBInstance,
  db: ResolvedDatabase,
  credentialId: string,
): Promise<boolean> {
  const arn = instance.DBInstanceArn;
  if (!arn) return false;
  const current = tagsOf(instance);
  const stale = Object.keys(current).filter(
    (k) => k !== '' && !k.startsWith('rdsflow.io/') && !(k in db.tags),
  );
  const wanted = [
    ...userTags(db),
    ...identityTags(db.ref),
    { Key: TAG_KEYS.credential, Value: credentialId },
  ];
  const missing = wanted.filter((t) => current[t.Key ?? ''] !== t.Value);
  if (stale.length > 0) {
    await aws('modifyDbInstance', () =>
      deps.rds.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: stale })),
    );
  }
  if (missing.length > 0) {
    await aws('modifyDbInstance', () =>
      deps.rds.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: missing })),
    );
  }
  return stale.length > 0 || missing.length > 0;
}

/** Makes a retained instance this object's: its UID tag on, the retained mark off. */
async function takeOver(deps: RdsDeps, instance: DBInstance, db: ResolvedDatabase): Promise<void> {
  const arn = instance.DBInstanceArn ?? '';
  await aws('createDbInstance', () =>
    deps.rds.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: identityTags(db.ref) })),
  );
  await aws('createDbInstance', () =>
    deps.rds.send(
      new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: [TAG_KEYS.retainedFrom] }),
    ),
  );
}

/** Retain: the instance stays, marked as released; no object's UID is on it any more. */
async function release(deps: RdsDeps, instance: DBInstance, uid: string): Promise<void> {
  const arn = instance.DBInstanceArn ?? '';
  await aws('deleteDbInstance', () =>
    deps.rds.send(
      new AddTagsToResourceCommand({
        ResourceName: arn,
        Tags: [{ Key: TAG_KEYS.retainedFrom, Value: uid }],
      }),
    ),
  );
  await aws('deleteDbInstance', () =>
    deps.rds.send(
      new RemoveTagsFromResourceCommand({
        ResourceName: arn,
        TagKeys: [TAG_KEYS.uid, TAG_KEYS.run],
      }),
    ),
  );
}

/** An older worker's call deleteDbInstance(names, policy) still arrives during an upgrade. */
function deleteRequestOf(request: DeleteInstanceRequest | DatabaseNames, legacyPolicy?: string) {
  if ('names' in request) return request;
  const policy = legacyPolicy === 'Delete' || legacyPolicy === 'Retain' ? legacyPolicy : 'Snapshot';
  const uid8 = request.ref.uid
    .replace(/[^a-z0-9]/gi, '')
    .slice(0, 8)
    .toLowerCase();
  return {
    names: request,
    policy,
    finalSnapshot: `${request.dbInstanceIdentifier}-final-${uid8}`,
  } satisfies DeleteInstanceRequest;
}

/**
 * Names, on every RDS request made from an activity, the workflow (and run) it was made for:
 * `x-rdsflow-workflow-id` carries the Database's identity, so a proxy, a log or the test suite's
 * destruction audit can attribute each call to the object that asked for it.
 */
export function attributeRdsCalls(rds: Pick<RDSClient, 'middlewareStack'>): void {
  rds.middlewareStack.add(
    (next) => async (args) => {
      let execution: { workflowId: string; runId: string } | undefined;
      try {
        execution = activityInfo().workflowExecution;
      } catch {
        // not inside an activity: nothing to attribute
      }
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (execution && request?.headers) {
        request.headers['x-rdsflow-workflow-id'] = execution.workflowId;
        request.headers['x-rdsflow-run-id'] = execution.runId;
      }
      return next(args);
    },
    { step: 'build', name: 'rdsflowAttribution' },
  );
}

export function createRdsActivities(deps: RdsDeps) {
  /**
   * An instance already under our identifier: ours (a retried or crashed earlier attempt) is
   * adopted; one retained by a deleted Database of this name is taken over only with
   * spec.adoptRetained; any other is InstanceNotOurs, untouched.
   */
  async function adopt(
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
      await takeOver(deps, existing, db);
      log.info('took over retained RDS instance', { dbInstanceIdentifier: id, retainedFrom });
      return { adopted: true, status, retainedFrom };
    }
    throw notOurs(id, db.ref, tags, 'adopt');
  }

  /** One DeleteDBInstance, as RDS allows it now; undefined while RDS cannot take it yet. */
  async function requestDeletion(
    request: DeleteInstanceRequest,
    instance: DBInstance,
  ): Promise<DeleteInstanceResult | undefined> {
    const { names, policy } = request;
    const id = names.dbInstanceIdentifier;
    const status = instance.DBInstanceStatus ?? 'unknown';
    if (status === RDS_STATUS.deleting) {
      return {
        state: 'deleting',
        ...(policy === 'Snapshot' ? { snapshot: request.finalSnapshot } : {}),
      };
    }
    if (policy === 'Snapshot' && RDS_NO_SNAPSHOT_STATUSES.has(status)) {
      throw terminal(
        FAILURE.cannotSnapshot,
        `RDS instance ${id} is ${status}: RDS deletes an instance in that state only without a ` +
          'final snapshot. Set deletionPolicy: Delete to delete it without one, or Retain to keep it.',
        { dbInstanceIdentifier: id, rdsStatus: status },
      );
    }
    if (policy === 'Snapshot' && !RDS_SNAPSHOT_READY_STATUSES.has(status)) return undefined;
    // a snapshot name is unique per deletion; should one exist anyway, the next is taken
    for (let n = 1; n <= 3; n++) {
      const snapshot = n === 1 ? request.finalSnapshot : `${request.finalSnapshot}-${n}`;
      try {
        await deps.rds.send(
          new DeleteDBInstanceCommand({
            DBInstanceIdentifier: id,
            ...(policy === 'Snapshot'
              ? { SkipFinalSnapshot: false, FinalDBSnapshotIdentifier: snapshot }
              : { SkipFinalSnapshot: true }),
            DeleteAutomatedBackups: policy === 'Delete',
          }),
        );
        log.info('RDS instance deletion requested', { dbInstanceIdentifier: id, policy, snapshot });
        return { state: 'deleting', ...(policy === 'Snapshot' ? { snapshot } : {}) };
      } catch (error: unknown) {
        if (isNotFound(error)) return { state: 'absent' };
        // NOTE: RDS refuses a delete it cannot carry out in the instance's state: not a success
        if (isInvalidState(error)) return undefined;
        if (!/DBSnapshotAlreadyExists/.test(errorName(error)) || policy !== 'Snapshot') {
          throw classifyAwsError('deleteDbInstance', error, activityInfo().attempt);
        }
        log.warn('final snapshot name taken; choosing the next', { snapshot });
      }
    }
    throw terminal(
      FAILURE.cannotSnapshot,
      `final snapshots ${request.finalSnapshot}(-2,-3) of ${id} all exist already`,
    );
  }

  return {
    /**
     * Creates the instance. If one with our identifier exists and carries this object's UID tag
     * (a retried or crashed earlier attempt), it is adopted; one retained by a deleted Database
     * of this name is taken over only with spec.adoptRetained; any other owner is a clear error.
     */
    async createDbInstance(
      db: ResolvedDatabase,
    ): Promise<{ adopted: boolean; status: string; retainedFrom?: string }> {
      const id = db.dbInstanceIdentifier;
      // an instance already there is judged by its tags before any password is sent anywhere
      const existing = await aws('createDbInstance', () => describe(deps, id));
      if (existing) return adopt(existing, db);
      const credentials = await deps.credentials.read(db);
      try {
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
            Tags: [
              ...userTags(db),
              ...identityTags(db.ref),
              { Key: TAG_KEYS.run, Value: activityInfo().workflowExecution?.runId ?? 'none' },
              { Key: TAG_KEYS.credential, Value: credentials.credentialId },
            ],
          }),
        );
        log.info('RDS instance creation requested', { dbInstanceIdentifier: id });
        return { adopted: false, status: out.DBInstance?.DBInstanceStatus ?? RDS_STATUS.creating };
      } catch (error: unknown) {
        if (!/DBInstanceAlreadyExists/.test(errorName(error))) {
          throw classifyAwsError('createDbInstance', error, activityInfo().attempt);
        }
      }
      // created meanwhile (a concurrent attempt, or an identifier still being deleted)
      const raced = await aws('createDbInstance', () => describe(deps, id));
      if (!raced)
        throw ApplicationFailure.retryable(
          `${id} exists and vanished; retrying`,
          FAILURE.transient,
        );
      return adopt(raced, db);
    },

    /** Waits until the instance is `available` and returns its endpoint; terminal states fail. */
    async waitUntilAvailable(identifier: string): Promise<{ endpoint: Endpoint; polls: number }> {
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
        return {
          status,
          ...(status === RDS_STATUS.available && endpoint ? { result: { endpoint } } : {}),
        };
      });
    },

    /**
     * Makes the instance what the spec and the credentials say: modifiable fields, tags, and the
     * master password when the instance does not have the one in Vault (an adopted instance).
     * Only on our own instance, and only when it is `available` (RDS refuses otherwise).
     */
    async modifyDbInstance(db: ResolvedDatabase): Promise<{ status: string; changed: boolean }> {
      const id = db.dbInstanceIdentifier;
      const found = await ours(deps, 'modifyDbInstance', id, db.ref, 'modify');
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
          deps.rds.send(
            new ModifyDBInstanceCommand({
              ...drift,
              ...(reset ? { MasterUserPassword: credentials.password } : {}),
              ApplyImmediately: true,
            }),
          ),
        );
        if (reset)
          log.info('master password reset to the one in Vault', { dbInstanceIdentifier: id });
      }
      const retagged = await convergeTags(deps, instance, db, credentials.credentialId);
      return {
        status: out?.DBInstance?.DBInstanceStatus ?? status,
        changed: fields || reset || retagged,
      };
    },

    /**
     * One deletion per policy, on our own instance only: Snapshot keeps a final snapshot (and
     * waits for a state in which RDS can take one), Delete skips it, Retain marks the instance
     * released and leaves it. A rollback (`createdByRun`) deletes only what that run created.
     */
    async deleteDbInstance(
      requested: DeleteInstanceRequest | DatabaseNames,
      legacyPolicy?: string,
    ): Promise<DeleteInstanceResult & { polls?: number }> {
      const request = deleteRequestOf(requested, legacyPolicy);
      const { names, policy, createdByRun } = request;
      const id = names.dbInstanceIdentifier;
      return poll(deps, `${id} cannot be deleted yet`, async () => {
        const instance = await aws('deleteDbInstance', () => describe(deps, id));
        if (!instance) return { status: 'absent', result: { state: 'absent' } };
        const tags = tagsOf(instance);
        const status = instance.DBInstanceStatus ?? 'unknown';
        if (createdByRun !== undefined) {
          const mine = tags[TAG_KEYS.uid] === names.ref.uid && tags[TAG_KEYS.run] === createdByRun;
          if (!mine || policy === 'Retain') {
            log.info('rollback leaves an instance this run did not create', {
              dbInstanceIdentifier: id,
              owner: ownerOf(tags),
            });
            return { status, result: { state: 'kept' } };
          }
        } else if (tags[TAG_KEYS.uid] !== names.ref.uid) {
          throw notOurs(id, names.ref, tags, 'delete');
        }
        if (policy === 'Retain') {
          await release(deps, instance, names.ref.uid);
          log.info('RDS instance retained', { dbInstanceIdentifier: id });
          return { status, result: { state: 'retained' } };
        }
        const result = await requestDeletion(request, instance);
        return { status, ...(result ? { result } : {}) };
      });
    },

    /**
     * Waits until our instance is gone, then confirms the final snapshot, if one was asked for,
     * really exists: the result names a snapshot only when RDS took it.
     */
    async waitUntilDeleted(
      target: string | { names: DatabaseNames; snapshot?: string },
    ): Promise<{ polls: number; snapshot?: string }> {
      const id = typeof target === 'string' ? target : target.names.dbInstanceIdentifier;
      const uid = typeof target === 'string' ? undefined : target.names.ref.uid;
      const gone = await poll(deps, `${id} is still there`, async () => {
        const instance = await aws('waitUntilDeleted', () => describe(deps, id));
        if (!instance) return { status: 'absent', result: {} };
        // another owner's instance under the identifier is not ours to wait for
        const mine = uid === undefined || tagsOf(instance)[TAG_KEYS.uid] === uid;
        const status = instance.DBInstanceStatus ?? 'unknown';
        return { status, ...(mine || status === RDS_STATUS.deleting ? {} : { result: {} }) };
      });
      const snapshot = typeof target === 'string' ? undefined : target.snapshot;
      if (!snapshot) return { polls: gone.polls };
      const found = await aws('waitUntilDeleted', async () => {
        try {
          const out = await deps.rds.send(
            new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshot }),
          );
          return out.DBSnapshots?.[0];
        } catch (error: unknown) {
          if (/DBSnapshotNotFound/.test(errorName(error))) return undefined;
          throw error;
        }
      });
      if (!found) log.warn('final snapshot not found after the deletion', { snapshot });
      return { polls: gone.polls, ...(found ? { snapshot } : {}) };
    },
  };
}
