// Vault, Consul and Kubernetes-status activities against the real OpenBao, Consul and
// kube-apiserver, including outages and refusals.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { CoreV1Api, CustomObjectsApi, KubeConfig, type User } from '@kubernetes/client-node';
import Consul from 'consul';
import { createConsulActivities } from '../../activities/consul.js';
import { createKubeStatusActivities } from '../../activities/kube-status.js';
import { createVaultActivities } from '../../activities/vault.js';
import { consulClient, kubeClientConfig, vaultClient } from '../../config/clients.js';
import { boundedApiClient } from '../../kube/bounded.js';
import { API_GROUP, API_VERSION, PLURAL, type DatabaseObject } from '../../contracts/database.js';
import { FINALIZER } from '../../contracts/names.js';
import { mergePatch, writeStatus } from '../../kube/databases.js';
import { resolveDatabase, type ResolvedDatabase } from '../../contracts/spec.js';
import { FAILURE } from '../../contracts/workflow.js';
import { failureOf, run } from '../support/activity.js';
import { TEST_LABEL, config, uniqueName } from '../support/env.js';

function database(uid = randomUUID(), name = uniqueName('store')): ResolvedDatabase {
  const result = resolveDatabase({
    metadata: { namespace: 'stores', name, uid, generation: 1 },
    spec: { engine: 'mysql' },
  });
  assert.ok(result.ok);
  return result.database;
}

const vault = vaultClient(config.vault);
const vaultActivities = createVaultActivities({ vault, mount: 'secret' });
const consul = consulClient(config.consul);
const consulActivities = createConsulActivities({ consul });
const endpoint = { host: 'db.internal.example', port: 3306 };

after(() => consul.destroy());

