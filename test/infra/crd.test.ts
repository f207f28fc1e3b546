// The apiserver (with the CRD generated from contracts/schema.ts) and rdsflow's own validation
// agree on what a Database spec may be: what the apiserver refuses, validation refuses too, by
// the same field; what validation accepts, the apiserver accepts, filling the same defaults.
// Only the rules the CRD cannot state (names RDS or an engine reserves, characters RDS allows
// in tags) are left to validation. Server-side dry runs: nothing is stored.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiException,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { kubeClientConfig } from '../../config/clients.js';
import { INSTANCE_SETTINGS, SPEC_DEFAULTS } from '../../contracts/database.js';
import { resolveDatabase } from '../../contracts/spec.js';
import { mergePatch } from '../../kube/databases.js';
import { TEST_LABEL, config, uniqueName } from '../support/env.js';

const objects = kubeClientConfig(config.kube).makeApiClient(CustomObjectsApi);
const long = (n: number) => 'a'.repeat(n);

/** What the apiserver makes of a spec: the stored spec, or the refusal's text. */
async function apiserver(spec: unknown): Promise<{ spec: Record<string, unknown> } | string> {
  return objects
    .createNamespacedCustomObject({
      group: 'rdsflow.io',
      version: 'v1alpha1',
      namespace: 'default',
      plural: 'databases',
      dryRun: 'All',
      // as kubectl does: an unknown field is refused, not silently dropped
      fieldValidation: 'Strict',
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'Database',
        metadata: { name: uniqueName('crd'), labels: { [TEST_LABEL]: 'true' } },
        spec,
      },
    })
    .then(
      (created) => created as { spec: Record<string, unknown> },
      (error: unknown) => {
        if (error instanceof ApiException && (error.code === 422 || error.code === 400)) {
          return String(error.body);
        }
        throw error;
      },
    );
}

/** rdsflow's validation of the same spec: undefined when valid, else its problems. */
function validation(spec: unknown): string | undefined {
  const metadata = { namespace: 'default', name: 'orders', uid: 'u-1', generation: 1 };
  const result = resolveDatabase({ metadata, spec });
  return result.ok ? undefined : result.problems.join('\n');
}

const VALID: Record<string, unknown> = {
  minimal: { engine: 'postgres' },
  'every field': {
    engine: 'mariadb',
    engineVersion: '10.11.8',
    instanceClass: 'db.m5.large',
    storageGiB: 100,
    databaseName: 'sales',
    masterUsername: 'owner',
    multiAZ: true,
    deletionPolicy: 'Retain',
    requireApproval: true,
    adoptRetained: true,
    tags: { team: 'shop', 'cost center': 'A-1' },
  },
  'a 17-character username on postgres': { engine: 'postgres', masterUsername: long(17) },
  parameters: { engine: 'postgres', parameters: { work_mem: '8192', 'rds.force_ssl': '1' } },
  "RDS's default parameter group": { engine: 'postgres', parameterGroup: 'default.postgres16' },
  'a snapshot to restore': { engine: 'postgres', source: { snapshot: 'shop-orders-final-a1' } },
  'a production instance': {
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
    kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/5213c4bf-8cc5-4e32-970a-1c0d6edc2c8a',
    backupRetentionDays: 14,
    backupWindow: '23:45-00:15',
    maintenanceWindow: 'sun:00:15-sun:00:45',
    deletionProtection: true,
    autoMinorVersionUpgrade: false,
    copyTagsToSnapshot: true,
    iamDatabaseAuthentication: true,
    performanceInsights: { enabled: true, retentionDays: 713, kmsKeyId: 'alias/pi' },
    caCertificate: 'rds-ca-rsa2048-g1',
  },
  'io2 at 1000 IOPS per GiB': {
    engine: 'mysql',
    storageType: 'io2',
    storageGiB: 100,
    iops: 100000,
  },
  '40 tags': {
    engine: 'mysql',
    tags: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, long(256)])),
  },
};

