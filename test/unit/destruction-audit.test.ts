// The destruction audit's judgement (test/support/destruction-audit.ts) on journals written here
// in the fronts' formats: each kind of violation rdsflow could commit against Vault, Consul or RDS
// fails it, what rdsflow is allowed to do passes, and only the suite's objects (created with the
// test label) are judged: the same violation by the workflow of an object a person applied is
// not the suite's, though a call for anyone that touches a test object's entry is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseObject, DatabaseSpec } from '../../contracts/database.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import type { ConsulJournalEntry, ConsulOp } from '../../infra/consul-front.js';
import type { JournalEntry } from '../../infra/rds-front.js';
import type { VaultJournalEntry } from '../../infra/vault-front.js';
import {
  consulViolations,
  rdsViolations,
  vaultViolations,
  type AuditContext,
} from '../support/destruction-audit.js';
import { TEST_LABEL } from '../../infra/apps.js';
import { testObjectUids, type AuditEvent } from '../support/audit-records.js';

const NS = 'audit';

interface Obj {
  readonly name: string;
  readonly uid: string;
  readonly labelled: boolean;
}

const A: Obj = { name: 'a', uid: 'uid-a', labelled: true };
const B: Obj = { name: 'b', uid: 'uid-b', labelled: true };
// a person's object on the same stack: no test label
const P: Obj = { name: 'p', uid: 'uid-p', labelled: false };

function stored(o: Obj, spec: Partial<DatabaseSpec> = {}): DatabaseObject {
  return {
    apiVersion: 'rdsflow.io/v1alpha1',
    kind: 'Database',
    metadata: {
      name: o.name,
      namespace: NS,
      uid: o.uid,
      ...(o.labelled ? { labels: { [TEST_LABEL]: 'true' } } : {}),
    },
    spec: { engine: 'postgres', ...spec },
  };
}

function write(verb: string, at: number, o: Obj, spec?: Partial<DatabaseSpec>): AuditEvent {
  return {
    verb,
    namespace: NS,
    name: o.name,
    at,
    receivedAt: at,
    code: 200,
    user: 'someone',
    uid: o.uid,
    object: stored(o, spec),
  };
}

/** The apiserver's record: A, B and P created at 1; deletes as each case says. */
function context(
  deletes: { o: Obj; at: number; spec?: Partial<DatabaseSpec> }[] = [],
  cancelledAt: Record<string, number> = {},
  specs: Partial<Record<string, Partial<DatabaseSpec>>> = {},
): AuditContext {
  const writes = [
    ...[A, B, P].map((o) => write('create', 1, o, specs[o.uid])),
    ...deletes.map((d) => write('delete', d.at, d.o, d.spec ?? specs[d.o.uid])),
  ].sort((x, y) => x.at - y.at);
  return {
    writes,
    testUids: testObjectUids(writes),
    cancelledAt: new Map(Object.entries(cancelledAt)),
  };
}

const wf = (o: Obj) => `database/${NS}/${o.name}/${o.uid}@audit-cluster`;
const path = (o: Obj) => `rdsflow/${NS}/${o.name}`;

let seq = 0;
function vault(
  by: Obj | undefined,
  at: number,
  fields: Partial<VaultJournalEntry> & Pick<VaultJournalEntry, 'endpoint' | 'effect'>,
): VaultJournalEntry {
  return {
    seq: ++seq,
    at,
    method: fields.effect === 'remove' ? 'DELETE' : 'POST',
    mount: 'secret',
    path: path(by ?? A),
    before: { exists: true, owner: by?.uid ?? A.uid, version: 1, live: true },
    status: 204,
    outcome: 'ok',
    ...(by ? { workflowId: wf(by), runId: `run-${by.name}`, activity: 'x' } : {}),
    ...fields,
  };
}

const removal = (by: Obj | undefined, at: number, fields: Partial<VaultJournalEntry> = {}) =>
  vault(by, at, { endpoint: 'metadata', effect: 'remove', ...fields });

