// A DatabaseClass applied to a Database: which class, its defaults, what it enforces, its
// limits, every violation named at once with the class's name, and where the Database lives.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chooseDefaultClass, type ClassView } from '../../contracts/class.js';
import { databaseClassCrd } from '../../contracts/crd.js';
import { DEFAULT_CLASS_ANNOTATION } from '../../contracts/database.js';
import { immutableChanges, resolveDatabase, type ResolvedDatabase } from '../../contracts/spec.js';
import { CLASS_CRD_FILE, crdDrift, renderCrd } from '../../scripts/crd.js';

const uid = '5f0c8a8e-3c1b-4f43-9b38-1f0a6d1c2b3a';
const object = (spec: unknown) => ({
  metadata: { namespace: 'shop', name: 'orders', uid, generation: 2 },
  spec,
});

const standard: ClassView = {
  name: 'standard',
  generation: 4,
  annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' },
  spec: {
    region: 'eu-west-1',
    account: '123456789012',
    credentials: {
      secretRef: { name: 'aws-prod' },
      assumeRole: { roleArn: 'arn:aws:iam::123456789012:role/rdsflow', externalId: 'ext-1' },
    },
    defaults: { instanceClass: 'db.t3.small', storageGiB: 50, multiAZ: true, tags: { tier: 'a' } },
    limits: {
      engines: ['postgres'],
      instanceClasses: ['db.t3.micro', 'db.t3.small'],
      maxStorageGiB: 100,
    },
  },
};

/** The class with its spec changed by `edit`. */
const withSpec = (edit: Record<string, unknown>, base: ClassView = standard): ClassView => ({
  ...base,
  spec: { ...(base.spec as object), ...edit },
});

function resolvedUnder(spec: unknown, cls: ClassView): ResolvedDatabase {
  const result = resolveDatabase(object(spec), { class: cls });
  assert.ok(result.ok, result.ok ? '' : result.problems.join('; '));
  return result.database;
}

function problemsUnder(spec: unknown, cls: ClassView): readonly string[] {
  const result = resolveDatabase(object(spec), { class: cls });
  assert.equal(result.ok, false, 'expected the class to refuse the spec');
  return result.ok ? [] : result.problems;
}

