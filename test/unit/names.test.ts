// Derived names for hostile inputs: the RDS identifier is always valid and distinct, paths never
// leave the object's own namespace prefix.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  RDS_IDENTIFIER_PATTERN,
  consulKeyPrefix,
  defaultDatabaseName,
  refFromWorkflowId,
  shortHash,
  taskQueueFor,
  vaultSecretPath,
  workflowIdFor,
} from '../../contracts/names.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { ENGINES } from '../../contracts/database.js';

const hostile = [
  '',
  '-',
  '---',
  '9lives',
  'a'.repeat(300),
  'orders.v2.prod',
  '../../etc/passwd',
  'team/a',
  'ÜNÏCÖDÉ-名前',
  '🙂🙂🙂',
  'UPPER_case--double',
  ' spaced out ',
];

function assertValidRdsIdentifier(id: string): void {
  assert.ok(id.length >= 1 && id.length <= 63, `${id} has length ${id.length}`);
  assert.match(id, RDS_IDENTIFIER_PATTERN, `${id} is not a valid RDS identifier`);
  assert.doesNotMatch(id, /--/);
}

describe('rdsIdentifier', () => {
  it('is valid for hostile names', () => {
    for (const ns of ['default', ...hostile])
      for (const name of hostile) assertValidRdsIdentifier(rdsIdentifier(ns, name));
  });

  it('is valid for any strings at all (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (ns, name) => {
        assertValidRdsIdentifier(rdsIdentifier(ns, name));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a readable prefix of namespace and name', () => {
    assert.match(rdsIdentifier('shop', 'orders'), /^shop-orders-[a-z0-9]{13}$/);
    assert.match(rdsIdentifier('9ns', 'x'), /^db-9ns-x-[a-z0-9]{13}$/);
  });

  it('is deterministic', () => {
    assert.equal(rdsIdentifier('shop', 'orders'), rdsIdentifier('shop', 'orders'));
  });

  it('keeps two namespaces apart that read alike: only a cryptographic hash tells them', () => {
    const a = rdsIdentifier('team', 'x-orders');
    const b = rdsIdentifier('team-x', 'orders');
    const readable = (id: string) => id.slice(0, id.lastIndexOf('-'));
    assert.equal(readable(a), readable(b));
    assert.notEqual(a, b);
    // 13 base-36 digits of SHA-256 (67 bits): a name crafted to meet another's is out of reach
    assert.match(a, /-[a-z0-9]{13}$/);
  });

  it('separates pairs that read the same once sanitised', () => {
    const pairs: [string, string][] = [
      ['a', 'b-c'],
      ['a-b', 'c'],
      ['a', 'b.c'],
      ['a/b', 'c'],
      ['a', 'b/c'],
      ['A', 'b-c'],
    ];
    const ids = new Set(pairs.map(([ns, n]) => rdsIdentifier(ns, n)));
    assert.equal(ids.size, pairs.length);
  });

  it('gives distinct objects distinct identifiers (property over DNS names)', () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(label, label), {
          minLength: 2,
          maxLength: 200,
          selector: ([a, b]) => `${a}/${b}`,
        }),
        (refs) => {
          const ids = new Set(refs.map(([ns, name]) => rdsIdentifier(ns, name)));
          assert.equal(ids.size, refs.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('shortHash', () => {
  it('is 8 base-36 characters and spreads 100k inputs without collision', () => {
    const hashes = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const h = shortHash(`default/db-${i}`);
      assert.match(h, /^[a-z0-9]{8}$/);
      hashes.add(h);
    }
    assert.equal(hashes.size, 100_000);
  });
});

describe('Vault and Consul paths', () => {
  it('follow the contract layout', () => {
    assert.equal(vaultSecretPath('shop', 'orders'), 'rdsflow/shop/orders');
    assert.equal(consulKeyPrefix('shop', 'orders.v2'), 'rdsflow/shop/orders.v2');
  });

  it('refuse any name that could leave the namespace prefix', () => {
    for (const [ns, name] of [
      ['shop', '../other/orders'],
      ['shop', 'a/b'],
      ['shop', ''],
      ['shop/..', 'x'],
      ['Shop', 'orders'],
      ['shop', 'orders\u0000'],
      ['shop', '.hidden'],
    ] as const) {
      assert.throws(() => vaultSecretPath(ns, name), /refusing to build a path/);
      assert.throws(() => consulKeyPrefix(ns, name), /refusing to build a path/);
    }
  });

  it('stay inside rdsflow/<namespace>/ for every name they accept (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (ns, name) => {
        let path: string;
        try {
          path = vaultSecretPath(ns, name);
        } catch {
          return;
        }
        assert.ok(path.startsWith(`rdsflow/${ns}/`));
        const rest = path.slice(`rdsflow/${ns}/`.length);
        assert.ok(!rest.includes('/') && rest !== '..' && rest !== '.' && rest.length > 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('defaultDatabaseName', () => {
  it('derives a valid name from any object name', () => {
    for (const engine of ENGINES) {
      for (const name of [...hostile, 'orders', 'orders-v2', 'mysql', 'postgres']) {
        const db = defaultDatabaseName(engine, name);
        assert.match(db, /^[A-Za-z][A-Za-z0-9_]{0,62}$/, `${engine}: ${name} → ${db}`);
      }
    }
    assert.equal(defaultDatabaseName('postgres', 'orders-v2'), 'orders_v2');
    assert.equal(defaultDatabaseName('postgres', '9lives'), 'db_9lives');
    assert.equal(defaultDatabaseName('mysql', 'mysql'), 'mysql_db');
  });
});

describe('workflowIdFor', () => {
  it('is keyed by the UID and the cluster, readable, and read back', () => {
    const uid = '5f0c8a8e-3c1b-4f43-9b38-1f0a6d1c2b3a';
    const cluster = '0b7c2d1e-9f3a-4c5b-8d6e-7f8091a2b3c4';
    const id = workflowIdFor({ namespace: 'shop', name: 'orders', uid }, cluster);
    assert.equal(id, `database/shop/orders/${uid}@${cluster}`);
    assert.deepEqual(refFromWorkflowId(id), { namespace: 'shop', name: 'orders', uid, cluster });
  });

  it('never gives two clusters (or a restored cluster under its own name) one workflow', () => {
    const ref = { namespace: 'shop', name: 'orders', uid: 'same-uid-after-a-restore' };
    assert.notEqual(workflowIdFor(ref, 'prod'), workflowIdFor(ref, 'prod-restored'));
    assert.notEqual(taskQueueFor('rdsflow', 'prod'), taskQueueFor('rdsflow', 'prod-restored'));
  });

  it('reads no ID without a cluster (the form before clusters) as a database workflow', () => {
    assert.equal(refFromWorkflowId('database/shop/orders/5f0c8a8e'), undefined);
    assert.equal(refFromWorkflowId('database/shop/orders/a@b@c'), undefined);
  });
});
