// DatabaseClasses with real servers: two classes in two regions, one whose AWS keys are a
// Kubernetes Secret's (read from the apiserver), one that assumes a role in another account
// through STS; each Database's instance lands in its class's region under its class's account
// (checked in moto itself) and is deleted from there. A class whose credentials are not the
// account it names is refused before any RDS call. The worker's own client set per target.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { CoreV1Api } from '@kubernetes/client-node';
import { createRdsActivities, type RdsClients } from '../../activities/rds.js';
import { createVaultActivities, vaultCredentials } from '../../activities/vault.js';
import { AwsTargets } from '../../config/aws-targets.js';
import { awsLocation, kubeClientConfig, vaultClient } from '../../config/clients.js';
import type { ClassView } from '../../contracts/class.js';
import { finalSnapshotIdentifier } from '../../contracts/names.js';
import { resolveDatabase, type ResolvedDatabase } from '../../contracts/spec.js';
import { FAILURE } from '../../contracts/workflow.js';
import { INSTANT, startRdsFront, type RdsFront } from '../../infra/rds-front.js';
import { readAwsKeys } from '../../kube/classes.js';
import { failureOf, run } from '../support/activity.js';
import { TEST_LABEL, config, tools, uniqueName } from '../support/env.js';
import { motoInstance } from '../support/rds.js';

const NAMESPACE = 'default';
/** moto's account for keys it did not issue; an assumed role's credentials are the role's */
const KEYS_ACCOUNT = '123456789012';
const ROLE_ACCOUNT = '210987654321';

const core = kubeClientConfig(config.kube).makeApiClient(CoreV1Api);
const vaultDeps = { vault: vaultClient(config.vault), mount: 'secret' };
const vault = createVaultActivities(vaultDeps);
const secretName = uniqueName('aws-keys');
let front: RdsFront;
let targets: AwsTargets;

const keysClass: ClassView = {
  name: uniqueName('keys'),
  generation: 1,
  spec: {
    region: 'eu-west-2',
    account: KEYS_ACCOUNT,
    credentials: { secretRef: { name: secretName } },
  },
};
const roleClass: ClassView = {
  name: uniqueName('role'),
  generation: 1,
  spec: {
    region: 'us-west-2',
    account: ROLE_ACCOUNT,
    credentials: {
      assumeRole: { roleArn: `arn:aws:iam::${ROLE_ACCOUNT}:role/rdsflow`, externalId: 'ext-1' },
    },
  },
};

function database(cls: ClassView): ResolvedDatabase {
  const result = resolveDatabase(
    {
      metadata: { namespace: 'classes', name: uniqueName('cls'), uid: randomUUID(), generation: 1 },
      spec: { engine: 'postgres', className: cls.name },
    },
    { class: cls },
  );
  assert.ok(result.ok, result.ok ? '' : result.problems.join('; '));
  return result.database;
}

function activities() {
  return createRdsActivities({
    ...targets.clientsFor(undefined),
    clientsFor: (target): RdsClients => targets.clientsFor(target),
    timing: { pollIntervalMs: 100, pollWindowMs: 10_000 },
    credentials: vaultCredentials(vaultDeps),
    objects: { policy: () => Promise.resolve(undefined) },
  });
}

const keysCredentials = () => readAwsKeys(core, NAMESPACE, secretName);
const roleCredentials = fromTemporaryCredentials({
  params: { RoleArn: `arn:aws:iam::${ROLE_ACCOUNT}:role/rdsflow`, RoleSessionName: 'test' },
  clientConfig: { region: 'us-west-2', endpoint: tools.motoUrl },
});

before(async () => {
  front = await startRdsFront({ target: tools.motoUrl, timings: INSTANT });
  await core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: { name: secretName, labels: { [TEST_LABEL]: 'classes' } },
      stringData: {
        AWS_ACCESS_KEY_ID: `AKIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`,
        AWS_SECRET_ACCESS_KEY: randomUUID(),
      },
    },
  });
  targets = new AwsTargets(
    { region: config.aws.region, rdsEndpoint: front.url, stsEndpoint: tools.motoUrl },
    { readSecret: (name) => readAwsKeys(core, NAMESPACE, name) },
  );
});

after(async () => {
  targets?.destroy();
  await front?.close();
  await core.deleteNamespacedSecret({ namespace: NAMESPACE, name: secretName }).catch(() => {});
});

