// DB parameter groups: the one a Database owns (spec.parameters: created, tagged with its
// identity, set, reset, deleted with it) and what an instance says of the group it uses. Like an
// instance, a group is changed or deleted only after a read in the same activity proves it ours
// (its rdsflow.io/uid tag, docs/ownership.md); a group of the spec's parameterGroup is never
// touched at all.
import {
  CreateDBParameterGroupCommand,
  DeleteDBParameterGroupCommand,
  DescribeDBEngineVersionsCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBParametersCommand,
  DescribeEngineDefaultParametersCommand,
  ListTagsForResourceCommand,
  ModifyDBParameterGroupCommand,
  ResetDBParameterGroupCommand,
  type DBInstance,
  type DBParameterGroup,
  type ModifyDBInstanceCommandInput,
  type Parameter,
} from '@aws-sdk/client-rds';
import { activityInfo, log } from '@temporalio/activity';
import type { DatabaseRef } from '../contracts/database.js';
import { TAG_KEYS } from '../contracts/names.js';
import {
  PARAMETERS_PER_CALL,
  ownedParameterGroupName,
  parameterGroupFamily,
} from '../contracts/parameter-group.js';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import { FAILURE } from '../contracts/workflow.js';
import { httpStatusOf } from '../runtime/failure-type.js';
import { classifyError, terminal } from './errors.js';
import {
  aws,
  depsFor,
  describe,
  errorName,
  notYet,
  ownerOf,
  tagsOf,
  type RdsBinding,
  type RdsDeps,
} from './rds-instance.js';

/** What ensureParameterGroup did to the group a Database owns. */
export interface ParameterGroupOutcome {
  /** the group the instance is to use */
  readonly name: string;
  readonly family: string;
  /** this call created the group (a cancel's rollback deletes only such a group) */
  readonly created: boolean;
  /** parameters set or reset now that RDS applies only at the instance's next reboot */
  readonly pendingReboot: readonly string[];
}

/** The group an instance uses, as the instance says (DescribeDBInstances). */
export interface ParameterStatusReading {
  readonly group?: string;
  /** `in-sync`, `applying` or `pending-reboot` */
  readonly applyStatus?: string;
}

const STEP = 'ensureParameterGroup';
type ApplyMethod = 'immediate' | 'pending-reboot';

const isGroupNotFound = (error: unknown) => /DBParameterGroupNotFound/.test(errorName(error));

/** The family the group must be of: the spec's version, the instance's, or RDS's default. */
async function familyOf(deps: RdsDeps, db: ResolvedDatabase): Promise<string> {
  const fromVersion = (version: string, where: string) => {
    const family = parameterGroupFamily(db.engine, version);
    if (family) return family;
    throw terminal(
      FAILURE.invalidSpec,
      `${where} ${version} names no DB parameter group family: give major.minor (e.g. 8.0)`,
    );
  };
  if (db.engineVersion) return fromVersion(db.engineVersion, 'spec.engineVersion');
  const instance = await aws(STEP, () => describe(deps, db.dbInstanceIdentifier));
  if (instance?.EngineVersion) return fromVersion(instance.EngineVersion, 'the instance version');
  // NOTE: DefaultOnly answers the version a create without EngineVersion gets
  const step = `${STEP} (DescribeDBEngineVersions, for ${db.engine}'s default version; spec.engineVersion makes it unneeded)`;
  const out = await aws(step, () =>
    deps.rds.send(new DescribeDBEngineVersionsCommand({ Engine: db.engine, DefaultOnly: true })),
  );
  const found = out.DBEngineVersions?.[0];
  if (found?.DBParameterGroupFamily) return found.DBParameterGroupFamily;
  if (found?.EngineVersion) return fromVersion(found.EngineVersion, `RDS's default version`);
  throw terminal(
    FAILURE.invalidSpec,
    `RDS names no default version of ${db.engine}: set spec.engineVersion`,
  );
}

