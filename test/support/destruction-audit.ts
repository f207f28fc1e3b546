// The destruction audit's judgement (test/audit/destruction.test.ts) of the calls rdsflow made to
// RDS, Vault and Consul, pure so that test/unit/destruction-audit.test.ts can show it fails on
// each kind of violation. Its inputs are records that are not rdsflow's own: the journals of the
// stack's fronts (the owner of each target just before each call, read from moto, OpenBao and
// Consul, and the workflow run that made the call), the apiserver's audit log (who deleted which
// object, with which spec), and, for a Vault or Consul removal nobody asked for by deleting the
// object, the run's history (was it cancelled?).
//
// The rules for Vault and Consul, for every call that took effect and was made for an object of
// the suite (RDS: every mutating call, refused ones too, with the rules of docs/ownership.md):
// - it touches its own object's entries only (rdsflow/<namespace>/<name>, the node named like
//   the instance);
// - what was there just before carried the requester's UID, or it is an explicit takeover
//   (spec.adoptRetained; for Vault, of a secret a deletion under Retain kept);
// - a removal follows a user's delete of that object (for Vault under a policy other than
//   Retain, which keeps the secret; Consul entries go under every policy, docs/ownership.md), or
//   undoes what the run itself created after a cancel of that run was requested.
// A call made for no object of the suite (a person's object, or no workflow at all) is judged by
// what it touched: nothing of a test object.
import {
  TAG_KEYS,
  consulKeyPrefix,
  refFromWorkflowId,
  vaultSecretPath,
} from '../../contracts/names.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import type { JournalEntry } from '../../infra/rds-front.js';
import { SPEC_DEFAULTS, type DatabaseRef } from '../../contracts/database.js';
import {
  folderOf,
  foldersTouched,
  type ConsulFolderState,
  type ConsulJournalEntry,
  type ConsulOp,
} from '../../infra/consul-front.js';
import type { VaultJournalEntry, VaultSecretState } from '../../infra/vault-front.js';
import { objectAt, userDeleted, type AuditEvent } from './audit-records.js';

export interface AuditContext {
  /** the apiserver's audit log of Database writes */
  readonly writes: readonly AuditEvent[];
  /** the objects the suite created (testObjectUids) */
  readonly testUids: ReadonlySet<string>;
  /** when a cancel was requested, by run ID (from the runs' histories) */
  readonly cancelledAt: ReadonlyMap<string, number>;
}

/** The object a call was made for, when it is one of the suite's. */
function requester(entry: { readonly workflowId?: string }, ctx: AuditContext) {
  const ref = entry.workflowId ? refFromWorkflowId(entry.workflowId) : undefined;
  return ref && ctx.testUids.has(ref.uid) ? ref : undefined;
}

/** Why a call made for no object of the suite is wrong: it touched one of the suite's. */
function intrusion(
  entry: { readonly workflowId?: string | undefined },
  owners: readonly (string | undefined)[],
  ctx: AuditContext,
) {
  const touched = owners.some((o) => o !== undefined && ctx.testUids.has(o));
  if (!touched) return undefined;
  return entry.workflowId
    ? `a call for ${entry.workflowId}, not an object of the suite, touched a test object's entry`
    : "an unattributed call touched a test object's entry";
}

/** The object's own Vault path or Consul folder, as rdsflow derives them (none: malformed). */
function ownPath(of: typeof vaultSecretPath, ref: DatabaseRef): string {
  try {
    return of(ref.namespace, ref.name);
  } catch {
    return '(none: the name cannot make a path)';
  }
}

function adopting(ref: DatabaseRef, at: number, ctx: AuditContext): boolean {
  return objectAt(ctx.writes, ref.uid, at)?.spec.adoptRetained === true;
}

/** Why a removal was not asked for, or undefined when it was. */
function unaskedRemoval(
  ref: DatabaseRef,
  entry: { readonly at: number; readonly runId?: string },
  options: { readonly retainKeeps: boolean; readonly createdByRun: () => boolean },
  ctx: AuditContext,
): string | undefined {
  if (userDeleted(ctx.writes, ref, entry.at)) {
    const policy =
      objectAt(ctx.writes, ref.uid, entry.at)?.spec.deletionPolicy ?? SPEC_DEFAULTS.deletionPolicy;
    return options.retainKeeps && policy === 'Retain'
      ? 'removed under deletionPolicy Retain'
      : undefined;
  }
  const cancelled = entry.runId ? ctx.cancelledAt.get(entry.runId) : undefined;
  if (cancelled !== undefined && cancelled <= entry.at && options.createdByRun()) return undefined;
  return cancelled !== undefined && cancelled <= entry.at
    ? 'a cancel removed what its run did not create'
    : 'no user deleted the object, and no cancel of the requesting run undid its own work';
}

// --- RDS -----------------------------------------------------------------------------------

/** The RDS actions the audit judges: every change and delete of an instance. */
export const AUDITED_RDS: ReadonlySet<string> = new Set([
  'DeleteDBInstance',
  'ModifyDBInstance',
  'AddTagsToResource',
  'RemoveTagsFromResource',
]);