/** Refused by both, and the field each names. */
const INVALID: Record<string, { spec: Record<string, unknown>; field: string }> = {
  'an unknown engine': { spec: { engine: 'oracle' }, field: 'engine' },
  'no engine': { spec: {}, field: 'engine' },
  'a malformed version': {
    spec: { engine: 'postgres', engineVersion: 'abc' },
    field: 'engineVersion',
  },
  'a long version': {
    spec: { engine: 'postgres', engineVersion: '1' + '.1'.repeat(16) },
    field: 'engineVersion',
  },
  'a malformed class': {
    spec: { engine: 'postgres', instanceClass: 'huge' },
    field: 'instanceClass',
  },
  'a long class': {
    spec: { engine: 'postgres', instanceClass: `db.${long(30)}.${long(31)}` },
    field: 'instanceClass',
  },
  'too little storage': { spec: { engine: 'postgres', storageGiB: 5 }, field: 'storageGiB' },
  'too much storage': { spec: { engine: 'postgres', storageGiB: 70000 }, field: 'storageGiB' },
  'fractional storage': { spec: { engine: 'postgres', storageGiB: 20.5 }, field: 'storageGiB' },
  'an empty database name': {
    spec: { engine: 'postgres', databaseName: '' },
    field: 'databaseName',
  },
  'a malformed database name': {
    spec: { engine: 'postgres', databaseName: '1abc' },
    field: 'databaseName',
  },
  'a long database name': {
    spec: { engine: 'postgres', databaseName: long(64) },
    field: 'databaseName',
  },
  'an empty username': {
    spec: { engine: 'postgres', masterUsername: '' },
    field: 'masterUsername',
  },
  'a long username': {
    spec: { engine: 'postgres', masterUsername: long(64) },
    field: 'masterUsername',
  },
  'a 17-character username on mysql (CEL)': {
    spec: { engine: 'mysql', masterUsername: long(17) },
    field: 'masterUsername',
  },
  'an unknown policy': {
    spec: { engine: 'postgres', deletionPolicy: 'Shred' },
    field: 'deletionPolicy',
  },
  'a Multi-AZ that is no boolean': {
    spec: { engine: 'postgres', multiAZ: 'yes' },
    field: 'multiAZ',
  },
  '41 tags': {
    spec: {
      engine: 'postgres',
      tags: Object.fromEntries(Array.from({ length: 41 }, (_, i) => [`k${i}`, 'v'])),
    },
    field: 'tags',
  },
  'an aws: tag (CEL)': { spec: { engine: 'postgres', tags: { 'aws:x': 'v' } }, field: 'tags' },
  'an rdsflow.io/ tag (CEL)': {
    spec: { engine: 'postgres', tags: { 'rdsflow.io/x': 'v' } },
    field: 'tags',
  },
  'a long tag key (CEL)': {
    spec: { engine: 'postgres', tags: { [long(129)]: 'v' } },
    field: 'tags',
  },
  'a long tag value': { spec: { engine: 'postgres', tags: { k: long(257) } }, field: 'tags' },
  'a tag value that is no string': { spec: { engine: 'postgres', tags: { k: 3 } }, field: 'tags' },
  'an unknown field': { spec: { engine: 'postgres', colour: 'blue' }, field: 'colour' },
  'parameters and a parameter group (CEL)': {
    spec: { engine: 'postgres', parameters: { work_mem: '1' }, parameterGroup: 'mine' },
    field: 'parameterGroup',
  },
  'a parameter name with a space (CEL)': {
    spec: { engine: 'postgres', parameters: { 'work mem': '1' } },
    field: 'parameter names',
  },
  'a parameter value that is no string': {
    spec: { engine: 'postgres', parameters: { work_mem: 8192 } },
    field: 'parameters',
  },
  'a malformed parameter group': {
    spec: { engine: 'postgres', parameterGroup: 'my--group' },
    field: 'parameterGroup',
  },
  'a malformed snapshot': {
    spec: { engine: 'postgres', source: { snapshot: 'final-' } },
    field: 'snapshot',
  },
  'a source without a snapshot': { spec: { engine: 'postgres', source: {} }, field: 'snapshot' },
  'a malformed security group': {
    spec: { engine: 'postgres', securityGroupIds: ['sg-1'] },
    field: 'securityGroupIds',
  },
  'a security group twice': {
    spec: { engine: 'postgres', securityGroupIds: ['sg-12345678', 'sg-12345678'] },
    field: 'securityGroupIds',
  },
  'six security groups': {
    spec: {
      engine: 'postgres',
      securityGroupIds: Array.from({ length: 6 }, (_, i) => `sg-1234567${i}`),
    },
    field: 'securityGroupIds',
  },
  'an unknown storage type': {
    spec: { engine: 'postgres', storageType: 'ssd' },
    field: 'storageType',
  },
  'io1 without iops (CEL)': {
    spec: { engine: 'postgres', storageType: 'io1', storageGiB: 100 },
    field: 'iops',
  },
  'iops on gp2 (CEL)': {
    spec: { engine: 'postgres', storageType: 'gp2', iops: 3000 },
    field: 'iops',
  },
  'io1 under 100 GiB (CEL)': {
    spec: { engine: 'postgres', storageType: 'io1', storageGiB: 50, iops: 1000 },
    field: 'storageGiB',
  },
  'io1 over 50 IOPS per GiB (CEL)': {
    spec: { engine: 'postgres', storageType: 'io1', storageGiB: 100, iops: 5001 },
    field: 'iops',
  },
  'io2 under 0.5 IOPS per GiB (CEL)': {
    spec: { engine: 'postgres', storageType: 'io2', storageGiB: 4000, iops: 1000 },
    field: 'iops',
  },
  'gp3 iops under 400 GiB (CEL)': {
    spec: { engine: 'postgres', storageType: 'gp3', storageGiB: 399, iops: 12000 },
    field: 'iops',
  },
  'gp3 iops out of range (CEL)': {
    spec: { engine: 'postgres', storageType: 'gp3', storageGiB: 400, iops: 11000 },
    field: 'iops',
  },
  'throughput on io1 (CEL)': {
    spec: {
      engine: 'postgres',
      storageType: 'io1',
      storageGiB: 100,
      iops: 1000,
      storageThroughput: 500,
    },
    field: 'storageThroughput',
  },
  'gp3 throughput under 400 GiB (CEL)': {
    spec: { engine: 'postgres', storageType: 'gp3', storageGiB: 100, storageThroughput: 500 },
    field: 'storageThroughput',
  },
  'gp3 throughput over a quarter of the iops (CEL)': {
    spec: {
      engine: 'postgres',
      storageType: 'gp3',
      storageGiB: 400,
      iops: 12000,
      storageThroughput: 3001,
    },
    field: 'storageThroughput',
  },
  'an autoscaling ceiling under the storage (CEL)': {
    spec: { engine: 'postgres', storageGiB: 100, maxAllocatedStorage: 100 },
    field: 'maxAllocatedStorage',
  },
  'a KMS key on unencrypted storage (CEL)': {
    spec: { engine: 'postgres', storageEncrypted: false, kmsKeyId: 'alias/x' },
    field: 'kmsKeyId',
  },
  'a malformed KMS key': { spec: { engine: 'postgres', kmsKeyId: 'key' }, field: 'kmsKeyId' },
  '36 days of backups': {
    spec: { engine: 'postgres', backupRetentionDays: 36 },
    field: 'backupRetentionDays',
  },
  'a malformed backup window': {
    spec: { engine: 'postgres', backupWindow: '3:00-3:30' },
    field: 'backupWindow',
  },
  'a 29-minute backup window (CEL)': {
    spec: { engine: 'postgres', backupWindow: '23:50-00:19' },
    field: 'backupWindow',
  },
  'a 20-minute maintenance window (CEL)': {
    spec: { engine: 'postgres', maintenanceWindow: 'sat:23:50-sun:00:10' },
    field: 'maintenanceWindow',
  },
  'backups during maintenance (CEL)': {
    spec: {
      engine: 'postgres',
      backupWindow: '04:50-05:20',
      maintenanceWindow: 'tue:05:00-tue:05:30',
    },
    field: 'backupWindow',
  },
  'a Performance Insights retention of 32 days (CEL)': {
    spec: { engine: 'postgres', performanceInsights: { enabled: true, retentionDays: 32 } },
    field: 'retentionDays',
  },
  'Performance Insights settings while off (CEL)': {
    spec: { engine: 'postgres', performanceInsights: { enabled: false, retentionDays: 7 } },
    field: 'performanceInsights',
  },
  'a malformed CA': {
    spec: { engine: 'postgres', caCertificate: 'digicert' },
    field: 'caCertificate',
  },
  'deletion protection that is no boolean': {
    spec: { engine: 'postgres', deletionProtection: 'yes' },
    field: 'deletionProtection',
  },
};

