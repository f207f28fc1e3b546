// Deleting an RDS instance per policy, as RDS allows it: on our own instance only, waiting for a
// state RDS can snapshot from, never taking a refusal for done; and waiting until it is gone.
import {
  AddTagsToResourceCommand,
  DeleteDBInstanceCommand,
  DescribeDBSnapshotsCommand,
  RemoveTagsFromResourceCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { activityInfo, log } from '@temporalio/activity';
import { TAG_KEYS } from '../contracts/names.js';
import type { DatabaseNames } from '../contracts/spec.js';
import {
  FAILURE,
  type DeleteInstanceRequest,
  type DeleteInstanceResult,
} from '../contracts/workflow.js';
import { classifyAwsError, terminal } from './errors.js';
import {
  RDS_NO_SNAPSHOT_STATUSES,
  RDS_SNAPSHOT_READY_STATUSES,
  RDS_STATUS,
  aws,
  describe,
  errorName,
  isInvalidState,
  isNotFound,
  notOurs,
  ownerOf,
  poll,
  tagsOf,
  type RdsDeps,
} from './rds-instance.js';

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
 * Whether RDS can take the deletion in this state: `go`, `wait` (a final snapshot needs an
 * available instance) or `deleting` already; a state RDS never snapshots from fails for good.
 */
function deletable(request: DeleteInstanceRequest, status: string): 'go' | 'wait' | 'deleting' {
  if (status === RDS_STATUS.deleting) return 'deleting';
  if (request.policy !== 'Snapshot') return 'go';
  if (RDS_NO_SNAPSHOT_STATUSES.has(status)) {
    const id = request.names.dbInstanceIdentifier;
    throw terminal(
      FAILURE.cannotSnapshot,
      `RDS instance ${id} is ${status}: RDS deletes an instance in that state only without a ` +
        'final snapshot. Set deletionPolicy: Delete to delete it without one, or Retain to keep it.',
      { dbInstanceIdentifier: id, rdsStatus: status },
    );
  }
  return RDS_SNAPSHOT_READY_STATUSES.has(status) ? 'go' : 'wait';
}

/** One DeleteDBInstance, as RDS allows it now; undefined while RDS cannot take it yet. */
async function requestDeletion(
  deps: RdsDeps,
  request: DeleteInstanceRequest,
  instance: DBInstance,
): Promise<DeleteInstanceResult | undefined> {
  const { names, policy } = request;
  const id = names.dbInstanceIdentifier;
  const snapshotted = (snapshot: string) => (policy === 'Snapshot' ? { snapshot } : {});
  const now = deletable(request, instance.DBInstanceStatus ?? 'unknown');
  if (now === 'deleting') return { state: 'deleting', ...snapshotted(request.finalSnapshot) };
  if (now === 'wait') return undefined;
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
      return { state: 'deleting', ...snapshotted(snapshot) };
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

/**
 * One deletion per policy, on our own instance only: Snapshot keeps a final snapshot (and
 * waits for a state in which RDS can take one), Delete skips it, Retain marks the instance
 * released and leaves it. A rollback (`createdByRun`) deletes only what that run created.
 */
export async function deleteDbInstance(
  deps: RdsDeps,

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
    const result = await requestDeletion(deps, request, instance);
    return { status, ...(result ? { result } : {}) };
  });
}

/**
 * Waits until our instance is gone, then confirms the final snapshot, if one was asked for,
 * really exists: the result names a snapshot only when RDS took it.
 */
export async function waitUntilDeleted(
  deps: RdsDeps,

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
}
