// End to end, parameters and restores: Databases applied to a cluster of the test's own (its CRD
// this checkout's deploy/crds, so the fields it adds are served), run by the real worker and
// watcher against moto behind an RDS front of the test's own (this checkout's, so the rules it
// models are the ones this code meets: static parameters wait for a reboot). A Database's parameters become a group in
// moto, change with the spec and go with the Database; its final snapshot restores as a new
// Database of the same namespace, opened by the password in Vault; another namespace's
// Database may not restore it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import {
  DescribeDBParameterGroupsCommand,
  DescribeDBParametersCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RebootDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { connectTemporal, vaultClient } from '../../config/clients.js';
import {
  API_GROUP,
  API_VERSION,
  PLURAL,
  type DatabaseObject,
  type Phase,
} from '../../contracts/database.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { workflowIdFor } from '../../contracts/names.js';
import { retrySignal, type DatabaseWorkflowResult } from '../../contracts/workflow.js';
import { mergePatch } from '../../kube/databases.js';
import { TEST_LABEL, config, eventually, tools, uniqueName } from '../support/env.js';
import { startWatcher, startWorker, type AppProcess } from '../support/processes.js';
import { moto, motoInstance, tagMap } from '../support/rds.js';
import { startSecondCluster, type SecondCluster } from '../support/second-cluster.js';
import { INSTANT, startRdsFront, type RdsFront } from '../../infra/rds-front.js';

const vault = vaultClient(config.vault);
const id = uniqueName('params');
const selector = `${TEST_LABEL}=${id}`;

let cluster: SecondCluster;
let objects: CustomObjectsApi;
let worker: AppProcess;
let watcher: AppProcess;
let client: Client;
let front: RdsFront;

function kubectl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tools.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args], (error, out, err) =>
      error ? reject(new Error(`kubectl ${args.join(' ')}: ${err}`)) : resolve(out),
    );
  });
}

const at = (namespace: string, name: string) => ({
  group: API_GROUP,
  version: API_VERSION,
  plural: PLURAL,
  namespace,
  name,
});

async function apply(namespace: string, name: string, spec: object): Promise<DatabaseObject> {
  return (await objects.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    plural: PLURAL,
    namespace,
    body: {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: 'Database',
      metadata: { name, namespace, labels: { [TEST_LABEL]: id } },
      spec,
    },
  })) as DatabaseObject;
}

