// The DatabaseClass CRD and its reading, on a kube-apiserver of this tree's own (the second
// cluster: this repository's deploy/crds and deploy/rbac applied, so the test does not depend on
// what the shared stack was brought up with): the apiserver accepts the sample class and refuses
// what the CEL rules refuse, as their zod twins do; the worker, through its own service account,
// finds a Database's class, the default one, and says which is missing or doubly default; a
// Database's spec.className is kept (not pruned) and shown in the Class column.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { databaseClassSpecSchema } from '../../contracts/class-schema.js';
import { DEFAULT_CLASS_ANNOTATION } from '../../contracts/database.js';
import { readClassChoice } from '../../kube/classes.js';
import { TEST_LABEL, tools, uniqueName } from '../support/env.js';
import { startSecondCluster, type SecondCluster } from '../support/second-cluster.js';

const run = promisify(execFile);
const CLASSES = { group: 'rdsflow.io', version: 'v1alpha1', plural: 'databaseclasses' } as const;
const SAMPLE = new URL('../../deploy/samples/databaseclass.yaml', import.meta.url).pathname;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function apiOf(kubeconfig: string): CustomObjectsApi {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(CustomObjectsApi);
}

/** The apiserver's refusal of a class spec (its message), or `ok`. */
async function refusalOf(api: CustomObjectsApi, spec: unknown): Promise<string> {
  const body = {
    apiVersion: 'rdsflow.io/v1alpha1',
    kind: 'DatabaseClass',
    metadata: { name: uniqueName('bad'), labels: { [TEST_LABEL]: 'classes' } },
    spec,
  };
  return api.createClusterCustomObject({ ...CLASSES, body }).then(
    () => 'ok',
    (error: unknown) => (error instanceof ApiException ? String(error.body) : String(error)),
  );
}

describe('DatabaseClass on the apiserver', () => {
  let cluster: SecondCluster | undefined;
  const the = () => {
    assert.ok(cluster, 'the second cluster did not start');
    return cluster;
  };
  const kubectl = (...args: string[]) =>
    run(tools.kubectl, ['--kubeconfig', the().kubeconfig, ...args]);

  before(async () => {
    cluster = await startSecondCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  it('takes the sample class and shows its region and default mark', async () => {
    await kubectl('apply', '-f', SAMPLE);
    const { stdout } = await kubectl('get', 'databaseclasses');
    assert.match(stdout, /^NAME\s+REGION\s+DEFAULT\s+AGE$/m);
    assert.match(stdout, /^standard\s+eu-west-1\s+true\s+/m);
  });

  it('refuses what the CEL rules refuse, as their zod twins do', async () => {
    const admin = apiOf(the().kubeconfig);
    const cases = [
      {
        spec: {
          region: 'eu-west-1',
          defaults: { storageGiB: 500 },
          limits: { maxStorageGiB: 100 },
        },
        message: 'defaults.storageGiB exceeds limits.maxStorageGiB',
      },
      {
        spec: {
          region: 'eu-west-1',
          defaults: { instanceClass: 'db.m5.large' },
          limits: { instanceClasses: ['db.t3.micro'] },
        },
        message: 'defaults.instanceClass is not in limits.instanceClasses',
      },
      {
        spec: { region: 'eu-west-1', credentials: {} },
        message: 'credentials need a secretRef, an assumeRole or both',
      },
    ];
    for (const { spec, message } of cases) {
      assert.ok((await refusalOf(admin, spec)).includes(message), message);
      assert.equal(databaseClassSpecSchema.safeParse(spec).success, false, `zod: ${message}`);
    }
    // a field the class does not know, a default outside the Database field's own bounds
    assert.notEqual(
      await refusalOf(admin, { region: 'eu-west-1', defaults: { storageGiB: 5 } }),
      'ok',
    );
  });

  it("lets the worker find a Database's class, the default one, and say what is wrong", async () => {
    const admin = apiOf(the().kubeconfig);
    const worker = apiOf(the().workerKubeconfig);
    const named = await readClassChoice(worker, { engine: 'postgres', className: 'standard' });
    assert.equal('class' in named ? named.class?.name : undefined, 'standard');
    const byDefault = await readClassChoice(worker, { engine: 'postgres' });
    assert.equal('class' in byDefault ? byDefault.class?.generation : undefined, 1);
    const missing = await readClassChoice(worker, { engine: 'postgres', className: 'nope' });
    assert.equal(missing.problem, 'spec.className: DatabaseClass "nope" not found');
    const second = uniqueName('second');
    await admin.createClusterCustomObject({
      ...CLASSES,
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'DatabaseClass',
        metadata: { name: second, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
        spec: { region: 'us-east-1' },
      },
    });
    const doubled = await readClassChoice(worker, { engine: 'postgres' });
    assert.match(doubled.problem ?? '', new RegExp(`marked .*: ${second}, standard`));
    await admin.patchClusterCustomObject(
      {
        ...CLASSES,
        name: second,
        body: { metadata: { annotations: { [DEFAULT_CLASS_ANNOTATION]: 'false' } } },
      },
      mergePatch,
    );
    const single = await readClassChoice(worker, { engine: 'postgres' });
    assert.equal('class' in single ? single.class?.name : undefined, 'standard');
  });

  it("keeps a Database's className and shows the class in its Class column", async () => {
    const name = uniqueName('classed');
    const api = apiOf(the().kubeconfig);
    await api.createNamespacedCustomObject({
      group: 'rdsflow.io',
      version: 'v1alpha1',
      plural: 'databases',
      namespace: 'default',
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'Database',
        metadata: { name, labels: { [TEST_LABEL]: 'classes' } },
        spec: { engine: 'postgres', className: 'standard' },
      },
    });
    await api.patchNamespacedCustomObjectStatus(
      {
        group: 'rdsflow.io',
        version: 'v1alpha1',
        plural: 'databases',
        namespace: 'default',
        name,
        body: { status: { phase: 'Pending', class: { name: 'standard', generation: 1 } } },
      },
      mergePatch,
    );
    const { stdout } = await kubectl('get', 'databases', name, '-n', 'default');
    assert.match(stdout, /^NAME\s+PHASE\s+ENGINE\s+CLASS\s+ENDPOINT\s+AGE$/m);
    assert.match(stdout, new RegExp(`^${name}\\s+Pending\\s+postgres\\s+standard\\s+`, 'm'));
    const { stdout: json } = await kubectl('get', 'databases', name, '-n', 'default', '-o', 'json');
    assert.equal((JSON.parse(json) as { spec: { className?: string } }).spec.className, 'standard');
  });
});
