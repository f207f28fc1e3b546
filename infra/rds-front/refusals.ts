// What real RDS refuses that moto accepts, one list of rules per action: the first rule that
// answers refuses the call, and a call no rule answers goes ahead to moto. These rules read the
// call and the instance only; those that ask moto about what the call names are in checks.ts.
import { ENGINES } from './engines.js';
import { type RdsCall } from './query.js';

export interface Refusal {
  readonly code: string;
  readonly message: string;
  /** the HTTP status RDS answers it with: 400 unless said */
  readonly status?: number;
}

/** The instance a call is about, as the front shows it just before the call. */
export interface Before {
  /** its status; undefined when there is no instance */
  readonly status?: string;
  /** the phase of the front's own lifecycle it is in, if any */
  readonly phase?: string;
  /** its engine (postgres, mysql, ...) */
  readonly engine?: string;
}

type Rule = (call: RdsCall, before: Before) => Refusal | undefined;

/** Where a final snapshot can be taken from (DeleteDBInstance refuses it elsewhere). */
const SNAPSHOT_FROM = new Set(['available', 'stopped', 'storage-full']);
/** Deletable only with SkipFinalSnapshot (DeleteDBInstance reference). */
const SKIP_ONLY = new Set(['failed', 'incompatible-restore', 'incompatible-network']);

const invalidState = (message: string): Refusal => ({ code: 'InvalidDBInstanceState', message });
const finalSnapshot = (call: RdsCall) => call.params.get('SkipFinalSnapshot') !== 'true';
const invalidValue = (message: string): Refusal => ({ code: 'InvalidParameterValue', message });

/** Characters RDS takes in no master password (besides anything not printable ASCII). */
const PASSWORD_FORBIDDEN = /[/"@ ]|[^\x21-\x7e]/;

/**
 * RDS's rules for a master password (8 characters to the engine's maximum, printable ASCII
 * but `/`, `"`, `@` and space). The message never quotes the password.
 */
function badPassword(call: RdsCall, engine: string | undefined): Refusal | undefined {
  const password = call.params.get('MasterUserPassword');
  if (password === null) return undefined;
  const not = 'The parameter MasterUserPassword is not a valid password';
  if (password.length < 8) return invalidValue(`${not} because it is shorter than 8 characters.`);
  const max = ENGINES[engine ?? '']?.maxPassword;
  if (max !== undefined && password.length > max) {
    return invalidValue(`${not} because it is longer than ${max} characters.`);
  }
  return PASSWORD_FORBIDDEN.test(password)
    ? invalidValue(
        `${not}. Only printable ASCII characters besides '/', '@', '"', ' ' may be used.`,
      )
    : undefined;
}

/** A KMS key for storage that is not to be encrypted. */
function keyWithoutEncryption(call: RdsCall): Refusal | undefined {
  const { params } = call;
  return params.get('KmsKeyId') && params.get('StorageEncrypted') === 'false'
    ? {
        code: 'InvalidParameterCombination',
        message:
          'Specifying a KMS key is only allowed for an encrypted DB instance (StorageEncrypted).',
      }
    : undefined;
}

/** A deleting instance keeps its identifier until it is gone. */
const stillDeleting: Rule = ({ identifier }, { phase }) =>
  phase === 'deleting'
    ? {
        code: 'DBInstanceAlreadyExists',
        message: `DB instance ${identifier} is still being deleted`,
      }
    : undefined;

const notAvailable: Rule = (_, { status }) =>
  status !== undefined && status !== 'available'
    ? invalidState(`Database instance is not in available state (it is ${status}).`)
    : undefined;

const RULES: Readonly<Record<string, readonly Rule[]>> = {
  CreateDBInstance: [
    stillDeleting,
    (call) => badPassword(call, call.params.get('Engine') ?? undefined),
    keyWithoutEncryption,
  ],
  RestoreDBInstanceFromDBSnapshot: [stillDeleting, keyWithoutEncryption],
  ModifyDBInstance: [notAvailable, (call, { engine }) => badPassword(call, engine)],
  RebootDBInstance: [notAvailable],
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