describe('Vault activities', () => {
  const read = async (db: ResolvedDatabase) =>
    (
      (await vault.read(`secret/data/${db.vaultPath}`)) as {
        data: { data: Record<string, string> };
      }
    ).data.data;

  it('generates the master password once, then leaves it alone', async () => {
    const db = database();
    assert.deepEqual(await run(vaultActivities.ensureMasterPassword, db), {
      created: true,
      vaultPath: `secret/${db.vaultPath}`,
    });
    const first = (await read(db))['password'];
    assert.match(first ?? '', /^[A-Za-z0-9]{32}$/);
    assert.equal((await run(vaultActivities.ensureMasterPassword, db)).created, false);
    assert.equal((await read(db))['password'], first);
  });

  it('completes the secret with the endpoint and a URL, keeping the password', async () => {
    const db = database();
    await run(vaultActivities.ensureMasterPassword, db);
    const password = (await read(db))['password'] ?? '';
    const result = await run(vaultActivities.writeDbSecret, db, endpoint);
    assert.ok(
      !JSON.stringify(result).includes(password),
      'the activity result carries the password',
    );
    assert.deepEqual(await read(db), {
      username: 'app',
      password,
      engine: 'mysql',
      dbname: db.databaseName,
      host: endpoint.host,
      port: '3306',
      url: `mysql://app:${password}@${endpoint.host}:3306/${db.databaseName}`,
    });
  });

  it('deletes every version, and a second delete is harmless', async () => {
    const db = database();
    await run(vaultActivities.ensureMasterPassword, db);
    await run(vaultActivities.deleteDbSecret, db);
    await assert.rejects(vault.read(`secret/data/${db.vaultPath}`));
    await run(vaultActivities.deleteDbSecret, db);
  });

  const metadata = async (db: ResolvedDatabase) =>
    (
      (await vault.read(`secret/metadata/${db.vaultPath}`)) as {
        data: { custom_metadata: Record<string, string> | null };
      }
    ).data.custom_metadata ?? {};

  it('marks the secret with the UID that wrote it and which password it is', async () => {
    const db = database();
    await run(vaultActivities.ensureMasterPassword, db);
    const marks = await metadata(db);
    assert.equal(marks['rdsflow-uid'], db.ref.uid);
    assert.match(marks['rdsflow-credential-id'] ?? '', /^[0-9a-f]{16}$/);
  });

  it("never overwrites, completes or removes another object's secret at its path", async () => {
    const owner = database();
    await run(vaultActivities.ensureMasterPassword, owner);
    await run(vaultActivities.writeDbSecret, owner, endpoint);
    const before = await read(owner);
    assert.match(before['password'] ?? '', /^[A-Za-z0-9]{32}$/);
    // a later object of the same namespace/name (another UID)
    const later = database(randomUUID(), owner.ref.name);
    const ensured = await failureOf(run(vaultActivities.ensureMasterPassword, later));
    assert.equal(ensured.type, FAILURE.entryNotOurs);
    assert.equal(ensured.nonRetryable, true);
    assert.match(ensured.message, new RegExp(`written for the Database with uid ${owner.ref.uid}`));
    const written = await failureOf(run(vaultActivities.writeDbSecret, later, endpoint));
    assert.equal(written.type, FAILURE.entryNotOurs);
    assert.deepEqual(await run(vaultActivities.deleteDbSecret, later), {
      removed: false,
      owner: owner.ref.uid,
    });
    assert.deepEqual(await run(vaultActivities.retainDbSecret, later), { retained: false });
    assert.deepEqual(await read(owner), before);
    assert.equal((await metadata(owner))['rdsflow-uid'], owner.ref.uid);
  });

  it('lets a later object take over retained credentials only when it opts in', async () => {
    const owner = database();
    await run(vaultActivities.ensureMasterPassword, owner);
    const kept = (await read(owner))['password'];
    // not retained: even an opt-in does not take it
    const eager = database(randomUUID(), owner.ref.name);
    const notRetained = await failureOf(
      run(vaultActivities.ensureMasterPassword, { ...eager, adoptRetained: true }),
    );
    assert.equal(notRetained.type, FAILURE.entryNotOurs);
    assert.deepEqual(await run(vaultActivities.retainDbSecret, owner), { retained: true });
    assert.equal((await metadata(owner))['rdsflow-retained'], 'true');
    const refused = await failureOf(run(vaultActivities.ensureMasterPassword, eager));
    assert.match(refused.message, /set spec.adoptRetained: true/);
    assert.equal((await read(owner))['password'], kept);

    const adopter = { ...eager, adoptRetained: true };
    assert.equal((await run(vaultActivities.ensureMasterPassword, adopter)).created, true);
    assert.notEqual((await read(adopter))['password'], kept);
    const marks = await metadata(adopter);
    assert.equal(marks['rdsflow-uid'], adopter.ref.uid);
    assert.equal(marks['rdsflow-retained'], undefined);
  });

  it('treats an unreachable Vault as transient', async () => {
    const down = createVaultActivities({
      vault: vaultClient({ address: 'http://127.0.0.1:1', token: 'x' }),
      mount: 'secret',
    });
    const failure = await failureOf(run(down.ensureMasterPassword, database()));
    assert.equal(failure.type, FAILURE.transient);
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /Vault unavailable/);
  });

  it('treats a refused token as a clear non-retryable failure, without echoing it', async () => {
    const token = randomBytes(12).toString('hex');
    const refused = createVaultActivities({
      vault: vaultClient({ address: config.vault.address, token }),
      mount: 'secret',
    });
    const failure = await failureOf(run(refused.ensureMasterPassword, database()));
    assert.equal(failure.type, FAILURE.permissionDenied);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /Vault refused the worker's credentials: HTTP 403/);
    assert.match(failure.message, /Grant the worker's Vault token/);
    assert.ok(!failure.message.includes(token));
  });
});