/** The group under `name`, if there is one. */
async function readGroup(deps: RdsDeps, name: string): Promise<DBParameterGroup | undefined> {
  try {
    const out = await deps.rds.send(
      new DescribeDBParameterGroupsCommand({ DBParameterGroupName: name }),
    );
    return out.DBParameterGroups?.[0];
  } catch (error: unknown) {
    if (isGroupNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * The group under `name`, read now, if it carries this object's UID; undefined when there is
 * none. Another's (or nobody's) is refused: rdsflow never changes or deletes it.
 */
async function readOwnGroup(
  deps: RdsDeps,
  step: string,
  name: string,
  ref: DatabaseRef,
): Promise<DBParameterGroup | undefined> {
  const group = await aws(step, () => readGroup(deps, name));
  if (!group) return undefined;
  const out = await aws(step, () =>
    deps.rds.send(new ListTagsForResourceCommand({ ResourceName: group.DBParameterGroupArn })),
  );
  // a listing's tags read as an instance's
  const tags = tagsOf({ TagList: out.TagList });
  if (tags[TAG_KEYS.uid] === ref.uid) return group;
  throw terminal(
    FAILURE.entryNotOurs,
    `DB parameter group ${name} belongs to ${ownerOf(tags, ref)}, not to this Database (uid ${ref.uid}); ` +
      'rdsflow will not change or delete it',
    { parameterGroup: name },
  );
}

/** Every parameter of a group by name (all pages), as RDS lists it. */
async function parametersOf(deps: RdsDeps, name: string): Promise<Map<string, Parameter>> {
  const found = new Map<string, Parameter>();
  let marker: string | undefined;
  do {
    const out = await aws(STEP, () =>
      deps.rds.send(
        new DescribeDBParametersCommand({
          DBParameterGroupName: name,
          ...(marker ? { Marker: marker } : {}),
        }),
      ),
    );
    for (const p of out.Parameters ?? []) if (p.ParameterName) found.set(p.ParameterName, p);
    marker = out.Marker;
  } while (marker);
  return found;
}

/**
 * The engine's defaults of a family (all pages), for the apply type of parameters the group
 * does not list. A server error leaves them unknown: they are set with pending-reboot, which
 * RDS takes for every parameter (immediate only for dynamic ones), so a parameter is never
 * applied wrongly, at worst at the next reboot.
 */
async function engineDefaults(deps: RdsDeps, family: string): Promise<Map<string, Parameter>> {
  const found = new Map<string, Parameter>();
  let marker: string | undefined;
  try {
    do {
      const out = await deps.rds.send(
        new DescribeEngineDefaultParametersCommand({
          DBParameterGroupFamily: family,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      for (const p of out.EngineDefaults?.Parameters ?? [])
        if (p.ParameterName) found.set(p.ParameterName, p);
      marker = out.EngineDefaults?.Marker;
    } while (marker);
  } catch (error: unknown) {
    if ((httpStatusOf(error) ?? 0) < 500)
      throw classifyError('AWS', STEP, error, activityInfo().attempt);
    log.warn('engine defaults unknown: parameters of unknown type apply at the next reboot', {
      family,
      error: errorName(error),
    });
  }
  return found;
}

/** How RDS can apply each parameter: immediate when dynamic, else at the next reboot. */
async function applyMethods(
  deps: RdsDeps,
  family: string,
  names: readonly string[],
  listed: Map<string, Parameter>,
): Promise<Map<string, ApplyMethod>> {
  const unknown = names.filter((n) => !listed.get(n)?.ApplyType);
  const defaults =
    unknown.length > 0 ? await engineDefaults(deps, family) : new Map<string, Parameter>();
  const typeOf = (n: string) => listed.get(n)?.ApplyType ?? defaults.get(n)?.ApplyType;
  return new Map(
    names.map((n) => [n, typeOf(n) === 'dynamic' ? 'immediate' : 'pending-reboot'] as const),
  );
}

/** The group, created with the object's identity tags when there is none. */
async function createGroup(
  deps: RdsDeps,
  db: ResolvedDatabase,
  name: string,
  family: string,
): Promise<boolean> {
  try {
    await deps.destructive.send(
      new CreateDBParameterGroupCommand({
        DBParameterGroupName: name,
        DBParameterGroupFamily: family,
        Description: `rdsflow: spec.parameters of ${db.ref.namespace}/${db.ref.name}`,
        Tags: [
          { Key: TAG_KEYS.namespace, Value: db.ref.namespace },
          { Key: TAG_KEYS.name, Value: db.ref.name },
          { Key: TAG_KEYS.uid, Value: db.ref.uid },
        ],
      }),
    );
    log.info('DB parameter group created', { parameterGroup: name, family });
    return true;
  } catch (error: unknown) {
    // created meanwhile (a concurrent attempt): proven ours below, like any group found
    if (/DBParameterGroupAlreadyExists/.test(errorName(error))) return false;
    throw classifyError('AWS', STEP, error, activityInfo().attempt);
  }
}

/** Sends parameters in calls of at most PARAMETERS_PER_CALL, each with its apply method. */
async function sendInChunks(
  deps: RdsDeps,
  name: string,
  parameters: readonly Parameter[],
  reset: boolean,
): Promise<void> {
  for (let i = 0; i < parameters.length; i += PARAMETERS_PER_CALL) {
    const chunk = parameters.slice(i, i + PARAMETERS_PER_CALL);
    const input = { DBParameterGroupName: name, Parameters: [...chunk] };
    await aws(STEP, async () => {
      if (reset) await deps.destructive.send(new ResetDBParameterGroupCommand(input));
      else await deps.destructive.send(new ModifyDBParameterGroupCommand(input));
    });
  }
}

/**
 * A group the spec names (spec.parameterGroup): attached only, never changed. One made for
 * another Database (its rdsflow.io/uid tag) is refused: attaching it would let that Database's
 * parameter edits change this instance, and hold up its deletion while this one uses it.
 */
async function namedGroup(
  deps: RdsDeps,
  db: ResolvedDatabase,
  name: string,
): Promise<ParameterGroupOutcome> {
  const group = await aws(STEP, () => readGroup(deps, name));
  if (!group) {
    throw terminal(
      FAILURE.invalidSpec,
      `spec.parameterGroup: DB parameter group ${name} does not exist`,
      { parameterGroup: name },
    );
  }
  const out = await aws(STEP, () =>
    deps.rds.send(new ListTagsForResourceCommand({ ResourceName: group.DBParameterGroupArn })),
  );
  const owner = tagsOf({ TagList: out.TagList })[TAG_KEYS.uid];
  if (owner !== undefined && owner !== db.ref.uid) {
    throw terminal(
      FAILURE.entryNotOurs,
      `spec.parameterGroup: DB parameter group ${name} is the one another Database owns ` +
        '(rdsflow.io/uid); rdsflow will not attach it',
      { parameterGroup: name },
      'Name a group of your own, or set spec.parameters for a group this Database owns.',
    );
  }
  return { name, family: group.DBParameterGroupFamily ?? '', created: false, pendingReboot: [] };
}

/**
 * Makes the group this Database owns hold spec.parameters: created if absent (tagged with the
 * object's identity), values that differ set, and parameters rdsflow set before (`previous`, or
 * marked user-set by RDS) that the spec dropped reset to the engine's default. Dynamic
 * parameters apply at once; static ones at the instance's next reboot (`pendingReboot`).
 */
export async function ensureParameterGroup(
  deps: RdsDeps,
  db: ResolvedDatabase,
  previous: readonly string[] = [],
): Promise<ParameterGroupOutcome> {
  if (!db.parameters && db.parameterGroup) return namedGroup(deps, db, db.parameterGroup);
  const wanted = db.parameters ?? {};
  const family = await familyOf(deps, db);
  const name = ownedParameterGroupName(db.dbInstanceIdentifier, family);
  let created = false;
  if (!(await readOwnGroup(deps, STEP, name, db.ref))) {
    created = await createGroup(deps, db, name, family);
    if (!created && !(await readOwnGroup(deps, STEP, name, db.ref)))
      throw terminal(FAILURE.conflict, `DB parameter group ${name} exists and vanished`);
  }
  const listed = await parametersOf(deps, name);
  const toSet = Object.keys(wanted).filter((n) => listed.get(n)?.ParameterValue !== wanted[n]);
  const setBefore = new Set(previous);
  const toReset = [...listed.values()]
    .filter((p) => setBefore.has(p.ParameterName ?? '') || p.Source === 'user')
    .map((p) => p.ParameterName ?? '')
    .filter((n) => !(n in wanted) && listed.get(n)?.ParameterValue !== undefined);
  const methods = await applyMethods(deps, family, [...toSet, ...toReset], listed);
  const method = (n: string): ApplyMethod => methods.get(n) ?? 'pending-reboot';
  const set = toSet.map((n) => ({
    ParameterName: n,
    ParameterValue: wanted[n],
    ApplyMethod: method(n),
  }));
  await sendInChunks(deps, name, set, false);
  const reset = toReset.map((n) => ({ ParameterName: n, ApplyMethod: method(n) }));
  await sendInChunks(deps, name, reset, true);
  if (set.length + reset.length > 0)
    log.info('DB parameter group changed', { parameterGroup: name, set: toSet, reset: toReset });
  const pendingReboot = [...toSet, ...toReset].filter((n) => method(n) === 'pending-reboot');
  return { name, family, created, pendingReboot };
}

/** The names of the groups made for this identifier (`<identifier>-<family>`), all pages. */
async function groupsNamedFor(deps: RdsDeps, identifier: string): Promise<string[]> {
  const prefix = `${identifier.toLowerCase()}-`;
  const found: string[] = [];
  let marker: string | undefined;
  do {
    const out = await aws('deleteParameterGroups', () =>
      deps.rds.send(new DescribeDBParameterGroupsCommand(marker ? { Marker: marker } : {})),
    );
    for (const g of out.DBParameterGroups ?? []) {
      const name = g.DBParameterGroupName ?? '';
      if (name.toLowerCase().startsWith(prefix)) found.push(name);
    }
    marker = out.Marker;
  } while (marker);
  return found;
}

/** Deletes one group proven ours; false when it is not (left untouched) or absent. */
async function deleteOwnGroup(deps: RdsDeps, ref: DatabaseRef, name: string): Promise<boolean> {
  const step = 'deleteParameterGroups';
  let group: DBParameterGroup | undefined;
  try {
    group = await readOwnGroup(deps, step, name, ref);
  } catch (error: unknown) {
    if ((error as { type?: string }).type !== FAILURE.entryNotOurs) throw error;
    log.warn('DB parameter group not ours: left untouched', { parameterGroup: name });
    return false;
  }
  if (!group) return false;
  try {
    await deps.destructive.send(new DeleteDBParameterGroupCommand({ DBParameterGroupName: name }));
  } catch (error: unknown) {
    if (isGroupNotFound(error)) return false;
    // NOTE: RDS refuses to delete a group an instance (even a deleting one) still uses
    if (/InvalidDBParameterGroupState/.test(errorName(error)))
      throw notYet(`DB parameter group ${name} is still in use`, deps);
    throw classifyError('AWS', step, error, activityInfo().attempt);
  }
  log.info('DB parameter group deleted', { parameterGroup: name });
  return true;
}

/**
 * Deletes the groups this Database owns (`only`: just those; else every group named for its
 * identifier), once no instance uses them. Each is proven ours right before its delete:
 * another owner's is left untouched; RDS's refusal of a group in use
 * (InvalidDBParameterGroupState) is a reason to look again, never a success.
 */
export async function deleteParameterGroups(
  deps: RdsDeps,
  names: DatabaseNames,
  only?: readonly string[],
): Promise<{ deleted: string[] }> {
  const candidates = only ?? (await groupsNamedFor(deps, names.dbInstanceIdentifier));
  const deleted: string[] = [];
  for (const name of candidates) {
    if (await deleteOwnGroup(deps, names.ref, name)) deleted.push(name);
  }
  return { deleted };
}

/** The group the instance uses and whether its parameters wait for a reboot. */
export async function readParameterStatus(
  deps: RdsDeps,
  identifier: string,
): Promise<ParameterStatusReading> {
  const instance = await aws('readParameterStatus', () => describe(deps, identifier));
  const group = instance?.DBParameterGroups?.[0];
  return {
    ...(group?.DBParameterGroupName ? { group: group.DBParameterGroupName } : {}),
    ...(group?.ParameterApplyStatus ? { applyStatus: group.ParameterApplyStatus } : {}),
  };
}

/**
 * The part of a modification that attaches the spec's group: only when the spec names one (or
 * owns one) and the instance uses (or is getting) another. RDS applies a new group at the next
 * reboot.
 */
export function parameterGroupDrift(
  instance: DBInstance,
  db: ResolvedDatabase,
): Pick<ModifyDBInstanceCommandInput, 'DBParameterGroupName'> {
  // NOTE: RDS keeps group names in lower case
  const using = instance.DBParameterGroups?.[0]?.DBParameterGroupName?.toLowerCase();
  return db.parameterGroup && using !== db.parameterGroup.toLowerCase()
    ? { DBParameterGroupName: db.parameterGroup }
    : {};
}

/** The parameter group activities, bound to their clients. */
export interface ParameterActivities {
  ensureParameterGroup(
    db: ResolvedDatabase,
    previous?: readonly string[],
  ): Promise<ParameterGroupOutcome>;
  deleteParameterGroups(
    names: DatabaseNames,
    only?: readonly string[],
  ): ReturnType<typeof deleteParameterGroups>;
  readParameterStatus(names: DatabaseNames): Promise<ParameterStatusReading>;
}

/** Each call on the clients of the account and region its Database's class names. */
export function createParameterActivities(binding: RdsBinding): ParameterActivities {
  return {
    ensureParameterGroup: async (db, previous) =>
      ensureParameterGroup(await depsFor(binding, db.aws), db, previous),
    deleteParameterGroups: async (names, only) =>
      deleteParameterGroups(await depsFor(binding, names.aws), names, only),
    readParameterStatus: async (names) =>
      readParameterStatus(await depsFor(binding, names.aws), names.dbInstanceIdentifier),
  };
}