describe('DatabaseClass targets', () => {
  for (const [cls, account, credentials] of [
    [keysClass, KEYS_ACCOUNT, keysCredentials],
    [roleClass, ROLE_ACCOUNT, roleCredentials],
  ] as const) {
    const { region } = cls.spec as { region: string };
    it(`creates in ${region} under account ${account} and deletes from there (${cls.name.split('-')[0]})`, async () => {
      const db = database(cls);
      await run(vault.ensureMasterPassword, db);
      await run(activities().createDbInstance, db);
      const available = await run(activities().waitUntilAvailable, db);
      const [, , , arnRegion, arnAccount] = (available.arn ?? '').split(':');
      assert.deepEqual([arnRegion, arnAccount], [region, account]);
      const there = await motoInstance(db.dbInstanceIdentifier, { region, credentials });
      assert.equal(
        there?.DBInstanceArn,
        available.arn,
        'moto has it in the class region and account',
      );
      assert.equal(
        await motoInstance(db.dbInstanceIdentifier, { region: config.aws.region }),
        undefined,
        "nothing in the worker's own region",
      );
      const removed = await run(activities().deleteDbInstance, {
        names: db,
        policy: 'Delete',
        finalSnapshot: finalSnapshotIdentifier(db.dbInstanceIdentifier, randomUUID()),
        ...(available.arn ? { expectedArn: available.arn } : {}),
      });
      assert.equal(removed.state, 'deleting');
      await run(activities().waitUntilDeleted, { names: db });
      assert.equal(await motoInstance(db.dbInstanceIdentifier, { region, credentials }), undefined);
      await run(vault.deleteDbSecret, db);
    });
  }

  it('asks STS again when the keys change: a rotated Secret of another account is that account', async () => {
    const assumed = fromTemporaryCredentials({
      params: { RoleArn: `arn:aws:iam::${ROLE_ACCOUNT}:role/rdsflow`, RoleSessionName: 'rotation' },
      clientConfig: { region: 'eu-west-2', endpoint: tools.motoUrl },
    });
    const keys = [{ accessKeyId: 'moto', secretAccessKey: 'moto' }, await assumed()];
    let current = keys[0];
    const where = awsLocation(config.aws, {
      region: 'eu-west-2',
      // as the worker's Secret provider does: keys with an expiration, so the SDK asks again
      credentials: () =>
        Promise.resolve({
          ...(current ?? { accessKeyId: '', secretAccessKey: '' }),
          expiration: new Date(),
        }),
    });
    try {
      assert.equal((await where.location()).account, KEYS_ACCOUNT);
      current = keys[1];
      assert.equal((await where.location()).account, ROLE_ACCOUNT);
    } finally {
      where.destroy();
    }
  });

  it('keeps one client set per target', () => {
    const before = targets.size;
    targets.clientsFor(database(keysClass).aws);
    targets.clientsFor(database({ ...keysClass, generation: 2 }).aws);
    assert.equal(targets.size, before, 'a new generation of a class is the same target');
  });

  it('names a Secret it cannot read, never a key, and makes no RDS call', async () => {
    const missing: ClassView = {
      ...keysClass,
      name: uniqueName('nosecret'),
      spec: { region: 'ap-south-1', credentials: { secretRef: { name: 'no-such-secret' } } },
    };
    const db = database(missing);
    await run(vault.ensureMasterPassword, db);
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.match(
      failure.message,
      /the AWS keys of Secret no-such-secret could not be read \(HTTP 404\)/,
    );
    assert.equal(failure.nonRetryable, false, 'a Secret created meanwhile is read on a retry');
    assert.equal(await motoInstance(db.dbInstanceIdentifier, { region: 'ap-south-1' }), undefined);
    await run(vault.deleteDbSecret, db);
  });

  it('refuses a class whose credentials are another account, before any RDS call', async () => {
    const wrong: ClassView = {
      ...keysClass,
      name: uniqueName('wrong'),
      spec: { ...(keysClass.spec as object), region: 'ap-south-1', account: '999999999999' },
    };
    const db = database(wrong);
    await run(vault.ensureMasterPassword, db);
    const failure = await failureOf(run(activities().createDbInstance, db));
    assert.equal(failure.type, FAILURE.permissionDenied);
    assert.match(
      failure.message,
      /account 999999999999, but its credentials are account 123456789012/,
    );
    assert.equal(
      await motoInstance(db.dbInstanceIdentifier, {
        region: 'ap-south-1',
        credentials: keysCredentials,
      }),
      undefined,
    );
    const journal = await front.journal();
    assert.deepEqual(
      journal.filter((e) => JSON.stringify(e).includes(db.dbInstanceIdentifier)),
      [],
      'no RDS call for it reached the front',
    );
    await run(vault.deleteDbSecret, db);
  });
});
