// RDS's refusals that need moto's word on what a call names, one list of checks per action like
// refusals.ts: a KMS key in the call's region (moto's KMS), security groups and subnets (moto's
// EC2), a parameter group's family, the parameters a family has (parameters.ts) and the instances
// a group is attached to. Each asks in the caller's account and region (RdsCall.scope).
import { defaultVersion, familyOf } from './engines.js';
import { type Shown } from './instances.js';
import { type Moto } from './moto.js';
import { groupMissing, groupsOfInstance, type ParameterGroups } from './parameter-groups.js';
import { invalidValue, parametersOf } from './parameters.js';
import { field, listParam, structListParam, type RdsCall } from './query.js';
import { type Refusal } from './refusals.js';

/** What the checks ask. */
export interface Checked {
  readonly moto: Moto;
  readonly groups: ParameterGroups;
}

type Check = (
  ctx: Checked,
  call: RdsCall,
  before: Shown | undefined,
) => Promise<Refusal | undefined>;

const invalid = (message: string): Refusal => ({ code: 'InvalidParameterValue', message });
const combination = (message: string): Refusal => ({
  code: 'InvalidParameterCombination',
  message,
});

/** Each KMS key the call names must exist, enabled, in the call's region. */
async function kmsKeys(ctx: Checked, call: RdsCall): Promise<Refusal | undefined> {
  for (const name of ['KmsKeyId', 'PerformanceInsightsKMSKeyId']) {
    const key = call.params.get(name);
    if (!key) continue;
    const reply = await ctx.moto.kms('DescribeKey', { KeyId: key }, call.scope);
    const state =
      reply.status === 200
        ? (JSON.parse(reply.text) as { KeyMetadata?: { KeyState?: string } }).KeyMetadata?.KeyState
        : undefined;
    if (state !== 'Enabled') {
      return {
        code: 'KMSKeyNotAccessibleFault',
        message: `The specified KMS key [${key}] does not exist, is not enabled or you do not have permissions to access it.`,
      };
    }
  }
  return undefined;
}

/** Each VPC security group the call names must exist in the call's region. */
async function securityGroups(ctx: Checked, call: RdsCall): Promise<Refusal | undefined> {
  for (const id of listParam(call.params, 'VpcSecurityGroupIds')) {
    const reply = await ctx.moto.ec2(
      { Action: 'DescribeSecurityGroups', 'GroupId.1': id },
      call.scope,
    );
    if (reply.status !== 200)
      return invalid(`Invalid security group , groupId= ${id}, groupName=.`);
  }
  return undefined;
}

/** The engine and version the instance will run: the call's, else the instance's or snapshot's. */
async function engineOf(
  ctx: Checked,
  call: RdsCall,
  before: Shown | undefined,
): Promise<{ engine: string; version: string } | undefined> {
  const { params } = call;
  let source = before?.block;
  const snapshot = params.get('DBSnapshotIdentifier');
  if (call.action === 'RestoreDBInstanceFromDBSnapshot' && snapshot) {
    const answer = await ctx.moto.call(
      { Action: 'DescribeDBSnapshots', DBSnapshotIdentifier: snapshot },
      call.scope,
    );
    source = answer.status === 200 ? answer.body.toString() : undefined;
  }
  const engine = params.get('Engine') ?? (source && field(source, 'Engine'));
  if (!engine) return undefined;
  const version =
    params.get('EngineVersion') ??
    (source && field(source, 'EngineVersion')) ??
    defaultVersion(engine);
  return version ? { engine, version } : undefined;
}

/** The parameter group the call names must exist and be of the instance's family. */
async function parameterGroup(
  ctx: Checked,
  call: RdsCall,
  before: Shown | undefined,
): Promise<Refusal | undefined> {
  const name = call.params.get('DBParameterGroupName');
  if (!name) return undefined;
  const groupFamily = await ctx.groups.familyOf(name, call.scope);
  if (!groupFamily) return groupMissing(name);
  const runs = await engineOf(ctx, call, before);
  const family = runs && familyOf(runs.engine, runs.version);
  return family && family !== groupFamily
    ? combination(
        `The parameter group ${name} with DBParameterGroupFamily ${groupFamily} can't be used for this instance. Use a parameter group with DBParameterGroupFamily ${family}.`,
      )
    : undefined;
}

