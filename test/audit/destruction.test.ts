// The destruction audit, run after every other layer (test/run.ts): every call that changed or
// deleted an RDS instance through the stack's RDS front during the suite is held against two
// records that are not rdsflow's own: the front's journal (the instance's tags just before the
// call, the workflow that made it) and the apiserver's audit log (who deleted which Database,
// with which spec). Every change must hit an instance tagged with the requesting object's UID
// (or a retained one it explicitly adopts), and every delete must follow a user's delete of
// that object under a policy other than Retain, or undo what the requesting run itself created.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseObject } from '../../contracts/database.js';
import { TAG_KEYS, refFromWorkflowId } from '../../contracts/names.js';
import type { JournalEntry } from '../../infra/rds-front.js';
import { databaseWrites, type AuditEvent } from '../support/kube-audit.js';
import { stackFront } from '../support/rds.js';

const AUDITED = new Set([
  'DeleteDBInstance',
  'ModifyDBInstance',
  'AddTagsToResource',
  'RemoveTagsFromResource',
]);

/** The object (by UID) as the apiserver stored it last before `at`. */
function objectAt(
  writes: readonly AuditEvent[],
  uid: string,
  at: number,
): DatabaseObject | undefined {
  let found: DatabaseObject | undefined;
  for (const w of writes) {
    if (w.at > at) break;
    if (w.object?.metadata.uid === uid) found = w.object;
  }
  return found;
}

function describeEntry(e: JournalEntry): string {
  return `#${e.seq} ${e.action} ${e.identifier} (${e.outcome}) by ${e.workflowId ?? 'nobody'}`;
}

/** Why a call is not allowed, or undefined when its proof holds. */
function violation(entry: JournalEntry, writes: readonly AuditEvent[]): string | undefined {
  const tags = entry.tagsBefore ?? {};
  const ref = entry.workflowId ? refFromWorkflowId(entry.workflowId) : undefined;
  if (!ref) {
    // not made by rdsflow (a test's own call): it must not have touched an rdsflow instance
    return tags[TAG_KEYS.uid] ? 'an unattributed call touched an rdsflow instance' : undefined;
  }
  const owned = tags[TAG_KEYS.uid] === ref.uid;
  const takeover =
    !tags[TAG_KEYS.uid] &&
    tags[TAG_KEYS.retainedFrom] !== undefined &&
    tags[TAG_KEYS.namespace] === ref.namespace &&
    tags[TAG_KEYS.name] === ref.name &&
    (entry.action === 'AddTagsToResource' || entry.action === 'RemoveTagsFromResource') &&
    objectAt(writes, ref.uid, entry.at)?.spec.adoptRetained === true;
  if (!owned && !takeover) {
    return `the instance was not tagged with the requester's UID ${ref.uid} (tags ${JSON.stringify(tags)})`;
  }
  if (entry.action !== 'DeleteDBInstance') return undefined;
  if (tags[TAG_KEYS.run] !== undefined && tags[TAG_KEYS.run] === entry.runId) return undefined;
  const deleted = writes.some(
    (w) =>
      w.verb === 'delete' &&
      w.receivedAt <= entry.at &&
      w.namespace === ref.namespace &&
      w.name === ref.name &&
      w.uid === ref.uid,
  );
  if (!deleted) return 'no user deleted the object, and the requesting run did not create it';
  const policy = objectAt(writes, ref.uid, entry.at)?.spec.deletionPolicy ?? 'Snapshot';
  return policy === 'Retain' ? 'deleted under deletionPolicy Retain' : undefined;
}

describe('destruction audit of the whole suite', () => {
  it('every change and delete of an RDS instance was proven and asked for', async () => {
    const journal = (await stackFront().journal()).filter((e) => AUDITED.has(e.action));
    const writes = databaseWrites();
    assert.ok(writes.length > 0, 'the apiserver audit log is empty: is it switched on?');
    const byRdsflow = journal.filter((e) => e.workflowId !== undefined);
    const deletes = byRdsflow.filter((e) => e.action === 'DeleteDBInstance' && e.outcome === 'ok');
    assert.ok(deletes.length > 0, 'no rdsflow delete to audit: did the e2e layer run first?');
    const problems = journal.flatMap((entry) => {
      const why = violation(entry, writes);
      return why ? [`${describeEntry(entry)}: ${why}`] : [];
    });
    process.stdout.write(
      `# audited ${journal.length} mutating RDS calls (${byRdsflow.length} by rdsflow, ` +
        `${deletes.length} deletes) against ${writes.length} Database writes\n`,
    );
    assert.deepEqual(problems, []);
  });
});
