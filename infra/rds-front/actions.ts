// The Query API actions the front knows, each by what it does beyond forwarding to moto: a new
// RDS behaviour is a row here (and its refusals a rule in refusals.ts). Actions not named here
// are forwarded as they came and answered as moto answers.
import { type IncomingMessage } from 'node:http';
import { type Answer } from '../forward.js';
import { type Instances, type Shown } from './instances.js';
import { type Moto } from './moto.js';
import { appendBlocks, describeAnswer, mapBlocks, rewritten, type RdsCall } from './query.js';

/** What the actions act on: moto, and the front's view of every instance. */
export interface Context {
  readonly moto: Moto;
  readonly instances: Instances;
  /** DescribeDBInstances calls answered so far */
  describeCalls: number;
}

export interface Action {
  /** journaled, checked against RDS's refusals, and answered as RDS would show it right after */
  readonly mutating: boolean;
  /** sends the call on; moto answers it as it came when absent */
  send?(ctx: Context, call: RdsCall, req: IncomingMessage, body: Buffer): Promise<Answer>;
  /** moves the instance's lifecycle on once moto accepted the call */
  accepted?(ctx: Context, call: RdsCall, before: Shown | undefined): void;
}

/** A mutating call that changes nothing the front shows by itself (tags, a reboot, ...). */
const JOURNALED: Action = { mutating: true };
const FORWARDED: Action = { mutating: false };

/**
 * Instances as RDS shows them: phases and forced statuses applied, and deleting instances moto
 * has already forgotten listed (or answered alone when asked for by identifier).
 */
async function describe(
  ctx: Context,
  call: RdsCall,
  req: IncomingMessage,
  body: Buffer,
): Promise<Answer> {
  ctx.describeCalls++;
  const answer = await ctx.moto.forward(req, body);
  const id = call.identifier;
  const ghosts = ctx.instances.lifecycles.ghosts(id || undefined);
  if (answer.status !== 200) return id && ghosts.length > 0 ? describeAnswer(ghosts) : answer;
  const text = mapBlocks(answer.body.toString(), (block) => ctx.instances.shown(block));
  return rewritten(answer, !id && ghosts.length > 0 ? appendBlocks(text, ghosts) : text);
}

const ACTIONS: Readonly<Record<string, Action>> = {
  DescribeDBInstances: { mutating: false, send: describe },
  CreateDBInstance: {
    mutating: true,
    send: (ctx, _call, req, body) => ctx.moto.create(req, body),
    accepted: ({ instances }, { identifier }) => {
      instances.created(identifier);
      instances.lifecycles.begin(identifier, 'creating', (t) => t.creatingMs);
    },
  },
  ModifyDBInstance: {
    mutating: true,
    accepted: ({ instances }, { identifier, params }) => {
      const reset = params.has('MasterUserPassword');
      const phase = reset ? 'resetting-master-credentials' : 'modifying';
      instances.lifecycles.begin(identifier, phase, (t) => t.modifyingMs);
    },
  },
  DeleteDBInstance: {
    mutating: true,
    accepted: ({ instances }, { identifier }, before) => {
      if (before) instances.lifecycles.beginDeleting(identifier, before.block);
    },
  },
  AddTagsToResource: JOURNALED,
  RemoveTagsFromResource: JOURNALED,
  RebootDBInstance: JOURNALED,
  CreateDBSnapshot: JOURNALED,
};

export function actionOf(name: string): Action {
  return ACTIONS[name] ?? FORWARDED;
}

/** Forwards the call to moto as it came. */
export function forwarded(
  ctx: Context,
  _call: RdsCall,
  req: IncomingMessage,
  body: Buffer,
): Promise<Answer> {
  return ctx.moto.forward(req, body);
}
