// Deleting an RDS instance per policy, as RDS allows it: on our own instance only, with the
// object's newest policy read right before the call, waiting for a state RDS can snapshot from,
// never taking a refusal for done, and a "not found" believed only where the instance lives;
// releasing one (Retain, an orphaned database, an adoption undone); waiting until one is gone.
import {
  AddTagsToResourceCommand,
  DeleteDBInstanceCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  RemoveTagsFromResourceCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { activityInfo, log } from '@temporalio/activity';
import type { DeletionPolicy } from '../contracts/database.js';
import { TAG_KEYS } from '../contracts/names.js';
import { mostProtective, type DatabaseNames } from '../contracts/spec.js';
import {
  FAILURE,
  type DeleteInstanceRequest,
  type DeleteInstanceResult,
} from '../contracts/workflow.js';
import { classifyError, terminal } from './errors.js';
import {
  RDS_NO_SNAPSHOT_STATUSES,
  RDS_SKIP_SNAPSHOT_ONLY_STATUSES,
  RDS_SNAPSHOT_READY_STATUSES,
  RDS_STATUS,
  RDS_TERMINAL_STATUSES,
  aws,
  describe,
  errorName,
  isInvalidState,
  isNotFound,
  instanceNotOurs,
  ownerOf,
  poll,
  tagsOf,
  type RdsDeps,
  notYet,
} from './rds-instance.js';

/**
 * Marks an instance released: `retained-from` names the UID it was released by (or, an
 * adoption undone, the owner it came from); no object's UID is on it any more.
 */
async function release(
  deps: RdsDeps,
  instance: DBInstance,
  retainedFrom: string,
  step: string,
): Promise<void> {
  const arn = instance.DBInstanceArn ?? '';
  const lifted = tagsOf(instance)[TAG_KEYS.protectionLifted] !== undefined;
  if (lifted) await protectAgain(deps, instance, step);
  await aws(step, () =>
    deps.destructive.send(
      new AddTagsToResourceCommand({
        ResourceName: arn,
        Tags: [{ Key: TAG_KEYS.retainedFrom, Value: retainedFrom }],
      }),
    ),
  );
  await aws(step, () =>
    deps.destructive.send(
      new RemoveTagsFromResourceCommand({
        ResourceName: arn,
        TagKeys: [TAG_KEYS.uid, TAG_KEYS.run, ...(lifted ? [TAG_KEYS.protectionLifted] : [])],
      }),
    ),
  );
}

/**
 * Deletion protection back on for an instance kept after all, which rdsflow had lifted it from
 * for a deletion that did not happen: RDS changes it only on an available instance.
 */
async function protectAgain(deps: RdsDeps, instance: DBInstance, step: string): Promise<void> {
  const id = instance.DBInstanceIdentifier ?? '';
  const status = instance.DBInstanceStatus ?? 'unknown';
  if (status !== RDS_STATUS.available) {
    throw notYet(
      `${id} is ${status}; its deletion protection goes back on once it is available`,
      deps,
    );
  }
  await aws(step, () =>
    deps.destructive.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        DeletionProtection: true,
        ApplyImmediately: true,
      }),
    ),
  );
  log.info('deletion protection on again: the instance is kept', { dbInstanceIdentifier: id });
}

/**
 * Keeps our instance and marks it released (an object that vanished without a delete, or a
 * cancelled adoption giving back what it took): proven ours first, never deleted.
 */
export async function releaseDbInstance(
  deps: RdsDeps,
  names: DatabaseNames,
  retainedFrom = names.ref.uid,
): Promise<{ state: 'released' | 'absent' | 'not-ours' }> {
  const id = names.dbInstanceIdentifier;
  const instance = await aws('releaseDbInstance', () => describe(deps, id));
  if (!instance) return { state: 'absent' };
  const tags = tagsOf(instance);
  if (tags[TAG_KEYS.uid] !== names.ref.uid) {
    log.info('release leaves an instance that is not ours', {
      dbInstanceIdentifier: id,
      owner: ownerOf(tags, names.ref),
    });
    return { state: 'not-ours' };
  }
  await release(deps, instance, retainedFrom, 'releaseDbInstance');
  log.info('RDS instance released', { dbInstanceIdentifier: id, retainedFrom });
  return { state: 'released' };
}