/** RDS places a subnet group's instances in two AZs at least: its subnets must cover them. */
async function subnetCoverage(ctx: Checked, call: RdsCall): Promise<Refusal | undefined> {
  const ids = listParam(call.params, 'SubnetIds');
  if (ids.length === 0) return undefined;
  const params = Object.fromEntries(ids.map((id, i) => [`SubnetId.${i + 1}`, id]));
  const reply = await ctx.moto.ec2({ Action: 'DescribeSubnets', ...params }, call.scope);
  // a subnet that does not exist: moto's own answer says so
  if (reply.status !== 200) return undefined;
  const zones = new Set(
    [...reply.text.matchAll(/<availabilityZone>([^<]*)<\/availabilityZone>/g)].map((m) => m[1]),
  );
  return zones.size < 2
    ? {
        code: 'DBSubnetGroupDoesNotCoverEnoughAZs',
        message: `The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. Current AZ coverage: ${[...zones].join(', ')}. Add subnets to cover at least 2 AZs.`,
      }
    : undefined;
}

/**
 * The parameters a ModifyDBParameterGroup or ResetDBParameterGroup names: each known to the
 * group's family and modifiable, each value allowed, and a static one applied at the reboot only.
 * A family the catalogue lacks is not judged.
 */
async function parameterChanges(ctx: Checked, call: RdsCall): Promise<Refusal | undefined> {
  const group = call.params.get('DBParameterGroupName') ?? '';
  const family = await ctx.groups.familyOf(group, call.scope);
  const specs = family && parametersOf(family);
  if (!specs) return undefined;
  for (const change of structListParam(call.params, 'Parameters')) {
    const name = change['ParameterName'] ?? '';
    const spec = specs.find((s) => s.name === name);
    if (!spec) return invalid(`Could not find parameter with name: ${name}`);
    if (spec.modifiable === false) return invalid(`The parameter ${name} cannot be modified.`);
    const value = change['ParameterValue'];
    const allowed = value === undefined ? undefined : invalidValue(spec, value);
    if (allowed) {
      return invalid(
        `Value: ${value} is not allowed for parameter: ${name}. Allowed values are: ${allowed}`,
      );
    }
    if (spec.applyType === 'static' && change['ApplyMethod'] === 'immediate') {
      return combination('cannot use immediate apply method for static parameter');
    }
  }
  return undefined;
}

/** A default group, or one an instance still uses, cannot be deleted. */
async function groupInUse(ctx: Checked, call: RdsCall): Promise<Refusal | undefined> {
  const name = call.params.get('DBParameterGroupName') ?? '';
  const state = (message: string): Refusal => ({ code: 'InvalidDBParameterGroupState', message });
  if (name.startsWith('default.'))
    return state(`Default DBParameterGroup ${name} cannot be deleted.`);
  const instances = await ctx.moto.instances(call.scope);
  return instances.some((block) => groupsOfInstance(block).includes(name))
    ? state(
        `One or more database instances are still members of this parameter group ${name}, so the group cannot be deleted`,
      )
    : undefined;
}

const INSTANCE_CHECKS: readonly Check[] = [kmsKeys, parameterGroup, securityGroups];

const CHECKS: Readonly<Record<string, readonly Check[]>> = {
  CreateDBInstance: INSTANCE_CHECKS,
  RestoreDBInstanceFromDBSnapshot: INSTANCE_CHECKS,
  ModifyDBInstance: INSTANCE_CHECKS,
  CreateDBSubnetGroup: [subnetCoverage],
  ModifyDBSubnetGroup: [subnetCoverage],
  ModifyDBParameterGroup: [parameterChanges],
  ResetDBParameterGroup: [parameterChanges],
  DeleteDBParameterGroup: [groupInUse],
};

/** What RDS would answer instead, having asked moto; undefined when the call goes ahead. */
export async function checked(
  ctx: Checked,
  call: RdsCall,
  before: Shown | undefined,
): Promise<Refusal | undefined> {
  for (const check of CHECKS[call.action] ?? []) {
    const refused = await check(ctx, call, before);
    if (refused) return refused;
  }
  return undefined;
}