function describeRds(e: JournalEntry): string {
  return `rds #${e.seq} ${e.action} ${e.identifier} (${e.outcome}) by ${e.workflowId ?? 'nobody'}`;
}

/** An explicit takeover of a retained instance by the object of its namespace and name. */
function rdsTakeover(entry: JournalEntry, ref: DatabaseRef, ctx: AuditContext): boolean {
  const tags = entry.tagsBefore ?? {};
  return (
    !tags[TAG_KEYS.uid] &&
    tags[TAG_KEYS.retainedFrom] !== undefined &&
    tags[TAG_KEYS.namespace] === ref.namespace &&
    tags[TAG_KEYS.name] === ref.name &&
    (entry.action === 'AddTagsToResource' || entry.action === 'RemoveTagsFromResource') &&
    adopting(ref, entry.at, ctx)
  );
}

/** Why a call is not allowed, or undefined when its proof holds. */
function rdsViolation(entry: JournalEntry, ctx: AuditContext): string | undefined {
  const tags = entry.tagsBefore ?? {};
  const ref = requester(entry, ctx);
  if (!ref) return intrusion(entry, [tags[TAG_KEYS.uid]], ctx);
  if (tags[TAG_KEYS.uid] !== ref.uid && !rdsTakeover(entry, ref, ctx)) {
    return `the instance was not tagged with the requester's UID ${ref.uid} (tags ${JSON.stringify(tags)})`;
  }
  if (entry.action !== 'DeleteDBInstance') return undefined;
  // a cancel's rollback: the instance says this very run created it
  if (tags[TAG_KEYS.run] !== undefined && tags[TAG_KEYS.run] === entry.runId) return undefined;
  if (!userDeleted(ctx.writes, ref, entry.at)) {
    return 'no user deleted the object, and the requesting run did not create it';
  }
  const policy =
    objectAt(ctx.writes, ref.uid, entry.at)?.spec.deletionPolicy ?? SPEC_DEFAULTS.deletionPolicy;
  return policy === 'Retain' ? 'deleted under deletionPolicy Retain' : undefined;
}

/** Every violation among the journaled RDS changes and deletes, refused ones included. */
export function rdsViolations(journal: readonly JournalEntry[], ctx: AuditContext): string[] {
  return journal.flatMap((e) => {
    if (!AUDITED_RDS.has(e.action)) return [];
    const why = rdsViolation(e, ctx);
    return why ? [`${describeRds(e)}: ${why}`] : [];
  });
}

// --- Vault ---------------------------------------------------------------------------------

function describeVault(e: VaultJournalEntry): string {
  return `vault #${e.seq} ${e.method} ${e.mount}/${e.endpoint}/${e.path} by ${e.workflowId ?? 'nobody'}${e.activity ? ` (${e.activity})` : ''}`;
}

/** The run made this secret, or wrote a new password into it, before `entry`. */
function vaultCreatedByRun(journal: readonly VaultJournalEntry[], entry: VaultJournalEntry) {
  return journal.some(
    (p) =>
      p.seq < entry.seq &&
      p.outcome === 'ok' &&
      p.runId === entry.runId &&
      p.mount === entry.mount &&
      p.path === entry.path &&
      !('unreadable' in p.before) &&
      (!p.before.exists ||
        (p.marks?.credentialId !== undefined && p.marks.credentialId !== p.before.credentialId)),
  );
}

function vaultOwnerProblem(
  e: VaultJournalEntry,
  before: VaultSecretState,
  ref: DatabaseRef,
  ctx: AuditContext,
): string | undefined {
  if (before.owner === ref.uid) return undefined;
  const takeover = e.effect === 'write' && before.retained === true && adopting(ref, e.at, ctx);
  if (takeover) return undefined;
  return `the secret was ${before.owner ? `the object ${before.owner}'s` : 'unmarked'}, not the requester's (${ref.uid})`;
}

function vaultViolation(
  e: VaultJournalEntry,
  journal: readonly VaultJournalEntry[],
  ctx: AuditContext,
): string | undefined {
  const ref = requester(e, ctx);
  const before = e.before;
  if ('unreadable' in before) {
    return ref
      ? `the front could not read the secret before the call: ${before.unreadable}`
      : undefined;
  }
  if (!ref) return intrusion(e, [before.owner], ctx);
  const own = ownPath(vaultSecretPath, ref);
  if (e.path !== own) return `outside the requester's own path ${own}`;
  const held = before.exists && (before.owner !== undefined || before.version > 0);
  if (!held) return undefined;
  const owner = vaultOwnerProblem(e, before, ref, ctx);
  if (owner || e.effect !== 'remove') return owner;
  return unaskedRemoval(
    ref,
    e,
    { retainKeeps: true, createdByRun: () => vaultCreatedByRun(journal, e) },
    ctx,
  );
}