/**
 * Whether RDS can take the deletion in this state: `go`, `wait` (a final snapshot needs an
 * available instance) or `deleting` already; a state RDS never snapshots from fails for good.
 */
function deletable(id: string, policy: DeletionPolicy, status: string): 'go' | 'wait' | 'deleting' {
  if (status === RDS_STATUS.deleting) return 'deleting';
  if (policy !== 'Snapshot') return 'go';
  if (RDS_NO_SNAPSHOT_STATUSES.has(status)) {
    const why = RDS_SKIP_SNAPSHOT_ONLY_STATUSES.has(status)
      ? 'RDS deletes an instance in that state only without a final snapshot'
      : 'RDS cannot take a snapshot of an instance in that state until its cause is fixed ' +
        '(parameters, option group, network, encryption key or credentials: see the RDS console)';
    throw terminal(
      FAILURE.cannotSnapshot,
      `RDS instance ${id} is ${status}: ${why}`,
      { dbInstanceIdentifier: id, rdsStatus: status },
      'Set deletionPolicy: Delete to delete it without one, or Retain to keep it; or fix the ' +
        'cause and `rdsflow retry`.',
    );
  }
  return RDS_SNAPSHOT_READY_STATUSES.has(status) ? 'go' : 'wait';
}

/**
 * Turns the instance's deletion protection off for the deletion about to be sent (the caller
 * proved it ours and read the policy just now): the instance's status after it (RDS may show
 * `modifying` for a moment), or `wait` while RDS cannot change the instance yet
 * (ModifyDBInstance wants it `available`). In a state that will not become available by itself,
 * it fails: RDS would refuse the delete for good.
 */
async function liftProtection(
  deps: RdsDeps,
  id: string,
  instance: DBInstance,
): Promise<{ status: string } | 'wait'> {
  const status = instance.DBInstanceStatus ?? 'unknown';
  if (!instance.DeletionProtection) return { status };
  if (RDS_TERMINAL_STATUSES.has(status)) {
    throw terminal(
      FAILURE.conflict,
      `RDS instance ${id} is ${status} with deletion protection on: RDS turns it off only on an available instance, and refuses the delete until then`,
      { dbInstanceIdentifier: id, rdsStatus: status },
      'Turn deletion protection off in RDS, or set deletionPolicy: Retain to keep the instance, then `rdsflow retry`.',
    );
  }
  if (status !== RDS_STATUS.available) return 'wait';
  // marked first: should the deletion not follow, keeping the instance turns protection back on
  await aws('deleteDbInstance', () =>
    deps.destructive.send(
      new AddTagsToResourceCommand({
        ResourceName: instance.DBInstanceArn ?? '',
        Tags: [{ Key: TAG_KEYS.protectionLifted, Value: 'true' }],
      }),
    ),
  );
  let after: string | undefined;
  try {
    // once per proof, like the delete it clears the way for
    const out = await deps.destructive.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        DeletionProtection: false,
        ApplyImmediately: true,
      }),
    );
    after = out.DBInstance?.DBInstanceStatus;
  } catch (error: unknown) {
    if (isInvalidState(error)) return 'wait';
    throw classifyError('AWS', 'deleteDbInstance', error, activityInfo().attempt);
  }
  log.info('deletion protection lifted for the deletion', { dbInstanceIdentifier: id });
  return { status: after ?? status };
}

/** RDS refused the delete because the instance is protected (turned on again meanwhile). */
const isProtected = (error: unknown): boolean =>
  /InvalidParameterCombination/.test(errorName(error)) &&
  /protect/i.test((error as { message?: string }).message ?? '');

