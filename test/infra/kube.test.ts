// Smoke: the real kube-apiserver serves the Database CRD to rdsflow's Kubernetes clients
// (client-node's generated APIs over kube/bounded.ts, and its watch): list it, create and watch a
// Database, see schema defaults and bounds applied, patch its status.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { kubeClientConfig } from '../../config/clients.js';
import { boundedApiClient, boundedWatch } from '../../kube/bounded.js';
import { TEST_LABEL, config, eventually, uniqueName } from '../support/env.js';
import { getDatabase, readObject, watchDatabases } from '../../kube/databases.js';

const kc = kubeClientConfig(config.kube);
const objects = boundedApiClient(kc, CustomObjectsApi, config.kube);
const ref = {
  group: 'rdsflow.io',
  version: 'v1alpha1',
  namespace: 'default',
  plural: 'databases',
} as const;

interface Received {
  type: string;
  name: string;
}

describe('kube-apiserver with the Database CRD', () => {
  const runLabel = uniqueName('smoke');
  const received: Received[] = [];
  let watch: AbortController | undefined;
  let watchEnded: unknown;
  const event = (type: string, name: string) =>
    eventually(`${type} event for ${name}`, () => {
      if (watchEnded !== undefined) throw new Error(`the watch ended: ${describeEnd(watchEnded)}`);
      return received.find((e) => e.type === type && e.name === name);
    });

  before(async () => {
    watch = await watchDatabases(
      boundedWatch(kc, config.kube),
      { namespace: ref.namespace, labelSelector: `rdsflow.io/test-run=${runLabel}` },
      { resourceVersion: '', timeoutSeconds: 300 },
      {
        event: (type, obj) =>
          received.push({ type, name: (obj as { metadata: { name: string } }).metadata.name }),
        done: (error: unknown) => (watchEnded = error ?? 'closed by the server'),
      },
      new AbortController().signal,
    );
  });

  after(() => {
    watchEnded = 'aborted';
    watch?.abort();
  });

  it('lists the CRD and reports it Established', async () => {
    const ext = boundedApiClient(kc, ApiextensionsV1Api, config.kube);
    const list = await ext.listCustomResourceDefinition();
    const crd = list.items.find((c) => c.metadata?.name === 'databases.rdsflow.io');
    assert.ok(crd, 'databases.rdsflow.io is not installed');
    assert.equal(crd.spec.names.kind, 'Database');
    assert.ok(crd.spec.versions.some((v) => v.name === 'v1alpha1' && v.subresources?.status));
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    assert.equal(established?.status, 'True');
  });

  it('tells a missing object from a resource not served: only the first is absence', async () => {
    const name = uniqueName('absent');
    assert.equal(await getDatabase(objects, 'default', name), undefined);
    assert.deepEqual(await readObject(objects, { namespace: 'default', name, uid: 'u' }), {
      state: 'gone',
    });
    // the same read where the resource is not served (a CRD not yet established after an
    // apiserver restart, a version being replaced): a bare 404 page, never "the object is gone"
    const unserved = {
      getNamespacedCustomObject: (p: Parameters<typeof objects.getNamespacedCustomObject>[0]) =>
        objects.getNamespacedCustomObject({ ...p, version: 'v9' }),
    };
    await assert.rejects(getDatabase(unserved, 'default', name), /404/);
  });

  it('creates a Database with schema defaults and delivers watch events for it', async () => {
    const name = uniqueName('orders');
    const created = (await objects.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'Database',
        metadata: { name, labels: { 'rdsflow.io/test-run': runLabel, [TEST_LABEL]: 'true' } },
        spec: { engine: 'postgres', tags: { team: 'shop' } },
      },
    })) as { metadata: { uid: string }; spec: Record<string, unknown> };
    assert.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      {
        instanceClass: created.spec['instanceClass'],
        storageGiB: created.spec['storageGiB'],
        masterUsername: created.spec['masterUsername'],
        deletionPolicy: created.spec['deletionPolicy'],
        multiAZ: created.spec['multiAZ'],
        requireApproval: created.spec['requireApproval'],
      },
      {
        // no schema default for what an adopted instance has already: an unstated class,
        // storage or Multi-AZ is not a change to make (the workflow fills them at creation)
        instanceClass: undefined,
        storageGiB: undefined,
        masterUsername: 'app',
        deletionPolicy: 'Snapshot',
        multiAZ: undefined,
        requireApproval: false,
      },
    );
    await event('ADDED', name);

    const patched = (await objects.patchNamespacedCustomObjectStatus(
      { ...ref, name, body: { status: { phase: 'Pending', message: 'accepted' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { status: { phase: string } };
    assert.equal(patched.status.phase, 'Pending');
    await event('MODIFIED', name);

    await objects.deleteNamespacedCustomObject({ ...ref, name });
    await event('DELETED', name);
  });

  it('rejects a spec outside the schema bounds, naming the field', async () => {
    const error = await objects
      .createNamespacedCustomObject({
        ...ref,
        body: {
          apiVersion: 'rdsflow.io/v1alpha1',
          kind: 'Database',
          metadata: { name: uniqueName('tiny'), labels: { [TEST_LABEL]: 'true' } },
          spec: { engine: 'oracle', storageGiB: 5 },
        },
      })
      .then(
        () => assert.fail('the apiserver accepted an invalid Database'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof ApiException, `unexpected error ${String(error)}`);
    assert.equal(error.code, 422);
    assert.match(String(error.body), /spec\.engine/);
    assert.match(String(error.body), /spec\.storageGiB/);
  });
});

function describeEnd(reason: unknown): string {
  return reason instanceof Error
    ? reason.message
    : typeof reason === 'string'
      ? reason
      : JSON.stringify(reason);
}
