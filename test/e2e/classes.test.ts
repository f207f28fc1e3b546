// DatabaseClass end to end, with the real worker and watcher on a cluster of this tree's own (the
// second cluster: this repository's CRDs and RBAC, the worker under its own service account): a
// Database exceeding its class's limits goes Failed naming each violation and the class, with no
// RDS call; one naming a class that does not exist goes Failed naming it; one within the class
// reaches Available with the class in its status, and is deleted from where it was made.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { DatabaseObject, Phase } from '../../contracts/database.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { getDatabase } from '../../kube/databases.js';
import { config, eventually, uniqueName } from '../support/env.js';
import { startWatcher, startWorker, type AppProcess } from '../support/processes.js';
import { motoInstance, stackFront } from '../support/rds.js';
import { startSecondCluster, type SecondCluster } from '../support/second-cluster.js';
import { LABEL } from '../support/watched.js';

const GROUP = { group: 'rdsflow.io', version: 'v1alpha1' } as const;
const CLASS = uniqueName('limited');

describe('DatabaseClass end to end', () => {
  let cluster: SecondCluster | undefined;
  let objects: CustomObjectsApi;
  let worker: AppProcess | undefined;
  let watcher: AppProcess | undefined;
  const id = uniqueName('cls');
  const logs = () => `${worker?.output() ?? ''}\n${watcher?.output() ?? ''}`;

  const create = (name: string, spec: Record<string, unknown>) =>
    objects.createNamespacedCustomObject({
      ...GROUP,
      plural: 'databases',
      namespace: 'default',
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'Database',
        metadata: { name, labels: { [LABEL]: id } },
        spec: { deletionPolicy: 'Delete', ...spec },
      },
    });

  const phaseOf = (name: string, phase: Phase, timeoutMs = 60_000): Promise<DatabaseObject> =>
    eventually(
      `phase ${phase} of ${name}`,
      async () => {
        const object = await getDatabase(objects, 'default', name);
        return object?.status?.phase === phase ? object : undefined;
      },
      timeoutMs,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${logs().split('\n').slice(-30).join('\n')}`);
    });

  before(async () => {
    cluster = await startSecondCluster();
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    objects = kc.makeApiClient(CustomObjectsApi);
    await objects.createClusterCustomObject({
      ...GROUP,
      plural: 'databaseclasses',
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'DatabaseClass',
        metadata: { name: CLASS },
        spec: {
          // the stack's region: the instance lands where the test's moto client looks
          region: config.aws.region,
          defaults: { storageGiB: 30, tags: { tier: 'limited' } },
          limits: { engines: ['postgres'], instanceClasses: ['db.t3.micro'], maxStorageGiB: 100 },
        },
      },
    });
    const common = {
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_NAMESPACE: config.temporal.namespace,
    };
    worker = await startWorker(id, { ...common, KUBECONFIG: cluster.workerKubeconfig });
    watcher = await startWatcher({
      taskQueue: id,
      selector: `${LABEL}=${id}`,
      env: { ...common, KUBECONFIG: cluster.watcherKubeconfig },
    });
  });

  after(async () => {
    await watcher?.stop();
    await worker?.stop();
    await cluster?.stop();
  });

  it('fails a Database beyond its class, naming each violation, with no RDS call', async () => {
    const name = `${id}-big`;
    await create(name, {
      engine: 'mysql',
      className: CLASS,
      instanceClass: 'db.m5.large',
      storageGiB: 500,
    });
    const failed = await phaseOf(name, 'Failed');
    const message = failed.status?.message ?? '';
    for (const field of ['spec.engine', 'spec.instanceClass', 'spec.storageGiB']) {
      assert.match(message, new RegExp(`${field}: .*DatabaseClass ${CLASS}`), message);
    }
    const identifier = rdsIdentifier('default', name);
    assert.equal(await motoInstance(identifier), undefined);
    const calls = (await stackFront().journal()).filter((e) =>
      JSON.stringify(e).includes(identifier),
    );
    assert.deepEqual(calls, [], 'no RDS call for it');
  });

  it('fails a Database naming a class that does not exist, naming it', async () => {
    const name = `${id}-lost`;
    await create(name, { engine: 'postgres', className: 'no-such-class' });
    const failed = await phaseOf(name, 'Failed');
    assert.match(
      failed.status?.message ?? '',
      /spec\.className: DatabaseClass "no-such-class" not found/,
    );
  });

  it('provisions a Database within its class with the class in its status, and deletes it', async () => {
    const name = `${id}-ok`;
    await create(name, { engine: 'postgres', className: CLASS });
    const available = await phaseOf(name, 'Available', 90_000);
    assert.deepEqual(available.status?.class, { name: CLASS, generation: 1 });
    const identifier = rdsIdentifier('default', name);
    const instance = await motoInstance(identifier);
    assert.equal(instance?.AllocatedStorage, 30, "the class's default storage");
    assert.ok(
      instance?.TagList?.some((t) => t.Key === 'tier' && t.Value === 'limited'),
      "the class's default tags",
    );
    await objects.deleteNamespacedCustomObject({
      ...GROUP,
      plural: 'databases',
      namespace: 'default',
      name,
    });
    await eventually(
      `${name} gone`,
      async () => ((await getDatabase(objects, 'default', name)) ? undefined : true),
      90_000,
    );
    await eventually(
      `${identifier} deleted`,
      async () =>
        (await motoInstance(identifier))?.DBInstanceStatus === undefined ? true : undefined,
      30_000,
    );
  });
});
