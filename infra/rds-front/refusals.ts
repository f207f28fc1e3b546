// What real RDS refuses that moto accepts, one list of rules per action: the first rule that
// answers refuses the call, and a call no rule answers goes ahead to moto.
import { type RdsCall } from './query.js';

export interface Refusal {
  readonly code: string;
  readonly message: string;
}

/** The instance a call is about, as the front shows it just before the call. */
export interface Before {
  /** its status; undefined when there is no instance */
  readonly status?: string;
  /** the phase of the front's own lifecycle it is in, if any */
  readonly phase?: string;
}

type Rule = (call: RdsCall, before: Before) => Refusal | undefined;

/** Where a final snapshot can be taken from (DeleteDBInstance refuses it elsewhere). */
const SNAPSHOT_FROM = new Set(['available', 'stopped', 'storage-full']);
/** Deletable only with SkipFinalSnapshot (DeleteDBInstance reference). */
const SKIP_ONLY = new Set(['failed', 'incompatible-restore', 'incompatible-network']);

const invalidState = (message: string): Refusal => ({ code: 'InvalidDBInstanceState', message });
const finalSnapshot = (call: RdsCall) => call.params.get('SkipFinalSnapshot') !== 'true';

const RULES: Readonly<Record<string, readonly Rule[]>> = {
  CreateDBInstance: [
    // a deleting instance keeps its identifier until it is gone
    ({ identifier }, { phase }) =>
      phase === 'deleting'
        ? {
            code: 'DBInstanceAlreadyExists',
            message: `DB instance ${identifier} is still being deleted`,
          }
        : undefined,
  ],
  ModifyDBInstance: [
    (_, { status }) =>
      status !== undefined && status !== 'available'
        ? invalidState(`Database instance is not in available state (it is ${status}).`)
        : undefined,
  ],
  DeleteDBInstance: [
    ({ identifier }, { status }) =>
      status === 'deleting'
        ? invalidState(`Instance ${identifier} is already being deleted.`)
        : undefined,
    (call, { status }) =>
      status !== undefined && finalSnapshot(call) && SKIP_ONLY.has(status)
        ? invalidState(
            `Instance ${call.identifier} is ${status}: it can only be deleted with SkipFinalSnapshot.`,
          )
        : undefined,
    (call, { status }) =>
      status !== undefined && finalSnapshot(call) && !SNAPSHOT_FROM.has(status)
        ? invalidState(`Instance is currently ${status} - a final snapshot cannot be taken.`)
        : undefined,
  ],
};

/** What RDS would answer instead of going ahead with the call; undefined when it goes ahead. */
export function refusal(call: RdsCall, before: Before): Refusal | undefined {
  for (const rule of RULES[call.action] ?? []) {
    const refused = rule(call, before);
    if (refused) return refused;
  }
  return undefined;
}