/** One DeleteDBInstance, as RDS allows it now; undefined while RDS cannot take it yet. */
async function requestDeletion(
  deps: RdsDeps,
  request: DeleteInstanceRequest,
  policy: DeletionPolicy,
  instance: DBInstance,
): Promise<DeleteInstanceResult | undefined> {
  const id = request.names.dbInstanceIdentifier;
  const snapshotted = (snapshot: string) => (policy === 'Snapshot' ? { snapshot } : {});
  const now = deletable(id, policy, instance.DBInstanceStatus ?? 'unknown');
  if (now === 'deleting')
    return { state: 'deleting', policy, ...snapshotted(request.finalSnapshot) };
  if (now === 'wait') return undefined;
  const lifted = await liftProtection(deps, id, instance);
  // a final snapshot waits until the lift has settled (the next look finds it unprotected)
  if (lifted === 'wait' || deletable(id, policy, lifted.status) !== 'go') return undefined;
  // a snapshot name is unique per deletion; should one exist anyway, the next is taken
  for (let n = 1; n <= 3; n++) {
    const snapshot = n === 1 ? request.finalSnapshot : `${request.finalSnapshot}-${n}`;
    try {
      // once per proof: no SDK retry re-sends it (the activity's retry reads and proves again)
      await deps.destructive.send(
        new DeleteDBInstanceCommand({
          DBInstanceIdentifier: id,
          ...(policy === 'Snapshot'
            ? { SkipFinalSnapshot: false, FinalDBSnapshotIdentifier: snapshot }
            : { SkipFinalSnapshot: true }),
          DeleteAutomatedBackups: policy === 'Delete',
        }),
      );
      log.info('RDS instance deletion requested', { dbInstanceIdentifier: id, policy, snapshot });
      return { state: 'deleting', policy, ...snapshotted(snapshot) };
    } catch (error: unknown) {
      if (isNotFound(error)) return { state: 'absent', policy };
      // NOTE: RDS refuses a delete it cannot carry out in the instance's state: not a success
      if (isInvalidState(error)) return undefined;
      // NOTE: protection back on since the lift: never done; the next look lifts it again
      if (isProtected(error)) {
        log.warn('RDS refused the deletion: deletion protection is on', {
          dbInstanceIdentifier: id,
        });
        return undefined;
      }
      if (!/DBSnapshotAlreadyExists/.test(errorName(error)) || policy !== 'Snapshot') {
        throw classifyError('AWS', 'deleteDbInstance', error, activityInfo().attempt);
      }
      log.warn('final snapshot name taken; choosing the next', { snapshot });
    }
  }
  throw terminal(
    FAILURE.cannotSnapshot,
    `final snapshots ${request.finalSnapshot}(-2,-3) of ${id} all exist already`,
  );
}

/**
 * "Not found" is believed only where the instance was made: the ARN recorded at its creation
 * names the account and region; credentials or a region that look elsewhere prove nothing.
 */
async function provenAbsent(deps: RdsDeps, request: DeleteInstanceRequest): Promise<void> {
  const arn = request.expectedArn;
  if (!arn) return;
  const [, , , region = '', account = ''] = arn.split(':');
  const here = await aws('deleteDbInstance', () => deps.location());
  if (here.region === region && here.account === account) return;
  const id = request.names.dbInstanceIdentifier;
  throw terminal(
    FAILURE.instanceElsewhere,
    `RDS instance ${id} was created in account ${account}, region ${region}, but this worker ` +
      `looks at account ${here.account}, region ${here.region}, where it is not found: nothing ` +
      'is proven gone, so nothing is released (credentials and Consul entries are kept, the ' +
      'finalizer holds)',
    { dbInstanceIdentifier: id, expected: { account, region }, actual: here },
    "Fix the worker's AWS_REGION or credentials, then `rdsflow retry`.",
  );
}

/** Released by this object (and not taken back since): its UID in retained-from, not in uid. */
function releasedBy(tags: Record<string, string | undefined>, uid: string): boolean {
  return tags[TAG_KEYS.uid] !== uid && tags[TAG_KEYS.retainedFrom] === uid;
}