/** Every violation among the Vault calls that took effect, described. */
export function vaultViolations(
  journal: readonly VaultJournalEntry[],
  ctx: AuditContext,
): string[] {
  return journal.flatMap((e) => {
    if (e.outcome !== 'ok') return [];
    const why = vaultViolation(e, journal, ctx);
    return why ? [`${describeVault(e)}: ${why}`] : [];
  });
}

// --- Consul --------------------------------------------------------------------------------

function describeConsul(e: ConsulJournalEntry, op: ConsulOp): string {
  const what = 'key' in op ? op.key : `node ${op.node}`;
  return `consul #${e.seq} ${e.call} ${op.kind} ${what} by ${e.workflowId ?? 'nobody'}${e.activity ? ` (${e.activity})` : ''}`;
}

const REMOVING = new Set(['kv-delete', 'kv-delete-tree', 'catalog-deregister']);

/** The folders an operation touches, with their state just before. */
function foldersOf(e: ConsulJournalEntry, op: ConsulOp & { key: string }) {
  return foldersTouched(op, Object.keys(e.folders)).map((f): [string, ConsulFolderState] => [
    f,
    e.folders[f] ?? { keys: 0 },
  ]);
}

interface Met {
  readonly target: string;
  /** one per thing the target held: a folder's owner key, each service's `uid` meta */
  readonly owners: readonly (string | undefined)[];
}

/** What an operation met that held something, and whose it was. */
function ownersOf(e: ConsulJournalEntry, op: ConsulOp): Met[] {
  if ('key' in op) {
    return foldersOf(e, op)
      .filter(([, s]) => s.owner !== undefined || s.keys > 0)
      .map(([f, s]) => ({ target: f, owners: [s.owner] }));
  }
  const node = e.nodes[op.node];
  if (!node?.exists) return [];
  const owners = node.services.length > 0 ? node.services.map((s) => s.uid) : [undefined];
  return [{ target: `node:${op.node}`, owners }];
}

/** The run published into this folder, or registered this node, before `entry`. */
function consulCreatedByRun(
  journal: readonly ConsulJournalEntry[],
  entry: ConsulJournalEntry,
  target: string,
): boolean {
  return journal.some(
    (p) =>
      p.seq < entry.seq &&
      p.outcome === 'ok' &&
      p.runId === entry.runId &&
      p.ops.some((op) =>
        'key' in op
          ? op.kind === 'kv-set' && folderOf(op.key) === target
          : op.kind === 'catalog-register' && `node:${op.node}` === target,
      ),
  );
}

function consulOpViolation(
  e: ConsulJournalEntry,
  op: ConsulOp,
  journal: readonly ConsulJournalEntry[],
  ctx: AuditContext,
): string | undefined {
  const ref = requester(e, ctx);
  const met = ownersOf(e, op);
  if (!ref)
    return intrusion(
      e,
      met.flatMap((m) => m.owners),
      ctx,
    );
  const own = 'key' in op ? ownPath(consulKeyPrefix, ref) : rdsIdentifier(ref.namespace, ref.name);
  const where = 'key' in op ? foldersOf(e, op).map(([f]) => f) : [op.node];
  if (where.some((w) => w !== own)) return `outside the requester's own entries ${own}`;
  for (const { target, owners } of met) {
    const foreign = owners.filter((o) => o !== ref.uid);
    if (foreign.length > 0 && !adopting(ref, e.at, ctx)) {
      return `${target} was ${foreign.map((o) => (o ? `the object ${o}'s` : 'unmarked')).join(', ')}, not the requester's (${ref.uid})`;
    }
    if (!REMOVING.has(op.kind)) continue;
    const why = unaskedRemoval(
      ref,
      e,
      { retainKeeps: false, createdByRun: () => consulCreatedByRun(journal, e, target) },
      ctx,
    );
    if (why) return why;
  }
  return undefined;
}

/** Every violation among the Consul calls that took effect, described. */
export function consulViolations(
  journal: readonly ConsulJournalEntry[],
  ctx: AuditContext,
): string[] {
  return journal.flatMap((e) => {
    if (e.outcome !== 'ok') return [];
    if (e.unreadable) {
      return requester(e, ctx)
        ? [`consul #${e.seq}: the front could not read what it touched: ${e.unreadable}`]
        : [];
    }
    return e.ops.flatMap((op) => {
      const why = consulOpViolation(e, op, journal, ctx);
      return why ? [`${describeConsul(e, op)}: ${why}`] : [];
    });
  });
}

/** The runs whose removals may rest on a cancel: their histories say when one was requested. */
export function removalRuns(
  vault: readonly VaultJournalEntry[],
  consul: readonly ConsulJournalEntry[],
): { workflowId: string; runId: string }[] {
  const runs = new Map<string, string>();
  for (const e of vault)
    if (e.effect === 'remove' && e.runId && e.workflowId) runs.set(e.runId, e.workflowId);
  for (const e of consul) {
    if (e.runId && e.workflowId && e.ops.some((op) => REMOVING.has(op.kind)))
      runs.set(e.runId, e.workflowId);
  }
  return [...runs].map(([runId, workflowId]) => ({ workflowId, runId }));
}