describe('the destruction audit of Vault calls', () => {
  it('passes a secret made, completed and removed after the user deleted the object', () => {
    const made = vault(A, 2, {
      endpoint: 'metadata',
      effect: 'write',
      before: { exists: false, version: 0, live: false },
      marks: { owner: A.uid, credentialId: 'c1' },
    });
    const filled = vault(A, 3, { endpoint: 'data', effect: 'write', password: true });
    const ctx = context([{ o: A, at: 10, spec: { deletionPolicy: 'Delete' } }]);
    assert.deepEqual(vaultViolations([made, filled, removal(A, 11)], ctx), []);
  });

  it('fails a removal nobody asked for, and one under Retain', () => {
    assert.match(vaultViolations([removal(A, 5)], context()).join(), /no user deleted/);
    const retained = context([{ o: A, at: 4, spec: { deletionPolicy: 'Retain' } }]);
    assert.match(vaultViolations([removal(A, 5)], retained).join(), /Retain/);
  });

  it("fails an overwrite or removal of another object's secret, and an unmarked one", () => {
    const foreign = { exists: true, owner: B.uid, version: 1, live: true };
    const ctx = context([{ o: A, at: 1 }]);
    const overwrite = vault(A, 5, { endpoint: 'data', effect: 'write', before: foreign });
    assert.match(
      vaultViolations([overwrite], ctx).join(),
      /the object uid-b's, not the requester's/,
    );
    assert.match(vaultViolations([removal(A, 5, { before: foreign })], ctx).join(), /uid-b/);
    const unmarked = { exists: true, version: 2, live: true };
    assert.match(vaultViolations([removal(A, 5, { before: unmarked })], ctx).join(), /unmarked/);
  });

  it('passes a takeover of a retained secret only when the spec opts in', () => {
    const kept = { exists: true, owner: B.uid, retained: true, version: 1, live: true };
    const takeover = vault(A, 5, { endpoint: 'metadata', effect: 'write', before: kept });
    const optedIn = context([], {}, { [A.uid]: { adoptRetained: true } });
    assert.deepEqual(vaultViolations([takeover], optedIn), []);
    assert.equal(vaultViolations([takeover], context()).length, 1);
    const notRetained = { ...kept, retained: false };
    assert.equal(vaultViolations([{ ...takeover, before: notRetained }], optedIn).length, 1);
  });

  it("passes a cancel's removal of what its run created, and no other", () => {
    const made = vault(A, 2, {
      endpoint: 'metadata',
      effect: 'write',
      before: { exists: false, version: 0, live: false },
      marks: { owner: A.uid, credentialId: 'c1' },
    });
    const undo = removal(A, 6);
    assert.deepEqual(vaultViolations([made, undo], context([], { 'run-a': 5 })), []);
    // cancelled, but the secret was there before the run
    assert.match(vaultViolations([undo], context([], { 'run-a': 5 })).join(), /did not create/);
    // created by the run, but the cancel came after the removal
    assert.equal(vaultViolations([made, undo], context([], { 'run-a': 7 })).length, 1);
  });

  it("fails a write outside the requester's own path", () => {
    const stray = vault(A, 2, {
      endpoint: 'data',
      effect: 'write',
      path: path(B),
      before: { exists: false, version: 0, live: false },
    });
    assert.match(vaultViolations([stray], context()).join(), /outside/);
  });

  it("judges only the suite: a person's object is theirs, a test object is not anyone's", () => {
    const theirs = { exists: true, owner: P.uid, version: 1, live: true };
    // P's workflow removing P's secret with no delete: not the suite's business
    assert.deepEqual(vaultViolations([removal(P, 5, { before: theirs })], context()), []);
    // an unattributed call on P's secret: not judged either
    assert.deepEqual(vaultViolations([removal(undefined, 5, { before: theirs })], context()), []);
    // but P's workflow, or nobody's, touching A's secret is
    assert.match(
      vaultViolations(
        [
          removal(P, 5, {
            path: path(A),
            before: { exists: true, owner: A.uid, version: 1, live: true },
          }),
        ],
        context(),
      ).join(),
      /uid-p/,
    );
    assert.match(vaultViolations([removal(undefined, 5)], context()).join(), /unattributed/);
  });

  it('judges only calls that took effect', () => {
    assert.deepEqual(
      vaultViolations([removal(A, 5, { status: 403, outcome: 'HTTP 403' })], context()),
      [],
    );
  });
});

function consul(
  by: Obj | undefined,
  at: number,
  ops: ConsulOp[],
  state: Partial<Pick<ConsulJournalEntry, 'folders' | 'nodes'>> = {},
): ConsulJournalEntry {
  return {
    seq: ++seq,
    at,
    method: 'PUT',
    call: 'txn',
    ops,
    folders: {},
    nodes: {},
    ...state,
    status: 200,
    outcome: 'ok',
    ...(by ? { workflowId: wf(by), runId: `run-${by.name}` } : {}),
  };
}

