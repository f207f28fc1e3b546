// The Query API actions the front knows, each by what it does beyond forwarding to moto: a new
// RDS behaviour is a row here (and its refusals a rule in refusals.ts or a check in checks.ts).
// Actions not named here are forwarded as they came and answered as moto answers.
import { type Answer } from '../forward.js';
import { defaultVersion, describeEngineVersions } from './engines.js';
import { type Instances, type Shown } from './instances.js';
import { type Moto, type Request } from './moto.js';
import {
  engineDefaults,
  groupNotFound,
  groupsOfInstance,
  type ParameterGroups,
} from './parameter-groups.js';
import {
  appendBlocks,
  describeAnswer,
  field,
  mapBlocks,
  queryAnswer,
  rewritten,
  structListParam,
  xmlText,
  type RdsCall,
} from './query.js';

/** What the actions act on: moto, and the front's view of every instance and parameter group. */
export interface Context {
  readonly moto: Moto;
  readonly instances: Instances;
  readonly groups: ParameterGroups;
  /** DescribeDBInstances calls answered so far */
  describeCalls: number;
}

export interface Action {
  /** journaled, checked against RDS's refusals, and answered as RDS would show it right after */
  readonly mutating: boolean;
  /** sends the call on; moto answers it as it came when absent */
  send?(ctx: Context, call: RdsCall, req: Request, body: Buffer): Promise<Answer>;
  /** moves the instance's lifecycle on once moto accepted the call */
  accepted?(ctx: Context, call: RdsCall, before: Shown | undefined): void | Promise<void>;
}

/** A mutating call that changes nothing the front shows by itself (tags, snapshots, ...). */
const JOURNALED: Action = { mutating: true };
const FORWARDED: Action = { mutating: false };

/**
 * Instances as RDS shows them: phases and forced statuses applied, and deleting instances moto
 * has already forgotten listed (or answered alone when asked for by identifier).
 */
async function describe(ctx: Context, call: RdsCall, req: Request, body: Buffer): Promise<Answer> {
  ctx.describeCalls++;
  const answer = await ctx.moto.forward(req, body);
  const id = call.identifier;
  const ghosts = ctx.instances.lifecycles.ghosts(id || undefined);
  if (answer.status !== 200) return id && ghosts.length > 0 ? describeAnswer(ghosts) : answer;
  const text = mapBlocks(answer.body.toString(), (block) => ctx.instances.shown(block));
  return rewritten(answer, !id && ghosts.length > 0 ? appendBlocks(text, ghosts) : text);
}

/**
 * NOTE: moto creates an instance that names no EngineVersion with an old one of its own (9.3 for
 * postgres); RDS takes the engine's default, which the family of its parameter group follows.
 */
function create(ctx: Context, call: RdsCall, req: Request, body: Buffer): Promise<Answer> {
  const engine = call.params.get('Engine') ?? '';
  const version = defaultVersion(engine);
  if (call.params.has('EngineVersion') || !version) return ctx.moto.create(req, body, call.scope);
  const params = new URLSearchParams(call.params);
  params.set('EngineVersion', version);
  const sent = Buffer.from(params.toString());
  const headers = { ...req.headers, 'content-length': String(sent.length) };
  return ctx.moto.create({ url: req.url, method: req.method, headers }, sent, call.scope);
}

/**
 * NOTE: moto gives a restored instance the source instance's DeletionProtection whatever the
 * call says (it ignores a false); RDS takes the call's, false when it says none.
 */
async function restore(ctx: Context, call: RdsCall, req: Request, body: Buffer): Promise<Answer> {
  const answer = await ctx.moto.create(req, body, call.scope);
  const wanted = String(call.params.get('DeletionProtection') === 'true');
  const text = answer.body.toString();
  if (answer.status !== 200 || field(text, 'DeletionProtection') === wanted) return answer;
  await ctx.moto.call(
    {
      Action: 'ModifyDBInstance',
      DBInstanceIdentifier: call.identifier,
      DeletionProtection: wanted,
    },
    call.scope,
  );
  return rewritten(
    answer,
    text.replace(
      /<DeletionProtection>[^<]*<\/DeletionProtection>/,
      `<DeletionProtection>${wanted}</DeletionProtection>`,
    ),
  );
}

/** A new instance (created or restored) is `creating` for a while, in sync with its group. */
function begun({ instances }: Context, { identifier }: RdsCall): void {
  instances.created(identifier);
  instances.lifecycles.begin(identifier, 'creating', (t) => t.creatingMs);
}

/** What a ModifyDBInstance may change that RDS applies at once, with no `modifying` state. */
const AT_ONCE = new Set([
  'Action',
  'Version',
  'DBInstanceIdentifier',
  'ApplyImmediately',
  'DeletionProtection',
]);

