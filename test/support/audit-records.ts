// The apiserver's audit log as records (test/support/kube-audit.ts reads them from the log) and
// what the audits ask of them. No server and no stack environment needed: unit tests judge
// records they write themselves (test/unit/destruction-audit.test.ts).
import type { DatabaseObject } from '../../contracts/database.js';
import { TEST_LABEL } from '../../infra/apps.js';

export interface AuditEvent {
  readonly verb: string;
  readonly namespace: string;
  readonly name: string;
  /** when the apiserver finished the request (ms since epoch): the object stored then */
  readonly at: number;
  /**
   * when the request reached the apiserver: what a user asked for is known from then (a watch
   * can show its effect before the request's answer is complete)
   */
  readonly receivedAt: number;
  readonly code: number;
  readonly user: string;
  /** the object's UID: from the object answered, or the Status of an immediate delete */
  readonly uid?: string;
  /** the object as stored after the request, when the answer was the object */
  readonly object?: DatabaseObject;
}

/**
 * The UIDs of the objects the test suite made: those whose creation the apiserver recorded with
 * the label every test object carries. The audits judge their workflows only; an object a person
 * applied by hand on the same stack (`npm start`'s default/orders, say) is not the suite's.
 */
export function testObjectUids(writes: readonly AuditEvent[]): Set<string> {
  const created = new Set<string>();
  const suites = new Set<string>();
  for (const w of writes) {
    const uid = w.object?.metadata.uid;
    // the first stored state of a UID is its creation (a create, or an apply that created it)
    if (!uid || created.has(uid)) continue;
    created.add(uid);
    if (w.object?.metadata.labels?.[TEST_LABEL] !== undefined) suites.add(uid);
  }
  return suites;
}

/** The object (by UID) as the apiserver stored it last at or before `at`. */
export function objectAt(
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

/** Whether a user's delete of exactly this object reached the apiserver at or before `at`. */
export function userDeleted(
  writes: readonly AuditEvent[],
  ref: { readonly namespace: string; readonly name: string; readonly uid: string },
  at: number,
): boolean {
  return writes.some(
    (w) =>
      w.verb === 'delete' &&
      w.code < 300 &&
      w.receivedAt <= at &&
      w.namespace === ref.namespace &&
      w.name === ref.name &&
      w.uid === ref.uid,
  );
}