describe('Consul activities', () => {
  it('publishes the endpoint (never a password) and an external service, then removes both', async () => {
    const db = database();
    await run(consulActivities.publishToConsul, db, endpoint);
    const keys = (await consul.kv.keys(`${db.consulKey}/`)).sort();
    assert.deepEqual(
      keys,
      ['dbname', 'engine', 'host', 'port', 'rdsflow-uid'].map((k) => `${db.consulKey}/${k}`),
    );
    assert.equal((await consul.kv.get(`${db.consulKey}/rdsflow-uid`))?.Value, db.ref.uid);
    assert.equal((await consul.kv.get(`${db.consulKey}/port`))?.Value, '3306');
    const nodes = (await consul.catalog.service.nodes(db.dbInstanceIdentifier)) as {
      ServiceAddress: string;
      ServicePort: number;
      ServiceMeta: Record<string, string>;
    }[];
    assert.equal(nodes[0]?.ServiceAddress, endpoint.host);
    assert.equal(nodes[0]?.ServiceMeta['uid'], db.ref.uid);

    await run(consulActivities.removeFromConsul, db);
    assert.equal(await consul.kv.get(`${db.consulKey}/host`), undefined);
    assert.deepEqual(await consul.catalog.service.nodes(db.dbInstanceIdentifier), []);
  });

  it("never deletes a neighbour's keys", async () => {
    const db = database(randomUUID(), 'orders');
    const neighbour = database(randomUUID(), 'orders-v2');
    await run(consulActivities.publishToConsul, db, endpoint);
    await run(consulActivities.publishToConsul, neighbour, endpoint);
    await run(consulActivities.removeFromConsul, db);
    assert.equal((await consul.kv.get(`${neighbour.consulKey}/host`))?.Value, endpoint.host);
    await run(consulActivities.removeFromConsul, neighbour);
  });

  it("never overwrites or removes another object's keys and service", async () => {
    const owner = database();
    await run(consulActivities.publishToConsul, owner, endpoint);
    const later = database(randomUUID(), owner.ref.name);
    const refused = await failureOf(
      run(consulActivities.publishToConsul, later, { host: 'elsewhere', port: 1 }),
    );
    assert.equal(refused.type, FAILURE.entryNotOurs);
    assert.deepEqual(await run(consulActivities.removeFromConsul, later), {
      removed: false,
      owner: owner.ref.uid,
    });
    assert.equal((await consul.kv.get(`${owner.consulKey}/host`))?.Value, endpoint.host);
    const nodes = (await consul.catalog.service.nodes(owner.dbInstanceIdentifier)) as {
      ServiceMeta: Record<string, string>;
    }[];
    assert.equal(nodes[0]?.ServiceMeta['uid'], owner.ref.uid);
    await run(consulActivities.removeFromConsul, owner);
    assert.equal(await consul.kv.get(`${owner.consulKey}/host`), undefined);
  });

  it('treats an unreachable Consul as transient', async () => {
    const down = createConsulActivities({ consul: new Consul({ host: '127.0.0.1', port: 1 }) });
    const failure = await failureOf(run(down.publishToConsul, database(), endpoint));
    assert.equal(failure.type, FAILURE.transient);
  });
});

