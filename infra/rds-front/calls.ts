// One call of the Query API through the front, in the order RDS would meet it: the instance as it
// is just before, an injected fault or RDS's refusal (of the call itself, then of what moto says
// about what it names), moto, then the instance's lifecycle moved on, the answer shown as RDS
// would right after, and the journal.
import { type IncomingMessage } from 'node:http';
import { type Answer } from '../forward.js';
import { actionOf, forwarded, type Action, type Context } from './actions.js';
import { checked } from './checks.js';
import { type Faults } from './faults.js';
import { type Shown } from './instances.js';
import { type Journal } from './journal.js';
import {
  errorAnswer,
  field,
  mapBlocks,
  outcomeOf,
  parseCall,
  rewritten,
  type RdsCall,
} from './query.js';
import { refusal } from './refusals.js';

export interface Front extends Context {
  readonly faults: Faults;
  readonly journal: Journal;
}

interface Refused {
  readonly code: string;
  readonly answer: Answer;
}

/** An injected fault's answer, or the refusal RDS would give; undefined when the call goes on. */
async function refused(
  front: Front,
  call: RdsCall,
  action: Action,
  before: Shown | undefined,
): Promise<Refused | undefined> {
  const fault = front.faults.take(call.action, call.identifier);
  if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
  if (fault?.code) {
    const answer = errorAnswer(fault.status ?? 400, fault.code, `injected ${fault.code}`);
    return { code: fault.code, answer };
  }
  if (!action.mutating) return undefined;
  const phase = front.instances.lifecycles.phaseOf(call.identifier);
  const engine = before && field(before.block, 'Engine');
  const rds =
    refusal(call, {
      ...(before ? { status: before.status } : {}),
      phase,
      ...(engine ? { engine } : {}),
    }) ?? (await checked(front, call, before));
  return rds && { code: rds.code, answer: errorAnswer(rds.status ?? 400, rds.code, rds.message) };
}

export async function handleCall(
  front: Front,
  req: IncomingMessage,
  body: Buffer,
): Promise<Answer> {
  const call = parseCall(body, req.headers);
  const action = actionOf(call.action);
  const before = action.mutating
    ? await front.instances.current(call.identifier, call.scope)
    : undefined;
  const refusedWith = await refused(front, call, action, before);
  if (refusedWith) {
    if (action.mutating) front.journal.record(req, call, before, refusedWith.code);
    return refusedWith.answer;
  }
  const answer = await (action.send ?? forwarded)(front, call, req, body);
  if (!action.mutating) return answer;
  const outcome = outcomeOf(answer);
  const shown = outcome === 'ok' ? await accepted(front, call, action, before, answer) : answer;
  front.journal.record(req, call, before, outcome);
  return shown;
}

/** Moves the lifecycle on after moto accepted the call, and shows the instance as it is now. */
async function accepted(
  front: Front,
  call: RdsCall,
  action: Action,
  before: Shown | undefined,
  answer: Answer,
): Promise<Answer> {
  await action.accepted?.(front, call, before);
  // the answer shows the instance as RDS would right after the call (creating, deleting)
  const text = mapBlocks(answer.body.toString(), (block) => front.instances.shown(block));
  return rewritten(answer, text);
}