function modified({ instances }: Context, call: RdsCall, before: Shown | undefined): void {
  const { identifier, params } = call;
  const group = params.get('DBParameterGroupName');
  // NOTE: a parameter group newly attached applies at the next reboot only
  if (group && before && !groupsOfInstance(before.block).includes(group)) {
    instances.applying.pendingReboot(identifier);
  }
  if ([...params.keys()].every((k) => AT_ONCE.has(k))) return;
  const phase = params.has('MasterUserPassword') ? 'resetting-master-credentials' : 'modifying';
  instances.lifecycles.begin(identifier, phase, (t) => t.modifyingMs);
}

/** A reboot takes as long as a modification, and applies what waited for it. */
function rebooted({ instances }: Context, { identifier }: RdsCall): void {
  instances.lifecycles.begin(identifier, 'rebooting', (t) => t.modifyingMs);
  instances.applying.rebooting(identifier, instances.lifecycles.timingsFor(identifier).modifyingMs);
}

/**
 * A group's change reaches every instance attached to it: a change that waits for a reboot (a
 * static parameter, or any asked to) leaves them `pending-reboot`, else they are `applying`.
 */
async function groupChanged(ctx: Context, call: RdsCall): Promise<void> {
  const name = call.params.get('DBParameterGroupName') ?? '';
  const changes = structListParam(call.params, 'Parameters');
  if (call.action === 'ModifyDBParameterGroup') {
    ctx.groups.set(
      name,
      changes.map((c) => c['ParameterName'] ?? ''),
      call.scope,
    );
  }
  const waits =
    call.params.get('ResetAllParameters') === 'true' ||
    changes.some((c) => c['ApplyMethod'] !== 'immediate');
  for (const block of await ctx.moto.instances(call.scope)) {
    if (!groupsOfInstance(block).includes(name)) continue;
    const id = (field(block, 'DBInstanceIdentifier') ?? '').toLowerCase();
    if (waits) ctx.instances.applying.pendingReboot(id);
    else ctx.instances.applying.applying(id, ctx.instances.lifecycles.timingsFor(id).modifyingMs);
  }
}

/** NOTE: moto does not implement ResetDBParameterGroup: the front forgets the values itself. */
async function reset(ctx: Context, call: RdsCall): Promise<Answer> {
  const name = call.params.get('DBParameterGroupName') ?? '';
  if (!(await ctx.groups.familyOf(name, call.scope))) return groupNotFound(name);
  const named = structListParam(call.params, 'Parameters').map((c) => c['ParameterName'] ?? '');
  const all = call.params.get('ResetAllParameters') === 'true';
  const names = all ? (await ctx.groups.setValues(name, call.scope)).map((v) => v.name) : named;
  ctx.groups.reset(name, names, call.scope);
  return queryAnswer(
    'ResetDBParameterGroup',
    `<DBParameterGroupName>${xmlText(name)}</DBParameterGroupName>`,
  );
}

const ACTIONS: Readonly<Record<string, Action>> = {
  DescribeDBInstances: { mutating: false, send: describe },
  CreateDBInstance: { mutating: true, send: create, accepted: begun },
  RestoreDBInstanceFromDBSnapshot: {
    mutating: true,
    send: restore,
    accepted: begun,
  },
  ModifyDBInstance: { mutating: true, accepted: modified },
  DeleteDBInstance: {
    mutating: true,
    accepted: ({ instances }, { identifier }, before) => {
      if (before) instances.lifecycles.beginDeleting(identifier, before.block);
    },
  },
  RebootDBInstance: { mutating: true, accepted: rebooted },
  AddTagsToResource: JOURNALED,
  RemoveTagsFromResource: JOURNALED,
  CreateDBSnapshot: JOURNALED,
  DeleteDBSnapshot: JOURNALED,
  CreateDBSubnetGroup: JOURNALED,
  ModifyDBSubnetGroup: JOURNALED,
  DeleteDBSubnetGroup: JOURNALED,
  CreateDBParameterGroup: JOURNALED,
  ModifyDBParameterGroup: { mutating: true, accepted: groupChanged },
  ResetDBParameterGroup: { mutating: true, send: reset, accepted: groupChanged },
  DeleteDBParameterGroup: JOURNALED,
  DescribeDBParameters: {
    mutating: false,
    send: (ctx, call) =>
      ctx.groups.describe(
        call.params.get('DBParameterGroupName') ?? '',
        call.params.get('Source'),
        call.scope,
      ),
  },
  DescribeEngineDefaultParameters: {
    mutating: false,
    send: (_ctx, call) =>
      Promise.resolve(engineDefaults(call.params.get('DBParameterGroupFamily') ?? '')),
  },
  DescribeDBEngineVersions: {
    mutating: false,
    send: (_ctx, call) => Promise.resolve(describeEngineVersions(call.params)),
  },
};

export function actionOf(name: string): Action {
  return ACTIONS[name] ?? FORWARDED;
}

/** Forwards the call to moto as it came. */
export function forwarded(
  ctx: Context,
  _call: RdsCall,
  req: Request,
  body: Buffer,
): Promise<Answer> {
  return ctx.moto.forward(req, body);
}