describe('Kubernetes status activities', () => {
  const kube = boundedApiClient(kubeClientConfig(config.kube), CustomObjectsApi, config.kube);
  const ref = { group: API_GROUP, version: API_VERSION, namespace: 'default', plural: PLURAL };
  let clock = new Date('2026-01-01T00:00:00Z');
  const events = boundedApiClient(kubeClientConfig(config.kube), CoreV1Api, config.kube);
  const activities = createKubeStatusActivities({ kube, events, now: () => clock });

  async function create(): Promise<DatabaseObject> {
    return (await kube.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: 'Database',
        metadata: { name: uniqueName('status'), labels: { [TEST_LABEL]: 'true' } },
        spec: { engine: 'postgres' },
      },
    })) as DatabaseObject;
  }
  const get = async (name: string) =>
    (await kube.getNamespacedCustomObject({ ...ref, name })) as DatabaseObject;
  const idOf = (o: DatabaseObject) => ({
    namespace: 'default',
    name: o.metadata.name,
    uid: o.metadata.uid,
  });

  it('writes phase and a Ready condition whose transition time moves only when Ready flips', async () => {
    const object = await create();
    await run(activities.reportStatus, idOf(object), {
      phase: 'Provisioning',
      message: 'creating',
      observedGeneration: 1,
    });
    let status = (await get(object.metadata.name)).status;
    assert.equal(status?.phase, 'Provisioning');
    assert.deepEqual(status?.conditions, [
      {
        type: 'Ready',
        status: 'False',
        reason: 'Provisioning',
        message: 'creating',
        lastTransitionTime: '2026-01-01T00:00:00.000Z',
        observedGeneration: 1,
      },
    ]);
    clock = new Date('2026-01-01T00:05:00Z');
    await run(activities.reportStatus, idOf(object), {
      phase: 'Available',
      message: 'up',
      observedGeneration: 1,
      endpoint,
      vaultPath: 'secret/x',
      consulKey: 'rdsflow/x',
    });
    status = (await get(object.metadata.name)).status;
    assert.equal(status?.conditions?.[0]?.lastTransitionTime, '2026-01-01T00:05:00.000Z');
    assert.deepEqual(status?.secretRef, { vaultPath: 'secret/x' });
    clock = new Date('2026-01-01T00:09:00Z');
    await run(activities.reportStatus, idOf(object), {
      phase: 'Available',
      message: 'still up',
      observedGeneration: 1,
    });
    status = (await get(object.metadata.name)).status;
    assert.equal(status?.conditions?.[0]?.lastTransitionTime, '2026-01-01T00:05:00.000Z');
    await kube.deleteNamespacedCustomObject({ ...ref, name: object.metadata.name });
  });

  it('writes a dropped status again only while nothing newer stands (a rejection of a later edit stays)', async () => {
    const object = await create();
    // the watcher rejected generation 2 while the worker's Available of generation 1 was dropped
    await run(activities.reportStatus, idOf(object), {
      phase: 'Failed',
      message: 'invalid spec: storageGiB must be at least 20',
      reason: 'InvalidSpec',
      observedGeneration: 2,
    });
    const available = { phase: 'Available', message: 'up', observedGeneration: 1 } as const;
    await run(activities.reportStatus, idOf(object), { ...available, rewrite: true });
    let status = (await get(object.metadata.name)).status;
    assert.equal(status?.phase, 'Failed');
    assert.equal(status?.observedGeneration, 2);
    // nothing newer: the rewrite lands
    await run(activities.reportStatus, idOf(object), { ...available, observedGeneration: 2 });
    await run(activities.reportStatus, idOf(object), {
      phase: 'Available',
      message: 'up again',
      observedGeneration: 2,
      rewrite: true,
    });
    status = (await get(object.metadata.name)).status;
    assert.equal(status?.message, 'up again');
    await kube.deleteNamespacedCustomObject({ ...ref, name: object.metadata.name });
  });

  it("never loses a concurrent writer's fields: a write computed from a stale object is redone", async () => {
    const object = await create();
    let raced = false;
    // another writer (the watcher, say) adds its own condition between our read and our write
    const racing: typeof kube = Object.create(kube) as typeof kube;
    racing.patchNamespacedCustomObjectStatus = async (...args) => {
      if (!raced) {
        raced = true;
        await kube.patchNamespacedCustomObjectStatus(
          {
            ...ref,
            name: object.metadata.name,
            body: {
              status: {
                conditions: [
                  {
                    type: 'Reconciled',
                    status: 'True',
                    reason: 'Other',
                    lastTransitionTime: '2026-01-01T00:00:00Z',
                  },
                ],
              },
            },
          },
          mergePatch,
        );
      }
      return (await kube.patchNamespacedCustomObjectStatus(...args)) as object;
    };
    assert.equal(
      await writeStatus(racing, idOf(object), { phase: 'Provisioning', message: 'x' }, clock),
      true,
    );
    const status = (await get(object.metadata.name)).status;
    assert.deepEqual(status?.conditions?.map((c) => c.type).sort(), ['Ready', 'Reconciled']);
    assert.equal(status?.phase, 'Provisioning');
    await kube.deleteNamespacedCustomObject({ ...ref, name: object.metadata.name });
  });

  it('never writes to a recreated object of the same name (another UID)', async () => {
    const object = await create();
    const stale = { ...idOf(object), uid: randomUUID() };
    assert.deepEqual(await run(activities.reportStatus, stale, { phase: 'Failed', message: 'x' }), {
      written: false,
    });
    assert.equal((await get(object.metadata.name)).status, undefined);
    assert.deepEqual(
      await run(
        activities.reportStatus,
        { ...stale, name: uniqueName('gone') },
        { phase: 'Failed', message: 'x' },
      ),
      { written: false },
    );
    await kube.deleteNamespacedCustomObject({ ...ref, name: object.metadata.name });
  });

  it('records Events on an object with the longest name Kubernetes allows', async () => {
    const name = `${'a'.repeat(240)}-${randomBytes(6).toString('hex')}`;
    assert.equal(name.length, 253);
    const object = (await kube.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: 'Database',
        metadata: { name, labels: { [TEST_LABEL]: 'true' } },
        spec: { engine: 'postgres' },
      },
    })) as DatabaseObject;
    assert.deepEqual(
      await run(activities.recordEvent, idOf(object), {
        type: 'Warning',
        reason: 'InstanceNotOurs',
        message: 'left untouched',
      }),
      { recorded: true },
    );
    const listed = await events.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.uid=${object.metadata.uid}`,
    });
    assert.deepEqual(
      listed.items.map((e) => [e.type, e.reason, e.message]),
      [['Warning', 'InstanceNotOurs', 'left untouched']],
    );
    await kube.deleteNamespacedCustomObject({ ...ref, name });
  });

  /** The stack's apiserver, as `user` (the current user, changed as given). */
  function as(user: Partial<User>) {
    const admin = kubeClientConfig(config.kube);
    const cluster = admin.getCurrentCluster();
    const current = admin.getCurrentUser();
    assert.ok(cluster && current);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ ...current, ...user, name: 'test' }],
      contexts: [{ name: 'test', cluster: cluster.name, user: 'test' }],
      currentContext: 'test',
    });
    return createKubeStatusActivities({
      kube: boundedApiClient(kc, CustomObjectsApi, config.kube),
      events: boundedApiClient(kc, CoreV1Api, config.kube),
    });
  }

  it("says Kubernetes refused the worker's credentials (401, 403), and what to grant, never Vault or Consul", async () => {
    const object = await create();
    const update = { phase: 'Provisioning', message: 'creating', observedGeneration: 1 } as const;
    const token = randomBytes(16).toString('hex');
    // a token the apiserver does not know (401), and a user it knows without any RBAC (403)
    const strangers = [{ token }, { impersonateUser: 'rdsflow-test-nobody' }];
    for (const [i, stranger] of strangers.entries()) {
      const failure = await failureOf(run(as(stranger).reportStatus, idOf(object), update));
      assert.equal(failure.type, FAILURE.permissionDenied);
      assert.equal(failure.nonRetryable, true);
      assert.match(
        failure.message,
        new RegExp(`Kubernetes refused the worker's credentials: HTTP ${401 + 2 * i}`),
      );
      assert.match(failure.message, /ServiceAccount/);
      assert.doesNotMatch(failure.message, /Vault|Consul/);
      assert.ok(!failure.message.includes(token));
    }
    assert.match(
      (await failureOf(run(as(strangers[1]!).reportStatus, idOf(object), update))).message,
      /User "rdsflow-test-nobody" cannot get resource "databases" in API group "rdsflow.io"/,
    );
    assert.equal((await get(object.metadata.name)).status, undefined);
    await kube.deleteNamespacedCustomObject({ ...ref, name: object.metadata.name });
  });

  it('adds the finalizer once and releases it, letting a deleted object go', async () => {
    const object = await create();
    assert.deepEqual(await run(activities.ensureFinalizer, idOf(object)), { present: true });
    assert.deepEqual(await run(activities.ensureFinalizer, idOf(object)), { present: true });
    assert.deepEqual((await get(object.metadata.name)).metadata.finalizers, [FINALIZER]);
    await kube.deleteNamespacedCustomObject({ ...ref, name: object.metadata.name });
    assert.ok((await get(object.metadata.name)).metadata.deletionTimestamp);
    assert.deepEqual(await run(activities.releaseFinalizer, idOf(object)), { released: true });
    await assert.rejects(get(object.metadata.name));
  });
});