describe('DatabaseClass resolution', () => {
  it("fills the class's defaults for what the spec leaves out, and counts them as stated", () => {
    const db = resolvedUnder({ engine: 'postgres' }, standard);
    assert.equal(db.instanceClass, 'db.t3.small');
    assert.equal(db.storageGiB, 50);
    assert.equal(db.multiAZ, true);
    assert.deepEqual(db.tags, { tier: 'a' });
    // stated: an adopted instance is brought to the class's values too
    assert.deepEqual([...db.stated].sort(), ['instanceClass', 'multiAZ', 'storageGiB']);
  });

  it('defaults the production fields too, each held to its own rules', () => {
    const production = withSpec({
      defaults: {
        storageType: 'gp3',
        backupRetentionDays: 14,
        maintenanceWindow: 'sun:03:00-sun:04:00',
        deletionProtection: true,
        parameters: { work_mem: '8192' },
      },
    });
    const db = resolvedUnder({ engine: 'postgres' }, production);
    assert.equal(db.storageType, 'gp3');
    assert.equal(db.backupRetentionDays, 14);
    assert.equal(db.maintenanceWindow, 'sun:03:00-sun:04:00');
    assert.deepEqual(db.parameters, { work_mem: '8192' });
    // a Database naming a group of its own gets no class parameters (the two exclude each other)
    const own = resolvedUnder({ engine: 'postgres', parameterGroup: 'tuned' }, production);
    assert.equal(own.parameterGroup, 'tuned');
    assert.equal(own.parameters, undefined);
    // a default the Database's own rules refuse is named by its field
    const bad = withSpec({ defaults: { storageType: 'io1' } });
    assert.ok(problemsUnder({ engine: 'postgres' }, bad).some((p) => /iops/.test(p)));
  });

  it("keeps the Database's own values within the limits (narrowing)", () => {
    const db = resolvedUnder(
      { engine: 'postgres', instanceClass: 'db.t3.micro', storageGiB: 30, multiAZ: false },
      standard,
    );
    assert.equal(db.instanceClass, 'db.t3.micro');
    assert.equal(db.storageGiB, 30);
    assert.equal(db.multiAZ, false);
  });

  it('records where the Database lives: region, account, credential names, never a key', () => {
    const db = resolvedUnder({ engine: 'postgres' }, standard);
    assert.deepEqual(db.aws, {
      className: 'standard',
      classGeneration: 4,
      region: 'eu-west-1',
      account: '123456789012',
      credentials: {
        secretName: 'aws-prod',
        roleArn: 'arn:aws:iam::123456789012:role/rdsflow',
        externalId: 'ext-1',
      },
    });
  });

  it('names every violation at once, by field, with the class', () => {
    const found = problemsUnder(
      { engine: 'mysql', instanceClass: 'db.m5.large', storageGiB: 500 },
      standard,
    );
    assert.deepEqual(found, [
      'spec.engine: "mysql" is not allowed by DatabaseClass standard (allowed: postgres)',
      'spec.instanceClass: "db.m5.large" is not allowed by DatabaseClass standard ' +
        '(allowed: db.t3.micro, db.t3.small)',
      "spec.storageGiB: 500 GiB exceeds DatabaseClass standard's maxStorageGiB 100",
    ]);
  });

  it('holds the storage autoscaling ceiling to maxStorageGiB too', () => {
    const found = problemsUnder({ engine: 'postgres', maxAllocatedStorage: 200 }, standard);
    assert.ok(
      found.includes(
        "spec.maxAllocatedStorage: 200 GiB exceeds DatabaseClass standard's maxStorageGiB 100",
      ),
      found.join('; '),
    );
  });

  it('holds the create default to the limits when neither the spec nor the class sets it', () => {
    const strict = withSpec({ defaults: {}, limits: { instanceClasses: ['db.r5.large'] } });
    assert.deepEqual(problemsUnder({ engine: 'postgres' }, strict), [
      'spec.instanceClass: "db.t3.micro" is not allowed by DatabaseClass standard (allowed: db.r5.large)',
    ]);
  });

  it('enforces the network and key: filled when left out, a different value is a violation', () => {
    const enforcing = withSpec({
      network: { subnetGroup: 'private', securityGroupIds: ['sg-0123abcd', 'sg-4567ef01'] },
      kmsKeyId: 'alias/rds',
      defaults: {},
      limits: {},
    });
    const found = problemsUnder(
      {
        engine: 'postgres',
        subnetGroup: 'public',
        securityGroupIds: ['sg-4567ef01', 'sg-0123abcd'],
        kmsKeyId: 'alias/other',
      },
      enforcing,
    );
    const violations = found.filter((p) => p.includes('enforces'));
    assert.deepEqual(violations, [
      'spec.subnetGroup: must be "private" or left out (DatabaseClass standard enforces it)',
      'spec.kmsKeyId: must be "alias/rds" or left out (DatabaseClass standard enforces it)',
    ]);
  });

  it('forces approval when the class requires it, whatever the spec says', () => {
    const approving = withSpec({ limits: { requireApproval: true } });
    const db = resolvedUnder({ engine: 'postgres', requireApproval: false }, approving);
    assert.equal(db.requireApproval, true);
  });

  it('refuses a class that does not hold to its own schema, naming it', () => {
    const broken = withSpec({ region: 'Europe' });
    const found = problemsUnder({ engine: 'postgres' }, broken);
    assert.match(
      found[0] ?? '',
      /^spec\.className: DatabaseClass standard is invalid \(spec\.region: /,
    );
  });

  it("resolves as before when there is no class: no target, the worker's own", () => {
    const result = resolveDatabase(object({ engine: 'postgres' }));
    assert.ok(result.ok);
    assert.equal(result.database.aws, undefined);
    assert.deepEqual(result.database.stated, []);
  });

  it('takes a missing class as a problem of the spec, naming it', () => {
    const result = resolveDatabase(object({ engine: 'postgres', className: 'gone' }), {
      problem: 'spec.className: DatabaseClass "gone" not found',
    });
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? [] : result.problems, [
      'spec.className: DatabaseClass "gone" not found',
    ]);
  });

  it('refuses to move an instance to another region or account on a later generation', () => {
    const before = resolvedUnder({ engine: 'postgres' }, standard);
    const after = resolvedUnder({ engine: 'postgres' }, withSpec({ region: 'us-east-1' }));
    assert.deepEqual(immutableChanges(before, after), [
      "the DatabaseClass's place (was region eu-west-1, account 123456789012, now region us-east-1, account 123456789012)",
    ]);
    const edited = resolvedUnder({ engine: 'postgres' }, { ...standard, generation: 5 });
    assert.deepEqual(immutableChanges(before, edited), []);
  });
});

describe('default DatabaseClass', () => {
  const plain = (name: string, isDefault?: string): ClassView => ({
    name,
    generation: 1,
    ...(isDefault !== undefined ? { annotations: { [DEFAULT_CLASS_ANNOTATION]: isDefault } } : {}),
    spec: { region: 'eu-west-1' },
  });

  it('is none when no class is marked', () => {
    assert.deepEqual(chooseDefaultClass([plain('a'), plain('b', 'false')]), {});
  });

  it('is the one class marked "true"', () => {
    const choice = chooseDefaultClass([plain('a'), plain('b', 'true')]);
    assert.equal(choice.problem, undefined);
    assert.equal('class' in choice ? choice.class?.name : undefined, 'b');
  });

  it('is an error naming both when two are marked', () => {
    const choice = chooseDefaultClass([plain('zeta', 'true'), plain('a'), plain('alpha', 'true')]);
    assert.match(choice.problem ?? '', /2 DatabaseClasses are marked .*: alpha, zeta/);
  });
});

describe('the DatabaseClass CRD', () => {
  it('is committed exactly as contracts/class-schema.ts generates it, cluster-scoped', async () => {
    const committed = readFileSync(CLASS_CRD_FILE, 'utf8');
    const generated = await renderCrd(
      databaseClassCrd(),
      committed.slice(0, committed.indexOf('apiVersion')),
    );
    assert.equal(crdDrift(committed, generated, CLASS_CRD_FILE), undefined);
    const spec = databaseClassCrd()['spec'] as {
      scope: string;
      versions: { additionalPrinterColumns: { name: string }[] }[];
    };
    assert.equal(spec.scope, 'Cluster');
    assert.deepEqual(
      spec.versions[0]?.additionalPrinterColumns.map((c) => c.name),
      ['Region', 'Default', 'Age'],
    );
  });
});