async function read(namespace: string, name: string): Promise<DatabaseObject | undefined> {
  try {
    return (await objects.getNamespacedCustomObject(at(namespace, name))) as DatabaseObject;
  } catch (error: unknown) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

/** The object once its status says `phase` for `generation` (or any, when absent). */
function phaseOf(namespace: string, name: string, phase: Phase, generation?: number) {
  return eventually(
    `${namespace}/${name} ${phase}${generation ? ` at generation ${generation}` : ''}`,
    async () => {
      const object = await read(namespace, name);
      const status = object?.status;
      if (status?.phase === 'Failed' && phase !== 'Failed')
        throw new Error(`${name} Failed: ${status.message ?? ''}\n${worker.output().slice(-3000)}`);
      const current = generation === undefined || status?.observedGeneration === generation;
      return status?.phase === phase && current ? object : undefined;
    },
    90_000,
  );
}

async function groupParameters(group: string): Promise<Record<string, string | undefined>> {
  const out = await moto.send(new DescribeDBParametersCommand({ DBParameterGroupName: group }));
  return Object.fromEntries(
    (out.Parameters ?? []).map((p) => [p.ParameterName ?? '', p.ParameterValue]),
  );
}

async function groupExists(group: string): Promise<boolean> {
  const out = await moto.send(new DescribeDBParameterGroupsCommand({}));
  return (out.DBParameterGroups ?? []).some((g) => g.DBParameterGroupName === group);
}

/** Deletes the object and waits until it is gone (its finalizer released). */
async function deleteObject(namespace: string, name: string): Promise<void> {
  await objects.deleteNamespacedCustomObject(at(namespace, name));
  await eventually(
    `${namespace}/${name} gone`,
    async () => ((await read(namespace, name)) ? undefined : true),
    90_000,
  );
}

before(async () => {
  cluster = await startSecondCluster();
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  objects = kc.makeApiClient(CustomObjectsApi);
  await kubectl(['create', 'namespace', 'shop']);
  await kubectl(['create', 'namespace', 'other']);
  client = await connectTemporal(config.temporal);
  front = await startRdsFront({ target: tools.motoUrl, timings: INSTANT });
  const env = { TEMPORAL_ADDRESS: config.temporal.address, AWS_ENDPOINT_URL_RDS: front.url };
  worker = await startWorker(id, { ...env, KUBECONFIG: cluster.workerKubeconfig });
  watcher = await startWatcher({
    taskQueue: id,
    selector,
    env: { ...env, KUBECONFIG: cluster.watcherKubeconfig },
  });
});

after(async () => {
  await watcher?.stop();
  await worker?.stop();
  await client?.connection.close();
  await front?.close();
  await cluster?.stop();
});

describe('parameters and restores, through the apiserver, the watcher and the worker', () => {
  const name = `${id}-orders`;
  const identifier = rdsIdentifier('shop', name);
  const group = `${identifier}-postgres16`;
  let finalSnapshot = '';

  it('spec.parameters become a group of the Database, used by its instance and changed on edit', async () => {
    const created = await apply('shop', name, {
      engine: 'postgres',
      engineVersion: '16.3',
      deletionPolicy: 'Snapshot',
      parameters: { work_mem: '8192', log_min_duration_statement: '500' },
    });
    const available = await phaseOf('shop', name, 'Available');
    assert.equal(available.status?.parameters?.group, group);
    assert.deepEqual(await groupParameters(group), {
      work_mem: '8192',
      log_min_duration_statement: '500',
    });
    const instance = await motoInstance(identifier);
    assert.equal(instance?.DBParameterGroups?.[0]?.DBParameterGroupName, group);
    assert.equal(tagMap(instance?.TagList)['rdsflow.io/uid'], created.metadata.uid);

    await objects.patchNamespacedCustomObject(
      {
        ...at('shop', name),
        body: { spec: { parameters: { work_mem: '16384', log_min_duration_statement: '500' } } },
      },
      mergePatch,
    );
    await phaseOf('shop', name, 'Available', 2);
    assert.equal((await groupParameters(group))['work_mem'], '16384');
  });

  it('deleted under Snapshot, the group goes with the instance and the final snapshot is the result', async () => {
    const object = await read('shop', name);
    assert.ok(object);
    const workflowId = workflowIdFor(
      { namespace: 'shop', name, uid: object.metadata.uid },
      cluster.kubeSystemUid,
    );
    await deleteObject('shop', name);
    const result = (await client.workflow.getHandle(workflowId).result()) as DatabaseWorkflowResult;
    assert.equal(result.outcome, 'deleted');
    assert.ok(result.snapshot, 'no final snapshot in the result');
    finalSnapshot = result.snapshot;
    const snapshots = await moto.send(
      new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: finalSnapshot }),
    );
    assert.equal(snapshots.DBSnapshots?.[0]?.DBInstanceIdentifier, identifier);
    assert.equal(await motoInstance(identifier), undefined);
    assert.equal(await groupExists(group), false, 'the parameter group outlived its Database');
  });

  it('the final snapshot restores as a new Database of the namespace, opened by the password in Vault', async () => {
    assert.ok(finalSnapshot);
    const restored = `${id}-restored`;
    const created = await apply('shop', restored, {
      engine: 'postgres',
      deletionPolicy: 'Delete',
      source: { snapshot: finalSnapshot },
    });
    const available = await phaseOf('shop', restored, 'Available');
    assert.equal(available.status?.restoredFrom, finalSnapshot);
    const tags = tagMap((await motoInstance(rdsIdentifier('shop', restored)))?.TagList);
    assert.equal(tags['rdsflow.io/uid'], created.metadata.uid);
    assert.equal(tags['rdsflow.io/name'], restored);
    assert.equal(tags['rdsflow.io/retained-from'], undefined);
    // the instance has the password Vault holds (its credential tag names it): reset after the restore
    const metadata = (await vault.read(`secret/metadata/rdsflow/shop/${restored}`)) as {
      data: { custom_metadata: Record<string, string> };
    };
    assert.equal(
      tags['rdsflow.io/credential-id'],
      metadata.data.custom_metadata['rdsflow-credential-id'],
    );
    await deleteObject('shop', restored);
  });

  it('a Database of another namespace may not restore it, and nothing is created', async () => {
    assert.ok(finalSnapshot);
    const thief = `${id}-thief`;
    await apply('other', thief, { engine: 'postgres', source: { snapshot: finalSnapshot } });
    const failed = await phaseOf('other', thief, 'Failed');
    assert.match(
      failed.status?.message ?? '',
      /rdsflow restores only a snapshot it took of a Database in namespace other/,
    );
    assert.equal(await motoInstance(rdsIdentifier('other', thief)), undefined);
    await deleteObject('other', thief);
  });

  it('a parameter RDS applies only at a reboot is shown pending in status until the instance is rebooted', async () => {
    // NOTE: moto always says in-sync; the front models RDS's pending-reboot
    const waiting = `${id}-static`;
    await apply('shop', waiting, {
      engine: 'postgres',
      engineVersion: '16.3',
      deletionPolicy: 'Delete',
      parameters: { work_mem: '8192' },
    });
    try {
      const first = await phaseOf('shop', waiting, 'Available');
      assert.equal(first.status?.parameters?.pendingReboot, undefined);
      // shared_buffers is static: RDS applies a change of it at the instance's next reboot
      await objects.patchNamespacedCustomObject(
        {
          ...at('shop', waiting),
          body: { spec: { parameters: { work_mem: '8192', shared_buffers: '16384' } } },
        },
        mergePatch,
      );
      const changed = await phaseOf('shop', waiting, 'Available', 2);
      assert.deepEqual(changed.status?.parameters?.pendingReboot, ['shared_buffers']);
      assert.match(changed.status?.message ?? '', /aws rds reboot-db-instance/);
      // rebooted by a person, as the message says, then `rdsflow retry`: nothing is pending
      const rds = new RDSClient({ region: config.aws.region, endpoint: front.url });
      const identifier = rdsIdentifier('shop', waiting);
      await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: identifier }));
      rds.destroy();
      const ref = { namespace: 'shop', name: waiting, uid: changed.metadata.uid };
      await client.workflow
        .getHandle(workflowIdFor(ref, cluster.kubeSystemUid))
        .signal(retrySignal);
      await eventually(
        'no reboot pending after the reboot',
        async () => {
          const status = (await read('shop', waiting))?.status;
          const done = status?.phase === 'Available' && !status.parameters?.pendingReboot;
          return done && !/reboot/.test(status.message ?? '') ? true : undefined;
        },
        60_000,
      );
    } finally {
      await deleteObject('shop', waiting);
    }
  });
});
