// Spec validation and munging: defaults, derived names, and every problem named at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveDatabase } from '../../contracts/spec.js';

const uid = '5f0c8a8e-3c1b-4f43-9b38-1f0a6d1c2b3a';
const object = (spec: unknown, metadata: Record<string, unknown> = {}) => ({
  apiVersion: 'rdsflow.io/v1alpha1',
  kind: 'Database',
  metadata: { namespace: 'shop', name: 'orders', uid, generation: 3, ...metadata },
  spec,
});

function problems(input: unknown): readonly string[] {
  const result = resolveDatabase(input);
  assert.equal(result.ok, false, 'expected the spec to be rejected');
  return result.ok ? [] : result.problems;
}

describe('resolveDatabase', () => {
  it('fills defaults and derives names for a minimal spec', () => {
    const result = resolveDatabase(object({ engine: 'postgres' }));
    assert.ok(result.ok);
    const db = result.database;
    assert.deepEqual(
      { ...db, dbInstanceIdentifier: db.dbInstanceIdentifier.replace(/-[a-z0-9]{13}$/, '-HASH') },
      {
        ref: { namespace: 'shop', name: 'orders', uid },
        generation: 3,
        engine: 'postgres',
        instanceClass: 'db.t3.micro',
        storageGiB: 20,
        databaseName: 'orders',
        masterUsername: 'app',
        multiAZ: false,
        deletionPolicy: 'Snapshot',
        requireApproval: false,
        adoptRetained: false,
        tags: {},
        // nothing stated: a live instance's class, storage and Multi-AZ are not drift
        stated: [],
        dbInstanceIdentifier: 'shop-orders-HASH',
        vaultPath: 'rdsflow/shop/orders',
        consulKey: 'rdsflow/shop/orders',
      },
    );
  });

  it('keeps what the user set', () => {
    const result = resolveDatabase(
      object({
        engine: 'mysql',
        engineVersion: '8.0.35',
        instanceClass: 'db.m5.large',
        storageGiB: 100,
        databaseName: 'sales',
        masterUsername: 'owner',
        multiAZ: true,
        deletionPolicy: 'Retain',
        requireApproval: true,
        tags: { team: 'shop', 'cost center': 'A-1' },
      }),
    );
    assert.ok(result.ok);
    assert.equal(result.database.engineVersion, '8.0.35');
    assert.equal(result.database.databaseName, 'sales');
    assert.equal(result.database.deletionPolicy, 'Retain');
    assert.deepEqual(result.database.tags, { team: 'shop', 'cost center': 'A-1' });
    assert.deepEqual([...result.database.stated].sort(), [
      'engineVersion',
      'instanceClass',
      'multiAZ',
      'storageGiB',
    ]);
  });

  it('names every problem at once, by field', () => {
    const found = problems(
      object({
        engine: 'oracle',
        storageGiB: 5,
        instanceClass: 'huge',
        masterUsername: '1admin',
        multiAZ: 'yes',
        deletionPolicy: 'Shred',
        tags: { 'aws:owner': 'x', 'rdsflow.io/uid': 'y', ok: 'z'.repeat(300) },
        colour: 'blue',
      }),
    );
    for (const field of [
      'spec.engine',
      'spec.storageGiB',
      'spec.instanceClass',
      'spec.masterUsername',
      'spec.multiAZ',
      'spec.deletionPolicy',
      'spec.tags.aws:owner',
      'spec.tags.rdsflow.io/uid',
      'spec.tags.ok',
      'spec: unknown field(s) colour',
    ]) {
      assert.ok(
        found.some((p) => p.startsWith(field)),
        `no problem for ${field} in ${JSON.stringify(found)}`,
      );
    }
  });

  it('applies engine-specific limits', () => {
    assert.ok(
      problems(object({ engine: 'mariadb', masterUsername: 'a_very_long_username' })).some((p) =>
        /16 characters for mariadb/.test(p),
      ),
    );
    assert.ok(
      resolveDatabase(object({ engine: 'postgres', masterUsername: 'a_very_long_username' })).ok,
    );
    assert.ok(
      problems(object({ engine: 'postgres', databaseName: 'template1' })).some((p) =>
        /reserved by postgres/.test(p),
      ),
    );
    assert.ok(
      problems(object({ engine: 'mysql', masterUsername: 'rdsadmin' })).some((p) =>
        /reserved by RDS/.test(p),
      ),
    );
  });

  it('rejects a malformed object without throwing', () => {
    for (const input of [
      undefined,
      null,
      42,
      'text',
      {},
      { spec: { engine: 'postgres' } },
      object(undefined),
      object([]),
    ]) {
      const result = resolveDatabase(input);
      assert.equal(result.ok, false);
    }
    assert.ok(
      problems({ spec: { engine: 'postgres' } }).some((p) => p.startsWith('metadata.namespace')),
    );
    assert.ok(
      problems(object(undefined)).includes(
        'spec: is missing: a Database needs at least spec.engine',
      ),
    );
    assert.ok(
      problems(object({ engine: 'postgres' }, { name: '../../other' })).some((p) =>
        p.startsWith('metadata.name'),
      ),
    );
    assert.ok(
      problems(object({ engine: 'postgres' }, { uid: '' })).some((p) =>
        p.startsWith('metadata.uid'),
      ),
    );
  });
});
