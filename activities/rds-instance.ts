// Reading an RDS instance as rdsflow needs it: its status and tags, whose it is (the proof
// checked before every change, docs/ownership.md), polling with heartbeats, and the named RDS
// statuses. Shared by the RDS activities (activities/rds.ts, activities/rds-delete.ts).
import {
  DescribeDBInstancesCommand,
  type DBInstance,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { ApplicationFailure } from '@temporalio/common';
import { activityInfo, heartbeat, sleep } from '@temporalio/activity';
import type { DatabaseRef, DeletionPolicy } from '../contracts/database.js';
import { TAG_KEYS } from '../contracts/names.js';
import type { AwsTarget, ResolvedDatabase } from '../contracts/spec.js';
import { FAILURE, type Endpoint } from '../contracts/workflow.js';
import { classifyError, terminal } from './errors.js';

export type RdsSlice = Pick<RDSClient, 'send'>;

/**
 * Where the master password comes from (the Vault activities provide it): this object's
 * password, and which one it is (the instance's credential tag names the one it has).
 */
export interface CredentialSource {
  read(db: ResolvedDatabase): Promise<{ readonly password: string; readonly credentialId: string }>;
}

export interface PollTiming {
  /** time between two DescribeDBInstances calls */
  readonly pollIntervalMs: number;
  /** how long one activity attempt polls before handing back to the server to retry later */
  readonly pollWindowMs: number;
}

/** Where the worker's RDS calls look: its credentials' account and its region. */
export interface Location {
  readonly account: string;
  readonly region: string;
}

/** The object a destructive call is made for, read right before the call. */
export interface ObjectReader {
  /**
   * The object's deletion policy now (undefined when its spec names none), or `gone` when no
   * object of that namespace and name has this UID any more.
   */
  policy(ref: DatabaseRef): Promise<DeletionPolicy | undefined | 'gone'>;
}

export interface RdsDeps {
  readonly rds: RdsSlice;
  /**
   * The same RDS without the SDK's own retries, for every call that changes or deletes an
   * instance: such a call goes out once per proof; the activity's retry reads and proves again.
   */
  readonly destructive: RdsSlice;
  readonly timing: PollTiming;
  /** this object's master password, for the create and for a reset */
  readonly credentials: CredentialSource;
  /** where this worker's calls look (STS GetCallerIdentity and the client's region) */
  readonly location: () => Promise<Location>;
  readonly objects: ObjectReader;
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
export const RDS_SKIP_SNAPSHOT_ONLY_STATUSES: ReadonlySet<string> = new Set([
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

export const NOT_YET = FAILURE.notYet;

export type Tags = Readonly<Record<string, string | undefined>>;

/**
 * Terminal states RDS cannot snapshot from: without a person's fix (parameters, encryption key,
 * credentials, ...) the instance never reaches one it can, so a Snapshot delete fails at once.
 */
export const RDS_NO_SNAPSHOT_STATUSES: ReadonlySet<string> = new Set(
  [...RDS_TERMINAL_STATUSES].filter((s) => !RDS_SNAPSHOT_READY_STATUSES.has(s)),
);

export function tagsOf(instance: DBInstance): Tags {
  return Object.fromEntries((instance.TagList ?? []).map((t) => [t.Key ?? '', t.Value]));
}

export function identityTags(ref: DatabaseRef): Tag[] {
  return [
    { Key: TAG_KEYS.namespace, Value: ref.namespace },
    { Key: TAG_KEYS.name, Value: ref.name },
    { Key: TAG_KEYS.uid, Value: ref.uid },
  ];
}

export function userTags(db: ResolvedDatabase): Tag[] {
  return Object.entries(db.tags).map(([Key, Value]) => ({ Key, Value }));
}

export function errorName(error: unknown): string {
  return (error as { name?: string }).name ?? '';
}

export const isNotFound = (error: unknown): boolean => /DBInstanceNotFound/.test(errorName(error));
export const isInvalidState = (error: unknown): boolean =>
  /InvalidDBInstanceState/.test(errorName(error));

export async function aws<T>(step: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    throw classifyError('AWS', step, error, activityInfo().attempt);
  }
}

export async function describe(deps: RdsDeps, identifier: string): Promise<DBInstance | undefined> {
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

export function endpointOf(instance: DBInstance): Endpoint | undefined {
  const host = instance.Endpoint?.Address;
  const port = instance.Endpoint?.Port;
  return host && port ? { host, port } : undefined;
}

/**
 * Who an instance belongs to, in words, from its tags, as told to `viewer` (a message on its
 * object): another namespace's Database is named as such, never by its name or UID.
 */
export function ownerOf(tags: Tags, viewer?: DatabaseRef): string {
  const namespace = tags[TAG_KEYS.namespace];
  const elsewhere =
    viewer !== undefined && namespace !== undefined && namespace !== viewer.namespace;
  const who = elsewhere
    ? 'a Database of another namespace'
    : `${namespace ?? '?'}/${tags[TAG_KEYS.name] ?? '?'}`;
  const uid = (value: string | undefined) => (elsewhere ? '' : ` (uid ${value ?? '?'})`);
  if (tags[TAG_KEYS.uid]) return `${who}${uid(tags[TAG_KEYS.uid])}`;
  if (tags[TAG_KEYS.retainedFrom]) {
    return `nobody: it was retained by ${elsewhere ? who : `the deleted Database ${who}`}${uid(tags[TAG_KEYS.retainedFrom])}`;
  }
  const others = Object.entries(tags)
    .filter(([k]) => k !== '')
    .map(([k, v]) => `${k}=${v ?? ''}`)
    .slice(0, 5);
  return `nobody known to rdsflow (no rdsflow.io/uid tag${others.length > 0 ? `; tags ${others.join(', ')}` : ''})`;
}

export function instanceNotOurs(
  identifier: string,
  ref: DatabaseRef,
  tags: Tags,
  doing: string,
): Error {
  const retained =
    !tags[TAG_KEYS.uid] &&
    tags[TAG_KEYS.retainedFrom] &&
    tags[TAG_KEYS.namespace] === ref.namespace &&
    tags[TAG_KEYS.name] === ref.name;
  return terminal(
    FAILURE.instanceNotOurs,
    `RDS instance ${identifier} belongs to ${ownerOf(tags, ref)}, not to this Database (uid ${ref.uid}); ` +
      `rdsflow will not ${doing} it`,
    { dbInstanceIdentifier: identifier },
    retained ? 'To take it over, set spec.adoptRetained: true.' : undefined,
  );
}

/** The instance, read now, if it carries this object's UID; otherwise InstanceNotOurs. */
export async function readOwnInstance(
  deps: RdsDeps,
  step: string,
  identifier: string,
  ref: DatabaseRef,
  doing: string,
): Promise<{ instance: DBInstance; tags: Tags } | undefined> {
  const instance = await aws(step, () => describe(deps, identifier));
  if (!instance) return undefined;
  const tags = tagsOf(instance);
  if (tags[TAG_KEYS.uid] !== ref.uid) throw instanceNotOurs(identifier, ref, tags, doing);
  return { instance, tags };
}

export function notYet(message: string, deps: RdsDeps): ApplicationFailure {
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
export async function poll<T>(
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

/** The clients of one AWS target (a class's region, account and credentials). */
export type RdsClients = Pick<RdsDeps, 'rds' | 'destructive' | 'location'>;

/**
 * What the RDS activities are bound to: the shared parts, and the clients of each target.
 * Without `clientsFor`, every call uses `deps`' own clients, and a Database of a class is
 * refused (the worker always passes it).
 */
export type RdsBinding = RdsDeps & {
  readonly clientsFor?: (target: AwsTarget | undefined) => RdsClients;
};

/**
 * The deps for a target: its clients, once its credentials are proven to be the account the
 * class names (STS GetCallerIdentity), before any RDS call: a mismatch is a permission failure
 * naming both accounts.
 */
export async function depsFor(
  binding: RdsBinding,
  target: AwsTarget | undefined,
): Promise<RdsDeps> {
  if (!target) return binding;
  if (!binding.clientsFor) {
    throw new Error(`no AWS clients for DatabaseClass ${target.className}`);
  }
  const deps = { ...binding, ...binding.clientsFor(target) };
  if (target.account === undefined) return deps;
  const here = await aws('awsTarget', () => deps.location());
  if (here.account !== target.account) {
    throw terminal(
      FAILURE.permissionDenied,
      `DatabaseClass ${target.className} names AWS account ${target.account}, but its ` +
        `credentials are account ${here.account}: no RDS call was made`,
      { className: target.className, expected: target.account, actual: here.account },
      "Fix the class's credentials or account, then `rdsflow retry`.",
    );
  }
  return deps;
}
