// A second kube-apiserver + etcd beside the stack's (test/support/second-cluster.ts), for the
// tests of two clusters on one Temporal: it serves the Database CRD, is another cluster (its
// own kube-system UID, its own objects), applies deploy/rbac as the stack does, and leaves no
// process and no directory behind, whether stopped or killed with its test.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { kubeClientConfig } from '../../config/clients.js';
import { processesUnder } from '../../infra/proc.js';
import { TEST_LABEL, config, eventually, uniqueName } from '../support/env.js';
import { startSecondCluster, type SecondCluster } from '../support/second-cluster.js';

const ref = {
  group: 'rdsflow.io',
  version: 'v1alpha1',
  namespace: 'default',
  plural: 'databases',
} as const;

function fromFile(kubeconfig: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc;
}

/** The HTTP status a call failed with, or `ok`. */
async function outcome(call: Promise<unknown>): Promise<number | 'ok'> {
  return call.then(
    () => 'ok' as const,
    (error: unknown) => {
      if (error instanceof ApiException) return error.code;
      throw error;
    },
  );
}

/** Resident and peak memory of a process, from /proc. */
function memory(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string) =>
    (Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024).toFixed(0);
  return `RSS ${mib('VmRSS')} MiB (peak ${mib('VmHWM')} MiB)`;
}

describe('a second cluster beside the stack', () => {
  let cluster: SecondCluster | undefined;
  const the = () => {
    assert.ok(cluster, 'the second cluster did not start');
    return cluster;
  };
  const name = uniqueName('elsewhere');

  before(async () => {
    cluster = await startSecondCluster();
  });

  // a failed test, too, takes its servers and directory away
  after(() => cluster?.stop());

  it('serves databases.rdsflow.io: a Database created, read back, its status patched', async (t: TestContext) => {
    t.diagnostic(`the second cluster started in ${(the().startupMs / 1000).toFixed(1)}s`);
    const objects = fromFile(the().kubeconfig).makeApiClient(CustomObjectsApi);
    await objects.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: 'rdsflow.io/v1alpha1',
        kind: 'Database',
        metadata: { name, labels: { [TEST_LABEL]: 'true' } },
        spec: { engine: 'postgres' },
      },
    });
    const read = (await objects.getNamespacedCustomObject({ ...ref, name })) as {
      spec: { engine: string; deletionPolicy: string };
    };
    assert.equal(read.spec.engine, 'postgres');
    assert.equal(read.spec.deletionPolicy, 'Snapshot', 'the CRD schema defaults apply');
    const patched = (await objects.patchNamespacedCustomObjectStatus(
      { ...ref, name, body: { status: { phase: 'Pending' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { status?: { phase?: string } };
    assert.equal(patched.status?.phase, 'Pending');
  });

  it("is another cluster: its own kube-system UID, and the stack's apiserver does not see its Database", async () => {
    const stack = kubeClientConfig(config.kube);
    const stackKubeSystem = await stack.makeApiClient(CoreV1Api).readNamespace({
      name: 'kube-system',
    });
    assert.match(the().kubeSystemUid, /^[0-9a-f-]{36}$/);
    assert.notEqual(the().kubeSystemUid, stackKubeSystem.metadata?.uid);
    const second = fromFile(the().kubeconfig).makeApiClient(CoreV1Api);
    const kubeSystem = await second.readNamespace({ name: 'kube-system' });
    assert.equal(kubeSystem.metadata?.uid, the().kubeSystemUid);
    const onStack = stack
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ ...ref, name });
    assert.equal(await outcome(onStack), 404);
    assert.notEqual(the().server, stack.getCurrentCluster()?.server);
  });

  it('applies deploy/rbac: the watcher lists Databases but may not delete a namespace, the worker may not list', async () => {
    const admin = fromFile(the().kubeconfig).makeApiClient(CoreV1Api);
    const scratch = uniqueName('scratch');
    await admin.createNamespace({ body: { metadata: { name: scratch } } });
    const watcher = fromFile(the().watcherKubeconfig);
    const listed = (await watcher
      .makeApiClient(CustomObjectsApi)
      .listClusterCustomObject({ group: ref.group, version: ref.version, plural: ref.plural })) as {
      items: { metadata: { name: string } }[];
    };
    assert.deepEqual(
      listed.items.map((item) => item.metadata.name),
      [name],
    );
    const removal = watcher.makeApiClient(CoreV1Api).deleteNamespace({ name: scratch });
    assert.equal(await outcome(removal), 403);
    const still = await admin.readNamespace({ name: scratch });
    assert.equal(still.metadata?.deletionTimestamp, undefined, 'the namespace is untouched');

    const worker = fromFile(the().workerKubeconfig).makeApiClient(CustomObjectsApi);
    assert.equal(await outcome(worker.getNamespacedCustomObject({ ...ref, name })), 'ok');
    assert.equal(await outcome(worker.listNamespacedCustomObject(ref)), 403);
  });

  it('stop() leaves no process of it and no directory; a second stop() is harmless', async (t: TestContext) => {
    const { dir, pids } = the();
    assert.deepEqual(
      processesUnder(dir).sort(),
      [pids.etcd, pids.kubeApiserver].sort(),
      'its processes are the two servers, found by their directory',
    );
    t.diagnostic(`etcd ${memory(pids.etcd)}; kube-apiserver ${memory(pids.kubeApiserver)}`);
    const began = performance.now();
    await the().stop();
    t.diagnostic(`stopped in ${((performance.now() - began) / 1000).toFixed(1)}s`);
    assert.deepEqual(processesUnder(dir), []);
    assert.equal(existsSync(dir), false);
    await the().stop();
  });
});

describe('a second cluster started by a test process that is then killed outright', () => {
  it('goes down with that process', async () => {
    const support = new URL('../support/second-cluster.ts', import.meta.url).href;
    const script = [
      `const { startSecondCluster } = await import(${JSON.stringify(support)});`,
      'const { dir, pids } = await startSecondCluster();',
      "process.stdout.write(JSON.stringify({ dir, pids }) + '\\n');",
      'setInterval(() => {}, 60_000);',
    ].join('\n');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let dir: string | undefined;
    try {
      const started = await eventually(
        'the second cluster in the child process',
        () => {
          if (child.exitCode !== null) throw new Error(`the child exited:\n${output}`);
          const line = output.split('\n').find((l) => l.startsWith('{'));
          return line ? (JSON.parse(line) as Pick<SecondCluster, 'dir' | 'pids'>) : undefined;
        },
        60_000,
      );
      dir = started.dir;
      assert.equal(processesUnder(dir).length, 2);
      child.kill('SIGKILL');
      await exited;
      await eventually('no process of the killed test left', () =>
        processesUnder(started.dir).length === 0 ? true : undefined,
      );
    } finally {
      child.kill('SIGKILL');
      // a process killed outright cannot remove its directory; only its servers go with it
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});
