// Spec validation and munging: defaults, derived names, and every problem named at once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { immutableChanges, resolveDatabase } from '../../contracts/spec.js';

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
        // a new instance is private, encrypted, protected and copies its tags to snapshots
        publiclyAccessible: false,
        storageEncrypted: true,
        deletionProtection: true,
        copyTagsToSnapshot: true,
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

  it('carries the production settings the spec states, and only those', () => {
    const spec = {
      engine: 'postgres',
      storageGiB: 500,
      subnetGroup: 'private-db',
      securityGroupIds: ['sg-0123456789abcdef0', 'sg-89abcdef'],
      publiclyAccessible: false,
      storageType: 'gp3',
      iops: 12000,
      storageThroughput: 500,
      maxAllocatedStorage: 1000,
      storageEncrypted: true,
      kmsKeyId: 'alias/orders',
      backupRetentionDays: 14,
      backupWindow: '03:00-03:30',
      maintenanceWindow: 'sun:05:00-sun:05:30',
      deletionProtection: false,
      autoMinorVersionUpgrade: false,
      copyTagsToSnapshot: false,
      iamDatabaseAuthentication: true,
      performanceInsights: { enabled: true, retentionDays: 93, kmsKeyId: 'alias/pi' },
      caCertificate: 'rds-ca-rsa2048-g1',
    };
    const result = resolveDatabase(object(spec));
    assert.ok(result.ok, JSON.stringify(result));
    const { engine: _engine, ...settings } = spec;
    for (const [key, value] of Object.entries(settings)) {
      assert.deepEqual(result.database[key as keyof typeof result.database], value, key);
    }
    assert.deepEqual(
      [...result.database.stated].sort(),
      Object.keys(settings).sort(),
      'every one is stated, so a change compares them all',
    );
    const bare = resolveDatabase(object({ engine: 'postgres' }));
    assert.ok(bare.ok);
    for (const key of ['subnetGroup', 'storageType', 'kmsKeyId', 'backupRetentionDays'])
      assert.equal(key in bare.database, false, `${key}: RDS's default, not sent`);
  });

  it('names every broken rule across fields at once, by field', () => {
    const found = problems(
      object({
        engine: 'postgres',
        storageGiB: 40,
        storageType: 'io1',
        storageThroughput: 600,
        maxAllocatedStorage: 30,
        storageEncrypted: false,
        kmsKeyId: 'alias/x',
        backupWindow: '05:10-05:40',
        maintenanceWindow: 'sun:05:00-sun:05:30',
        securityGroupIds: ['sg-12345678', 'sg-12345678', 'sg-1'],
        performanceInsights: { enabled: false, retentionDays: 32 },
        caCertificate: 'digicert',
        backupRetentionDays: 36,
      }),
    );
    for (const expected of [
      'spec.iops: iops is required for storageType io1 and io2',
      'spec.storageGiB: storageGiB of at least 100 is required',
      'spec.storageThroughput: storageThroughput needs storageType gp3',
      'spec.maxAllocatedStorage: maxAllocatedStorage must be greater than storageGiB',
      'spec.kmsKeyId: kmsKeyId needs storageEncrypted',
      'spec.backupWindow: backupWindow must not overlap maintenanceWindow',
      'spec.securityGroupIds.2: must look like sg-',
      'spec.securityGroupIds: must not name a security group twice',
      'spec.performanceInsights.retentionDays: must be 7, 31 to 713',
      'spec.performanceInsights.retentionDays: needs enabled: true',
      'spec.caCertificate: must look like rds-ca-rsa2048-g1',
      'spec.backupRetentionDays: must be 0 to 35',
    ]) {
      assert.ok(
        found.some((p) => p.startsWith(expected)),
        `no "${expected}" in ${JSON.stringify(found, null, 1)}`,
      );
    }
  });

  it('holds storage to the rules of its type', () => {
    const spec = (extra: Record<string, unknown>) => object({ engine: 'mysql', ...extra });
    const refused = (extra: Record<string, unknown>, expected: RegExp) =>
      assert.ok(
        problems(spec(extra)).some((p) => expected.test(p)),
        `${JSON.stringify(extra)}: expected ${String(expected)}`,
      );
    refused(
      { storageType: 'gp2', iops: 3000 },
      /^spec\.iops: iops needs storageType io1, io2 or gp3/,
    );
    refused({ storageType: 'standard', iops: 3000 }, /^spec\.iops: iops needs storageType/);
    refused({ storageType: 'gp3', storageGiB: 399, iops: 12000 }, /^spec\.iops: gp3 below 400 GiB/);
    refused(
      { storageType: 'gp3', storageGiB: 100, storageThroughput: 500 },
      /^spec\.storageThroughput: gp3 below 400 GiB/,
    );
    refused(
      { storageType: 'gp3', storageGiB: 400, iops: 70000 },
      /^spec\.iops: must be at most|gp3 must be 12000/,
    );
    refused(
      { storageType: 'gp3', storageGiB: 400, iops: 11000 },
      /^spec\.iops: iops for gp3 must be 12000 to 64000/,
    );
    refused(
      { storageType: 'gp3', storageGiB: 400, iops: 12000, storageThroughput: 4000 },
      /^spec\.storageThroughput: storageThroughput must be at most 0\.25/,
    );
    refused(
      { storageType: 'io1', storageGiB: 100, iops: 5001 },
      /^spec\.iops: iops must be 0\.5 to 50/,
    );
    refused({ storageType: 'io2', storageGiB: 4000, iops: 1000 }, /^spec\.iops: iops must be 0\.5/);
    refused(
      { storageType: 'io1', storageGiB: 100, iops: 999 },
      /^spec\.iops: must be at least 1000/,
    );
    for (const ok of [
      { storageType: 'io1', storageGiB: 100, iops: 5000 },
      { storageType: 'io2', storageGiB: 100, iops: 100000 },
      { storageType: 'gp3', storageGiB: 400, iops: 64000, storageThroughput: 4000 },
      { storageType: 'gp3', storageGiB: 20 },
      { storageType: 'gp2', storageGiB: 20, maxAllocatedStorage: 21 },
    ]) {
      const result = resolveDatabase(spec(ok));
      assert.ok(result.ok, `${JSON.stringify(ok)}: ${JSON.stringify(result)}`);
    }
  });

  it('holds windows to 30 minutes, UTC, backups apart from maintenance', () => {
    const result = (extra: Record<string, unknown>) =>
      resolveDatabase(object({ engine: 'postgres', ...extra }));
    assert.ok(result({ backupWindow: '23:45-00:15', maintenanceWindow: 'mon:00:15-mon:00:45' }).ok);
    assert.ok(result({ maintenanceWindow: 'sun:23:50-mon:00:20' }).ok, 'across midnight and days');
    for (const [extra, expected] of [
      [{ backupWindow: '03:00-03:29' }, /^spec\.backupWindow: must be at least 30 minutes/],
      [{ backupWindow: '3:00-3:30' }, /^spec\.backupWindow: must look like 03:00-03:30/],
      [
        { maintenanceWindow: 'sun:05:00-sun:05:10' },
        /^spec\.maintenanceWindow: must be at least 30/,
      ],
      [{ maintenanceWindow: 'sunday:05:00' }, /^spec\.maintenanceWindow: must look like/],
      // the backup runs daily: a Tuesday maintenance window at the same hour meets it
      [
        { backupWindow: '04:50-05:20', maintenanceWindow: 'tue:05:00-tue:05:30' },
        /^spec\.backupWindow: backupWindow must not overlap/,
      ],
      [
        { backupWindow: '23:50-00:20', maintenanceWindow: 'sat:23:00-sun:00:00' },
        /^spec\.backupWindow: backupWindow must not overlap/,
      ],
    ] as const) {
      const outcome = result(extra);
      assert.ok(
        !outcome.ok && outcome.problems.some((p) => expected.test(p)),
        JSON.stringify(outcome),
      );
    }
  });

  it('refuses a change, addition or removal of what RDS cannot change after creation', () => {
    const resolved = (spec: Record<string, unknown>) => {
      const result = resolveDatabase(object({ engine: 'postgres', ...spec }));
      assert.ok(result.ok);
      return result.database;
    };
    const base = resolved({ kmsKeyId: 'alias/a', databaseName: 'sales' });
    assert.deepEqual(
      immutableChanges(
        base,
        resolved({ kmsKeyId: 'alias/a', databaseName: 'sales', storageGiB: 50 }),
      ),
      [],
    );
    assert.deepEqual(
      immutableChanges(
        base,
        resolved({
          engine: 'postgres',
          kmsKeyId: 'alias/b',
          storageEncrypted: true,
          databaseName: 'x',
        }),
      ),
      [
        'spec.databaseName (was sales)',
        'spec.storageEncrypted (was unset)',
        'spec.kmsKeyId (was alias/a)',
      ],
    );
    assert.deepEqual(immutableChanges(base, resolved({ databaseName: 'sales' })), [
      'spec.kmsKeyId (was alias/a)',
    ]);
    assert.deepEqual(
      immutableChanges(resolved({ storageEncrypted: false }), resolved({ storageEncrypted: true })),
      ['spec.storageEncrypted (was false)'],
    );
  });

  it('accepts the production-shaped sample as it is committed', () => {
    const sample = parse(
      readFileSync(new URL('../../deploy/samples/ledger.yaml', import.meta.url), 'utf8'),
    ) as { metadata: Record<string, unknown>; spec: unknown };
    const result = resolveDatabase({ ...sample, metadata: { ...sample.metadata, uid } });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.database.deletionProtection, true);
    assert.equal(result.database.storageEncrypted, true);
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
