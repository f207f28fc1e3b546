// The watcher's decision table: which Temporal call each event deserves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseObject, DatabaseStatus } from '../../contracts/database.js';
import { FINALIZER } from '../../contracts/names.js';
import { decide, malformed, handledAfter, type Proven } from '../../watcher/decide.js';

const uid = '0b9f2f4e-8f57-4d1a-9b8e-3f1c2a7d5e60';

function db(
  options: {
    generation?: number;
    spec?: unknown;
    finalizers?: string[];
    deleting?: boolean;
    status?: DatabaseStatus;
  } = {},
): Proven & { kind: 'present' } {
  const object = {
    apiVersion: 'rdsflow.io/v1alpha1',
    kind: 'Database',
    metadata: {
      namespace: 'shop',
      name: 'orders',
      uid,
      generation: options.generation ?? 1,
      resourceVersion: '42',
      ...(options.finalizers ? { finalizers: options.finalizers } : {}),
      ...(options.deleting ? { deletionTimestamp: '2026-11-25T10:00:00Z' } : {}),
    },
    spec: options.spec ?? { engine: 'postgres' },
    ...(options.status ? { status: options.status } : {}),
  } as DatabaseObject;
  return { kind: 'present', object };
}

describe('decide', () => {
  it('starts the workflow of a new object, adding the finalizer first', () => {
    const action = decide(undefined, db());
    assert.equal(action.kind, 'start');
    assert.ok(action.kind === 'start');
    assert.equal(action.addFinalizer, true);
    assert.equal(action.input.stage, 'provision');
    assert.deepEqual(action.input.object.metadata, {
      namespace: 'shop',
      name: 'orders',
      uid,
      generation: 1,
    });
  });

  it('ignores status-only and metadata-only changes', () => {
    const handled = handledAfter(db({ generation: 2 }));
    const action = decide(handled, db({ generation: 2, finalizers: [FINALIZER] }));
    assert.equal(action.kind, 'none');
  });

  it('signals a new generation (signal-with-start, so a vanished run is restarted)', () => {
    const handled = handledAfter(db({ generation: 1 }));
    const action = decide(handled, db({ generation: 2, finalizers: [FINALIZER] }));
    assert.ok(action.kind === 'specChanged');
    assert.equal(action.view.metadata.generation, 2);
    assert.equal(action.addFinalizer, false);
  });

  it('on first sighting after a restart, signals only when the generation moved meanwhile', () => {
    const settled = db({
      generation: 3,
      finalizers: [FINALIZER],
      status: { phase: 'Available', observedGeneration: 3, workflowId: 'w' },
    });
    assert.equal(decide(undefined, settled).kind, 'start');
    const moved = db({
      generation: 4,
      finalizers: [FINALIZER],
      status: { phase: 'Available', observedGeneration: 3, workflowId: 'w' },
    });
    assert.equal(decide(undefined, moved).kind, 'specChanged');
    // changed before its workflow wrote any status: the workflow may hold generation 1 only
    const early = db({ generation: 2, finalizers: [FINALIZER] });
    assert.equal(decide(undefined, early).kind, 'specChanged');
  });

  it('asks for the delete with signal-with-start while our finalizer holds the object', () => {
    const action = decide(handledAfter(db()), db({ deleting: true, finalizers: [FINALIZER] }));
    assert.ok(action.kind === 'delete');
    assert.equal(action.input?.stage, 'delete');
  });

  it('an object that vanished without a delete is reported gone, never asked to be deleted', () => {
    const action = decide(handledAfter(db()), {
      kind: 'vanished',
      ref: { namespace: 'shop', name: 'orders', uid },
    });
    assert.deepEqual(action, {
      kind: 'objectGone',
      ref: { namespace: 'shop', name: 'orders', uid },
    });
  });

  it('only signals (never starts) when the object was deleted by a user or is not held by us', () => {
    const last = db({ deleting: true, finalizers: [] });
    const gone = decide(handledAfter(db()), {
      kind: 'deleted',
      ref: { namespace: 'shop', name: 'orders', uid },
      last: last.object,
    });
    assert.ok(gone.kind === 'delete');
    assert.equal(gone.input, undefined);
    const unguarded = decide(undefined, db({ deleting: true, finalizers: ['other/finalizer'] }));
    assert.ok(unguarded.kind === 'delete');
    assert.equal(unguarded.input, undefined);
  });

  it('releases, and never deletes, an object that left the scope but exists', () => {
    const left = db({ finalizers: [FINALIZER], status: { phase: 'Available' } });
    const action = decide(handledAfter(db()), { kind: 'released', object: left.object });
    assert.deepEqual(action, {
      kind: 'release',
      ref: { namespace: 'shop', name: 'orders', uid },
    });
    assert.equal(handledAfter({ kind: 'released', object: left.object }), undefined);
    // a deleted object's last state goes with its delete request
    const last = db({
      generation: 2,
      deleting: true,
      spec: { engine: 'postgres', deletionPolicy: 'Retain' },
    });
    const deleted = decide(undefined, {
      kind: 'deleted',
      ref: { namespace: 'shop', name: 'orders', uid },
      last: last.object,
    });
    assert.ok(deleted.kind === 'delete');
    assert.equal(deleted.input, undefined);
    assert.equal(deleted.view?.metadata.generation, 2);
  });

  it('asks for a delete once, not on every status write of the deleting object', () => {
    const deleting = db({ deleting: true, finalizers: [FINALIZER] });
    assert.equal(decide(handledAfter(deleting), deleting).kind, 'none');
  });

  it('sends the object as last observed with the delete, and again when its spec moves on', () => {
    const edited = db({
      generation: 2,
      deleting: true,
      finalizers: [FINALIZER],
      spec: { engine: 'postgres', deletionPolicy: 'Retain' },
    });
    const action = decide(handledAfter(db()), edited);
    assert.ok(action.kind === 'delete');
    assert.deepEqual(action.view?.spec, { engine: 'postgres', deletionPolicy: 'Retain' });
    assert.equal(action.view?.metadata.generation, 2);
    // deleting already requested at generation 1, then the policy changed: tell it
    const requested = handledAfter(db({ deleting: true, finalizers: [FINALIZER] }));
    const again = decide(requested, edited);
    assert.ok(again.kind === 'delete');
    assert.equal(again.view?.metadata.generation, 2);
  });

  it('rejects an invalid stored spec without starting anything, and says so once', () => {
    const bad = db({ spec: { engine: 'oracle', storageGiB: 'lots' } });
    const action = decide(undefined, bad);
    assert.ok(action.kind === 'reject');
    assert.match(action.problems.join('; '), /spec\.engine/);
    assert.match(action.problems.join('; '), /spec\.storageGiB/);
    const reported = db({
      spec: { engine: 'oracle' },
      status: {
        phase: 'Failed',
        observedGeneration: 1,
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'InvalidSpec',
            lastTransitionTime: '2026-11-25T10:00:00Z',
          },
        ],
      },
    });
    assert.equal(decide(undefined, reported).kind, 'none');
    assert.equal(decide(handledAfter(bad), bad).kind, 'none');
    // fixed: a new generation starts it
    assert.equal(decide(handledAfter(bad), db({ generation: 2 })).kind, 'specChanged');
  });

  it('leaves a cancelled database alone until its spec changes', () => {
    const cancelled = { phase: 'Cancelled' as const, observedGeneration: 2, workflowId: 'w' };
    assert.equal(
      decide(undefined, db({ generation: 2, status: cancelled, finalizers: [FINALIZER] })).kind,
      'none',
    );
    assert.equal(
      decide(undefined, db({ generation: 3, status: cancelled, finalizers: [FINALIZER] })).kind,
      'specChanged',
    );
  });
});

describe('malformed', () => {
  it('names what makes an API object unaddressable', () => {
    assert.equal(malformed(null), 'not an object');
    assert.equal(malformed({ spec: {} }), 'no metadata');
    assert.equal(malformed({ metadata: { namespace: 'a' } }), 'no namespace or name');
    assert.equal(malformed({ metadata: { namespace: 'a', name: 'b' } }), 'no uid');
    assert.match(
      malformed({ metadata: { namespace: 'a', name: 'b', uid: 'u', generation: 'x' } }) ?? '',
      /generation/,
    );
    assert.match(malformed({ metadata: { namespace: 'A B', name: 'b', uid: 'u' } }) ?? '', /DNS/);
    assert.equal(malformed({ metadata: { namespace: 'a', name: 'b.c', uid: 'u' } }), undefined);
  });
});