/** The policy to apply now: the request's, or the object's newer, more protective one. */
async function policyNow(
  deps: RdsDeps,
  request: DeleteInstanceRequest,
): Promise<DeletionPolicy | 'gone'> {
  const live = await aws('deleteDbInstance', () => deps.objects.policy(request.names.ref));
  if (live === 'gone') return 'gone';
  return live ? mostProtective(request.policy, live) : request.policy;
}

/**
 * One deletion per policy, on our own instance only: Snapshot keeps a final snapshot (and
 * waits for a state in which RDS can take one), Delete skips it, Retain marks the instance
 * released and leaves it. The object's policy is read again right before the call; an object
 * that is gone by then deletes nothing (`orphaned`). A rollback (`createdByRun`) deletes only
 * what that run created.
 */
export async function deleteDbInstance(
  deps: RdsDeps,
  request: DeleteInstanceRequest,
): Promise<DeleteInstanceResult & { polls?: number }> {
  const { names, createdByRun } = request;
  const id = names.dbInstanceIdentifier;
  return poll(deps, `${id} cannot be deleted yet`, async () => {
    const instance = await aws('deleteDbInstance', () => describe(deps, id));
    if (!instance) {
      await provenAbsent(deps, request);
      return { status: 'absent', result: { state: 'absent' } };
    }
    const tags = tagsOf(instance);
    const status = instance.DBInstanceStatus ?? 'unknown';
    const mine = tags[TAG_KEYS.uid] === names.ref.uid;
    // released by this very object earlier (an orphaning, a Retain it then took back from):
    // kept, as released, with its credentials
    if (releasedBy(tags, names.ref.uid)) {
      log.info('the instance is released by this object already: kept', {
        dbInstanceIdentifier: id,
      });
      return { status, result: { state: 'retained', policy: 'Retain' } };
    }
    if (createdByRun === undefined && !mine) throw instanceNotOurs(id, names.ref, tags, 'delete');
    // NOTE: an instance RDS is deleting already goes on being deleted, as it was asked: no new
    // decision to make (and no "gone, nothing deleted" to tell while it goes)
    if (status === RDS_STATUS.deleting) {
      const result = await requestDeletion(deps, request, request.policy, instance);
      return { status, ...(result ? { result } : {}) };
    }
    const policy = await policyNow(deps, request);
    if (policy === 'gone') {
      log.warn('the object is gone: nothing is deleted', { dbInstanceIdentifier: id });
      return { status, result: { state: 'orphaned' } };
    }
    const ownRun = mine && tags[TAG_KEYS.run] === createdByRun;
    if (createdByRun !== undefined && (!ownRun || policy === 'Retain')) {
      log.info('rollback leaves an instance this run did not create', {
        dbInstanceIdentifier: id,
        owner: ownerOf(tags, names.ref),
      });
      return { status, result: { state: 'kept', policy } };
    }
    if (policy === 'Retain') {
      await release(deps, instance, names.ref.uid, 'deleteDbInstance');
      log.info('RDS instance retained', { dbInstanceIdentifier: id });
      return { status, result: { state: 'retained', policy } };
    }
    const result = await requestDeletion(deps, request, policy, instance);
    return { status, ...(result ? { result } : {}) };
  });
}

/**
 * Waits until our instance is gone, then confirms the final snapshot, if one was asked for,
 * really exists: the result names a snapshot only when RDS took it.
 */
export async function waitUntilDeleted(
  deps: RdsDeps,
  target: { names: DatabaseNames; snapshot?: string },
): Promise<{ polls: number; snapshot?: string }> {
  const id = target.names.dbInstanceIdentifier;
  const uid = target.names.ref.uid;
  const gone = await poll(deps, `${id} is still there`, async () => {
    const instance = await aws('waitUntilDeleted', () => describe(deps, id));
    if (!instance) return { status: 'absent', result: {} };
    // another owner's instance under the identifier is not ours to wait for
    const mine = tagsOf(instance)[TAG_KEYS.uid] === uid;
    const status = instance.DBInstanceStatus ?? 'unknown';
    return { status, ...(mine || status === RDS_STATUS.deleting ? {} : { result: {} }) };
  });
  const snapshot = target.snapshot;
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
}