const tree = (o: Obj): ConsulOp => ({ kind: 'kv-delete-tree', key: `${path(o)}/` });
const owned = (o: Obj, owner = o.uid) => ({ folders: { [path(o)]: { owner, keys: 5 } } });
const node = (o: Obj) => rdsIdentifier(NS, o.name);

describe('the destruction audit of Consul calls', () => {
  it('passes a publication and its removal after the user deleted the object, Retain too', () => {
    const publish = consul(A, 2, [{ kind: 'kv-set', key: `${path(A)}/rdsflow-uid` }], {
      folders: { [path(A)]: { keys: 0 } },
    });
    const register = consul(A, 3, [{ kind: 'catalog-register', node: node(A) }], {
      nodes: { [node(A)]: { exists: false, services: [] } },
    });
    const remove = consul(A, 11, [tree(A)], owned(A));
    const deregister = consul(A, 12, [{ kind: 'catalog-deregister', node: node(A) }], {
      nodes: { [node(A)]: { exists: true, services: [{ id: node(A), uid: A.uid }] } },
    });
    const ctx = context([{ o: A, at: 10, spec: { deletionPolicy: 'Retain' } }]);
    assert.deepEqual(consulViolations([publish, register, remove, deregister], ctx), []);
  });

  it("fails a removal nobody asked for, and one of another object's entries", () => {
    assert.match(
      consulViolations([consul(A, 5, [tree(A)], owned(A))], context()).join(),
      /no user/,
    );
    const deleted = context([{ o: A, at: 1 }]);
    assert.match(
      consulViolations([consul(A, 5, [tree(A)], owned(A, B.uid))], deleted).join(),
      /uid-b/,
    );
    const theirs = consul(A, 5, [{ kind: 'catalog-deregister', node: node(A) }], {
      nodes: { [node(A)]: { exists: true, services: [{ id: 'x', uid: B.uid }] } },
    });
    assert.match(consulViolations([theirs], deleted).join(), /node:.*uid-b/);
  });

  it('fails a delete-tree whose prefix reaches past its own folder', () => {
    const wide = consul(A, 5, [{ kind: 'kv-delete-tree', key: path(A) }], {
      folders: { [path(A)]: { owner: A.uid, keys: 5 }, [`${path(A)}x`]: { owner: B.uid, keys: 5 } },
    });
    assert.match(consulViolations([wide], context([{ o: A, at: 1 }])).join(), /outside/);
  });

  it("passes a cancel's removal of what its run published", () => {
    const publish = consul(A, 2, [{ kind: 'kv-set', key: `${path(A)}/host` }], owned(A));
    const undo = consul(A, 6, [tree(A)], owned(A));
    assert.deepEqual(consulViolations([publish, undo], context([], { 'run-a': 5 })), []);
    assert.equal(consulViolations([undo], context([], { 'run-a': 5 })).length, 1);
  });

  it('judges only the suite', () => {
    assert.deepEqual(consulViolations([consul(P, 5, [tree(P)], owned(P))], context()), []);
    assert.deepEqual(consulViolations([consul(undefined, 5, [tree(P)], owned(P))], context()), []);
    assert.match(
      consulViolations([consul(undefined, 5, [tree(A)], owned(A))], context()).join(),
      /unattributed/,
    );
  });
});

function rds(by: Obj | undefined, action: string, tags: Record<string, string>): JournalEntry {
  return {
    seq: ++seq,
    at: 5,
    action,
    identifier: node(by ?? A),
    ...(by ? { workflowId: wf(by), runId: `run-${by.name}` } : {}),
    statusBefore: 'available',
    tagsBefore: tags,
    params: {},
    outcome: 'ok',
  };
}

describe('the destruction audit of RDS calls', () => {
  it('fails a delete nobody asked for, of the suite only', () => {
    const tags = (o: Obj) => ({ 'rdsflow.io/uid': o.uid });
    assert.match(rdsViolations([rds(A, 'DeleteDBInstance', tags(A))], context()).join(), /no user/);
    assert.deepEqual(
      rdsViolations([rds(A, 'DeleteDBInstance', tags(A))], context([{ o: A, at: 1 }])),
      [],
    );
    assert.deepEqual(rdsViolations([rds(P, 'DeleteDBInstance', tags(P))], context()), []);
    assert.deepEqual(rdsViolations([rds(undefined, 'DeleteDBInstance', tags(P))], context()), []);
    assert.match(rdsViolations([rds(P, 'ModifyDBInstance', tags(A))], context()).join(), /uid-p/);
  });
});
