// Creating an instance from a DB snapshot (spec.source.snapshot): only a snapshot rdsflow took
// of a Database in the same namespace (tenant isolation), of the same engine and master user.
// The new instance carries this object's identity, never the snapshot's: RDS (and moto) copy a
// snapshot's tags onto a restored instance unless told otherwise, and an old uid, retained-from
// or adopted-from mark would make it another object's, or a released one.
import {
  DescribeDBSnapshotsCommand,
  ListTagsForResourceCommand,
  RemoveTagsFromResourceCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  type CreateDBInstanceCommandInput,
  type RestoreDBInstanceFromDBSnapshotCommandInput,
  type DBSnapshot,
  type RestoreDBInstanceFromDBSnapshotCommandOutput,
  type Tag,
} from '@aws-sdk/client-rds';
import { log } from '@temporalio/activity';
import { TAG_KEYS } from '../contracts/names.js';
import type { ResolvedDatabase } from '../contracts/spec.js';
import { FAILURE } from '../contracts/workflow.js';
import { terminal } from './errors.js';
import { aws, describe, errorName, notYet, tagsOf, type RdsDeps } from './rds-instance.js';

const STEP = 'createDbInstance';

/** rdsflow's tags a restored instance must not keep from its snapshot. */
const NOT_FROM_SNAPSHOT = [TAG_KEYS.retainedFrom, TAG_KEYS.adoptedFrom, TAG_KEYS.credential];

async function readSnapshot(deps: RdsDeps, id: string): Promise<DBSnapshot | undefined> {
  try {
    const out = await deps.rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }));
    return out.DBSnapshots?.[0];
  } catch (error: unknown) {
    if (/DBSnapshotNotFound/.test(errorName(error))) return undefined;
    throw error;
  }
}

/**
 * The snapshot, if this Database may restore it: rdsflow took it of a Database of this namespace
 * (its rdsflow.io/namespace tag), of this engine and master username, and it is available.
 */
async function restorableSnapshot(deps: RdsDeps, db: ResolvedDatabase): Promise<DBSnapshot> {
  const id = db.source?.snapshot ?? '';
  const refuse = (why: string) =>
    terminal(FAILURE.invalidSpec, `spec.source.snapshot ${id}: ${why}`, { snapshot: id });
  const snapshot = await aws(STEP, () => readSnapshot(deps, id));
  if (!snapshot) throw refuse('no such DB snapshot in this account and region');
  const out = await aws(STEP, () =>
    deps.rds.send(new ListTagsForResourceCommand({ ResourceName: snapshot.DBSnapshotArn })),
  );
  // a listing's tags read as an instance's
  const tags = tagsOf({ TagList: out.TagList });
  // the same words for a snapshot of another namespace and one rdsflow never took: neither
  // tells this namespace anything of another
  if (tags[TAG_KEYS.namespace] !== db.ref.namespace)
    throw refuse(
      `rdsflow restores only a snapshot it took of a Database in namespace ${db.ref.namespace}`,
    );
  if (snapshot.Engine !== db.engine)
    throw refuse(`it is of engine ${snapshot.Engine ?? '?'}, not ${db.engine}`);
  if (snapshot.MasterUsername !== db.masterUsername)
    throw refuse(
      `its master username is ${snapshot.MasterUsername ?? '?'}, but spec.masterUsername is ` +
        `${db.masterUsername}: set spec.masterUsername: ${snapshot.MasterUsername ?? '?'}`,
    );
  if (snapshot.Status !== 'available')
    throw notYet(
      `snapshot ${id} is ${snapshot.Status ?? 'unknown'}; restoring once it is available`,
      deps,
    );
  return snapshot;
}

/** Removes what the instance kept of its snapshot's rdsflow tags; proven ours right before. */
async function stripSnapshotTags(deps: RdsDeps, db: ResolvedDatabase): Promise<void> {
  const instance = await aws(STEP, () => describe(deps, db.dbInstanceIdentifier));
  const tags = instance ? tagsOf(instance) : {};
  if (!instance?.DBInstanceArn || tags[TAG_KEYS.uid] !== db.ref.uid) return;
  const stale = NOT_FROM_SNAPSHOT.filter((k) => tags[k] !== undefined);
  if (stale.length === 0) return;
  await aws(STEP, () =>
    deps.destructive.send(
      new RemoveTagsFromResourceCommand({ ResourceName: instance.DBInstanceArn, TagKeys: stale }),
    ),
  );
  log.info("removed the snapshot's rdsflow tags from the restored instance", {
    dbInstanceIdentifier: db.dbInstanceIdentifier,
    removed: stale,
  });
}

/**
 * Restores spec.source.snapshot under the object's identifier, tagged as a create tags (no
 * credential tag: the instance has the snapshot's password until the workflow resets it to the
 * one in Vault). Errors are the caller's to classify (DBInstanceAlreadyExists: a race).
 */
/**
 * The settings a restore takes from the spec; the rest (encryption, which the snapshot decides;
 * the maintenance window, storage autoscaling, Performance Insights) the converge that follows
 * every restore applies, as it does for an adopted instance.
 */
const RESTORABLE = [
  'DBInstanceClass',
  'MultiAZ',
  'AllocatedStorage',
  'DBSubnetGroupName',
  'VpcSecurityGroupIds',
  'PubliclyAccessible',
  'StorageType',
  'Iops',
  'StorageThroughput',
  'BackupRetentionPeriod',
  'PreferredBackupWindow',
  'AutoMinorVersionUpgrade',
  'EnableIAMDatabaseAuthentication',
  'CACertificateIdentifier',
  'DeletionProtection',
  'CopyTagsToSnapshot',
] as const satisfies readonly (keyof CreateDBInstanceCommandInput &
  keyof RestoreDBInstanceFromDBSnapshotCommandInput)[];

function restorable(
  settings: Partial<CreateDBInstanceCommandInput>,
): Partial<RestoreDBInstanceFromDBSnapshotCommandInput> {
  return Object.fromEntries(
    RESTORABLE.filter((key) => settings[key] !== undefined).map((key) => [key, settings[key]]),
  );
}

export async function restoreDbInstance(
  deps: RdsDeps,
  db: ResolvedDatabase,
  tags: readonly Tag[],
  settings: Partial<CreateDBInstanceCommandInput>,
): Promise<RestoreDBInstanceFromDBSnapshotCommandOutput> {
  const snapshot = await restorableSnapshot(deps, db);
  const out = await deps.rds.send(
    new RestoreDBInstanceFromDBSnapshotCommand({
      DBInstanceIdentifier: db.dbInstanceIdentifier,
      DBSnapshotIdentifier: snapshot.DBSnapshotIdentifier,
      ...restorable(settings),
      ...(db.parameterGroup ? { DBParameterGroupName: db.parameterGroup } : {}),
      Tags: tags.filter((t) => t.Key !== TAG_KEYS.credential),
    }),
  );
  log.info('RDS instance restore requested', {
    dbInstanceIdentifier: db.dbInstanceIdentifier,
    snapshot: snapshot.DBSnapshotIdentifier,
  });
  await stripSnapshotTags(deps, db);
  return out;
}