/** What only validation can refuse: the CRD has no way to state it. */
const VALIDATION_ONLY: Record<string, Record<string, unknown>> = {
  'a username RDS reserves': { engine: 'mysql', masterUsername: 'rdsadmin' },
  'a database name postgres reserves': { engine: 'postgres', databaseName: 'template1' },
  'a tag key with a character RDS refuses': { engine: 'postgres', tags: { 'a#b': 'v' } },
};

/** Creates a Database for real (not a dry run), for the rules that judge an update. */
async function stored(spec: Record<string, unknown>): Promise<string> {
  const name = uniqueName('crd-immutable');
  await objects.createNamespacedCustomObject({
    group: 'rdsflow.io',
    version: 'v1alpha1',
    namespace: 'default',
    plural: 'databases',
    body: {
      apiVersion: 'rdsflow.io/v1alpha1',
      kind: 'Database',
      metadata: { name, labels: { [TEST_LABEL]: 'true' } },
      spec,
    },
  });
  return name;
}

/** What the apiserver makes of a merge patch of the spec: the stored spec, or the refusal. */
async function patched(name: string, spec: Record<string, unknown>): Promise<string> {
  return objects
    .patchNamespacedCustomObject(
      {
        group: 'rdsflow.io',
        version: 'v1alpha1',
        namespace: 'default',
        plural: 'databases',
        name,
        dryRun: 'All',
        body: { spec },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    .then(
      () => 'accepted' as const,
      (error: unknown) => {
        if (error instanceof ApiException && error.code === 422) return String(error.body);
        throw error;
      },
    );
}

describe('the generated CRD and validation, on the real apiserver', () => {
  it('accept the same valid specs, and the apiserver fills the schema defaults only', async () => {
    for (const [what, spec] of Object.entries(VALID)) {
      assert.equal(validation(spec), undefined, `validation refused ${what}`);
      const stored = await apiserver(spec);
      assert.ok(typeof stored === 'object', `the apiserver refused ${what}: ${stored as string}`);
      for (const [field, value] of Object.entries(SPEC_DEFAULTS)) {
        const given = (spec as Record<string, unknown>)[field];
        assert.equal(stored.spec[field], given ?? value, `${what}: spec.${field}`);
      }
      for (const setting of INSTANCE_SETTINGS) {
        const given = (spec as Record<string, unknown>)[setting];
        assert.deepEqual(stored.spec[setting], given, `${what}: spec.${setting} is not defaulted`);
      }
    }
  });

  it('refuse the same invalid specs, naming the same field', async () => {
    for (const [what, { spec, field }] of Object.entries(INVALID)) {
      const refusal = await apiserver(spec);
      assert.ok(typeof refusal === 'string', `the apiserver accepted ${what}`);
      assert.match(refusal, new RegExp(field), `the apiserver on ${what}`);
      assert.match(validation(spec) ?? 'accepted', new RegExp(field), `validation on ${what}`);
    }
  });

  it('refuses a change of spec.source once the Database exists (CEL transition rule)', async () => {
    const name = uniqueName('crd-source');
    const at = {
      group: 'rdsflow.io',
      version: 'v1alpha1',
      namespace: 'default',
      plural: 'databases',
    };
    await objects.createNamespacedCustomObject({
      ...at,
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'Database',
        metadata: { name, labels: { [TEST_LABEL]: 'true' } },
        spec: { engine: 'postgres', source: { snapshot: 'shop-orders-final-a1' } },
      },
    });
    try {
      for (const source of [{ snapshot: 'another' }, null]) {
        const refusal = await objects
          .patchNamespacedCustomObject({ ...at, name, body: { spec: { source } } }, mergePatch)
          .then(
            () => 'accepted',
            (error: unknown) => String((error as ApiException<unknown>).body),
          );
        assert.match(refusal, /source cannot change after creation/, JSON.stringify(source));
      }
    } finally {
      await objects.deleteNamespacedCustomObject({ ...at, name });
    }
  });

  it('refuse a change, addition or removal of what RDS cannot change after creation', async () => {
    const name = await stored({
      engine: 'postgres',
      databaseName: 'sales',
      storageEncrypted: true,
      kmsKeyId: 'alias/orders',
    });
    try {
      // what RDS can change goes through
      assert.equal(await patched(name, { storageGiB: 50, deletionProtection: false }), 'accepted');
      for (const [what, change, field] of [
        ['a new engine', { engine: 'mysql' }, 'engine'],
        ['a new database name', { databaseName: 'other' }, 'databaseName'],
        ['the database name removed', { databaseName: null }, 'databaseName'],
        ['a new username', { masterUsername: 'owner' }, 'masterUsername'],
        ['encryption off', { storageEncrypted: false, kmsKeyId: null }, 'storageEncrypted'],
        ['encryption unstated', { storageEncrypted: null }, 'storageEncrypted'],
        ['another key', { kmsKeyId: 'alias/other' }, 'kmsKeyId'],
        ['the key removed', { kmsKeyId: null }, 'kmsKeyId'],
      ] as const) {
        const refusal = await patched(name, change);
        assert.notEqual(refusal, 'accepted', `the apiserver accepted ${what}`);
        assert.match(refusal, new RegExp(`spec\\.${field}: .*cannot be changed`), what);
      }
    } finally {
      await objects.deleteNamespacedCustomObject({
        group: 'rdsflow.io',
        version: 'v1alpha1',
        namespace: 'default',
        plural: 'databases',
        name,
      });
    }
    const bare = await stored({ engine: 'postgres' });
    try {
      const refusal = await patched(bare, { kmsKeyId: 'alias/late' });
      assert.match(refusal, /spec\.kmsKeyId: .*cannot be changed/, 'a key added later');
    } finally {
      await objects.deleteNamespacedCustomObject({
        group: 'rdsflow.io',
        version: 'v1alpha1',
        namespace: 'default',
        plural: 'databases',
        name: bare,
      });
    }
  });

  it('leave to validation only what the CRD cannot state', async () => {
    for (const [what, spec] of Object.entries(VALIDATION_ONLY)) {
      assert.ok(validation(spec), `validation accepted ${what}`);
      assert.equal(typeof (await apiserver(spec)), 'object', `the apiserver refused ${what}`);
    }
  });
});
