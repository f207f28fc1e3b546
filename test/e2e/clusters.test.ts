// Two clusters on one Temporal: one cluster's watcher acts on that cluster's workflows only.
// The first cluster is the stack's, with a worker and a watcher of this test and three
// Databases (deletionPolicy Delete) Available; the second is an empty kube-apiserver + etcd
// (test/support/second-cluster.ts) with the CRD, and a watcher and a worker on the SAME Temporal
// address, namespace and task-queue base, the same label selector and namespace scope, sweeping
// every second. What must survive is read through the servers' own APIs before and after: moto,
// OpenBao, Consul, the first apiserver, and the first cluster's workflow histories.
//
// The old bug: the second watcher's startup sweep listed every running workflow of the shared
// settings, read each object back in its own (empty) apiserver, found none, and signalled the
// first cluster's workflows within a second. Caught here by "no signal reached a workflow of the
// first cluster" (their histories: no WorkflowExecutionSignaled since the second cluster's
// processes started); a sweep that lists another cluster's workflows but addresses its signals
// by its own cluster's IDs (so they miss) is caught by "every sweep of the second watcher found
// 0 orphans and it made no Temporal call at all". (Checked by hand: the second watcher given
// the first's identity, RDSFLOW_CLUSTER_ID, sweeps as the old one did, and the first check fails
// with an objectGone signal to each of the first's workflows at every sweep.) Then a Database
// of the same namespace/name in the second cluster: its own workflow (`…@<second kube-system
// UID>`), refused by the ownership proofs (the first's Vault secret, Consul keys and instance
// are not its own), and its delete leaves the first's instance, secret and keys as they were.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { stringify } from 'yaml';
import { consulClient, vaultClient } from '../../config/clients.js';
import { API_GROUP, API_VERSION, type DatabaseObject } from '../../contracts/database.js';
import { taskQueueFor, workflowIdFor } from '../../contracts/names.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { getDatabase, listDatabases, mergePatch } from '../../kube/databases.js';
import { getObject, waitForPhase } from '../support/database.js';
import { config, eventually, stackCluster, tools } from '../support/env.js';
import { kubectl } from '../support/kubectl.js';
import { metric, startWatcher, startWorker, type AppProcess } from '../support/processes.js';
import { motoInstance, stackFront, tagMap } from '../support/rds.js';
import { Rdsflow } from '../support/running.js';
import { startSecondCluster, type SecondCluster } from '../support/second-cluster.js';
import { LABEL, type Watched } from '../support/watched.js';

const vault = vaultClient(config.vault);
const consul = consulClient(config.consul);
const front = stackFront();
const crds = fileURLToPath(new URL('../../deploy/crds', import.meta.url));

/** the first cluster's Databases, all under deletionPolicy Delete: the most to lose */
const SUFFIXES = ['alpha', 'beta', 'gamma'] as const;
/** the one whose namespace/name the second cluster's Database takes */
const TWIN = 'alpha';
const SWEEPS = 5;

/** kubectl against the second cluster, as its admin. */
function kubectlIn(kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      tools.kubectl,
      ['--kubeconfig', kubeconfig, ...args],
      (error, stdout, stderr) =>
        error ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function objectsOf(kubeconfig: string): CustomObjectsApi {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(CustomObjectsApi);
}

/** A process's pino lines, parsed. */
function logLines(p: AppProcess): Record<string, unknown>[] {
  return p
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

const linesSaying = (p: AppProcess, msg: string) => logLines(p).filter((l) => l['msg'] === msg);

/** What the first cluster has of one Database, read from the servers themselves. */
interface Held {
  readonly identifier: string;
  readonly status: string | undefined;
  readonly tags: Record<string, string | undefined>;
  readonly secret: Record<string, string> | undefined;
  /** version, time and owner marks of the KV v2 secret: any write changes them */
  readonly secretMetadata: unknown;
  /** every key under the Database's Consul folder with its value and ModifyIndex */
  readonly consulKeys: string[];
  /** the services registered under the instance's node, with their meta */
  readonly consulServices: unknown;
}

async function held(name: string): Promise<Held> {
  const identifier = rdsIdentifier('default', name);
  const instance = await motoInstance(identifier);
  const readVault = async (path: string) => {
    try {
      return ((await vault.read(path)) as { data: Record<string, unknown> }).data;
    } catch (error: unknown) {
      if ((error as { response?: { statusCode?: number } }).response?.statusCode === 404)
        return undefined;
      throw error;
    }
  };
  const data = await readVault(`secret/data/rdsflow/default/${name}`);
  const metadata = await readVault(`secret/metadata/rdsflow/default/${name}`);
  const keys = ((await consul.kv.get({ key: `rdsflow/default/${name}/`, recurse: true })) ??
    []) as { Key: string; Value: string | null; ModifyIndex: number }[];
  const node = (await consul.catalog.node.services(identifier)) as {
    Services?: Record<string, { Meta?: Record<string, string> | null; ModifyIndex?: number }>;
  } | null;
  return {
    identifier,
    status: instance?.DBInstanceStatus,
    tags: tagMap(instance?.TagList),
    secret: data?.['data'] as Record<string, string> | undefined,
    secretMetadata: metadata
      ? {
          current_version: metadata['current_version'],
          updated_time: metadata['updated_time'],
          custom_metadata: metadata['custom_metadata'],
        }
      : undefined,
    consulKeys: keys.map((k) => `${k.Key}=${k.Value ?? ''}@${k.ModifyIndex}`).sort(),
    consulServices: node?.Services ?? null,
  };
}

/** Every signal in every run of a workflow, with when Temporal recorded it. */
async function signalsOf(
  client: Client,
  workflowId: string,
): Promise<{ name: string; at: number; identity: string }[]> {
  const runs = new Set<string>();
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.add(execution.runId);
  // the newest run, even before visibility lists it
  runs.add((await client.workflow.getHandle(workflowId).describe()).runId);
  const found: { name: string; at: number; identity: string }[] = [];
  for (const runId of runs) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    for (const event of history.events ?? []) {
      const signalled = event.workflowExecutionSignaledEventAttributes;
      if (!signalled) continue;
      found.push({
        name: signalled.signalName ?? '',
        at:
          Number(event.eventTime?.seconds ?? 0) * 1_000 +
          Math.floor((event.eventTime?.nanos ?? 0) / 1e6),
        identity: signalled.identity ?? '',
      });
    }
  }
  return found;
}

describe("two clusters on one Temporal: a cluster's watcher acts on its own workflows only", () => {
  let rdsflow: Rdsflow;
  let client: Client;
  let watched: Watched;
  let firstWatcher: AppProcess;
  let firstCluster: string;
  let second: SecondCluster | undefined;
  let secondObjects: CustomObjectsApi | undefined;
  let secondWatcher: AppProcess | undefined;
  let secondWorker: AppProcess | undefined;
  /** when the second cluster's watcher and worker started: nothing of the first's may follow */
  let since = Number.POSITIVE_INFINITY;
  const kept = new Map<string, { object: DatabaseObject; held: Held; workflowId: string }>();

  const logs = () =>
    [rdsflow.logs(), secondWorker?.output() ?? '', secondWatcher?.output() ?? ''].join('\n');
  const the = () => {
    assert.ok(second && secondObjects && secondWatcher && secondWorker, 'no second cluster');
    return {
      cluster: second,
      objects: secondObjects,
      watcher: secondWatcher,
      worker: secondWorker,
    };
  };
  const secondQueue = () => taskQueueFor(watched.taskQueue, the().cluster.kubeSystemUid);
  const manifest = (name: string) =>
    stringify({
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: 'Database',
      metadata: { name, namespace: 'default', labels: { [LABEL]: watched.id } },
      spec: { engine: 'postgres', deletionPolicy: 'Delete' },
    });

  before(async () => {
    rdsflow = await Rdsflow.connect();
    ({ client, watched } = rdsflow);
    firstCluster = await stackCluster();
    await rdsflow.worker();
    firstWatcher = await rdsflow.watcher();
  });

  after(async () => {
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error: unknown) {
        problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    if (second) {
      const cluster = second;
      const objects = objectsOf(cluster.kubeconfig);
      // the second cluster's objects: deleted through its own rdsflow, else released
      await attempt('the second cluster objects', async () => {
        for (const object of await listDatabases(objects, 'default', watched.selector)) {
          const { name } = object.metadata;
          await kubectlIn(cluster.kubeconfig, [
            'delete',
            'databases.rdsflow.io',
            name,
            '--ignore-not-found',
            '--wait=false',
          ]);
          const gone = await eventually(
            `${name} gone from the second cluster`,
            async () => ((await getDatabase(objects, 'default', name)) ? undefined : true),
            60_000,
          ).catch(() => false);
          if (!gone) {
            await objects.patchNamespacedCustomObject(
              {
                group: API_GROUP,
                version: API_VERSION,
                plural: 'databases',
                namespace: 'default',
                name,
                body: { metadata: { finalizers: null } },
              },
              mergePatch,
            );
          }
        }
      });
      for (const p of [secondWatcher, secondWorker]) if (p) await attempt('stop', () => p.stop());
      await attempt('the second cluster workflows', async () => {
        for await (const execution of client.workflow.list({
          query: `TaskQueue = '${taskQueueFor(watched.taskQueue, cluster.kubeSystemUid)}' AND ExecutionStatus = 'Running'`,
        })) {
          await client.workflow.getHandle(execution.workflowId).terminate('test cleanup');
        }
      });
      await attempt('the second cluster', () => cluster.stop());
    }
    // the first cluster's objects: deleted through its rdsflow (Delete: instance, secret, keys)
    await attempt('the first cluster objects', async () => {
      for (const suffix of SUFFIXES) {
        await kubectl([
          'delete',
          'databases.rdsflow.io',
          watched.name(suffix),
          '--ignore-not-found',
          '--wait=false',
        ]);
      }
      for (const suffix of SUFFIXES) {
        await eventually(
          `${watched.name(suffix)} gone`,
          async () => ((await getObject(watched.name(suffix))) ? undefined : true),
          90_000,
        );
      }
    });
    await attempt('close', () => rdsflow.close());
    consul.destroy();
    if (problems.length > 0) throw new Error(`cleanup: ${problems.join('; ')}`);
  });

  it("the first cluster's Databases are Available, in moto, OpenBao and Consul", async () => {
    await Promise.all(
      SUFFIXES.map((suffix) => kubectl(['apply', '-f', '-'], manifest(watched.name(suffix)))),
    );
    for (const suffix of SUFFIXES) {
      const name = watched.name(suffix);
      const object = await waitForPhase(name, 'Available', 90_000, logs);
      const workflowId = workflowIdFor(object.metadata, firstCluster);
      assert.equal(object.status?.workflowId, workflowId);
      assert.ok(workflowId.endsWith(`@${firstCluster}`));
      const now = await held(name);
      assert.equal(now.status, 'available', `${name}: ${now.identifier} is not available in moto`);
      assert.equal(now.tags['rdsflow.io/uid'], object.metadata.uid);
      assert.ok(now.secret?.['password'], `${name}: no password in OpenBao`);
      assert.equal(
        (now.secretMetadata as { custom_metadata?: Record<string, string> }).custom_metadata?.[
          'rdsflow-uid'
        ],
        object.metadata.uid,
      );
      assert.ok(
        now.consulKeys.some((k) => k.startsWith(`rdsflow/default/${name}/host=`)),
        `${name}: no Consul host key (${now.consulKeys.join(', ')})`,
      );
      assert.ok(
        now.consulKeys.some((k) =>
          k.startsWith(`rdsflow/default/${name}/rdsflow-uid=${object.metadata.uid}@`),
        ),
      );
      kept.set(suffix, { object, held: now, workflowId });
    }
  });

  it('a second cluster with the CRD, its own watcher and worker on the same settings, sweeps under its own identity', async (t: TestContext) => {
    second = await startSecondCluster();
    const cluster = second;
    t.diagnostic(
      `second cluster ${cluster.kubeSystemUid} (first ${firstCluster}) started in ${(cluster.startupMs / 1000).toFixed(1)}s`,
    );
    secondObjects = objectsOf(cluster.kubeconfig);
    // startSecondCluster applied deploy/crds as the stack does; applied again here as an
    // operator would (server-side: idempotent), and Established before anything watches it
    await kubectlIn(cluster.kubeconfig, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      crds,
    ]);
    await kubectlIn(cluster.kubeconfig, [
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      '-f',
      crds,
    ]);
    assert.deepEqual(await listDatabases(secondObjects, 'default', watched.selector), []);

    since = Date.now();
    const common = {
      RDSFLOW_SWEEP_INTERVAL: '1s',
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_NAMESPACE: config.temporal.namespace,
    };
    secondWorker = await startWorker(watched.taskQueue, {
      ...common,
      KUBECONFIG: cluster.workerKubeconfig,
    });
    secondWatcher = await startWatcher({
      taskQueue: watched.taskQueue,
      selector: watched.selector,
      env: { ...common, KUBECONFIG: cluster.watcherKubeconfig },
    });
    const watcher = secondWatcher;

    // several sweeps, the first right after the first list (where the old bug struck)
    await eventually(
      `${SWEEPS} sweeps of the second watcher`,
      () =>
        linesSaying(watcher, 'running workflows checked against their objects').length >= SWEEPS
          ? true
          : undefined,
      30_000,
    );

    // each watcher says which cluster it serves: the second its own, not the first's
    const [firstStart] = linesSaying(firstWatcher, 'watcher started');
    const [secondStart] = linesSaying(watcher, 'watcher started');
    assert.equal(firstStart?.['cluster'], firstCluster);
    assert.equal(secondStart?.['cluster'], cluster.kubeSystemUid);
    assert.notEqual(cluster.kubeSystemUid, firstCluster);
    for (const key of ['temporal', 'namespace', 'scope'])
      assert.equal(secondStart?.[key], firstStart?.[key], `the two watchers differ in ${key}`);
    // the same configured queue; where it is logged per cluster, each names its own
    for (const [start, id] of [
      [firstStart, firstCluster],
      [secondStart, cluster.kubeSystemUid],
    ] as const) {
      assert.ok(
        [watched.taskQueue, taskQueueFor(watched.taskQueue, id)].includes(
          String(start?.['taskQueue']),
        ),
        `a watcher of ${id} logged task queue ${String(start?.['taskQueue'])}`,
      );
    }
    const [workerStart] = linesSaying(secondWorker, 'worker started');
    assert.equal(workerStart?.['taskQueue'], secondQueue());
  });

  it("the second cluster's watcher and worker touched nothing of the first's", async (t: TestContext) => {
    const { watcher, worker } = the();
    for (const [suffix, { object, held: before, workflowId }] of kept) {
      const name = watched.name(suffix);
      const signals = await signalsOf(client, workflowId);
      assert.deepEqual(
        signals.filter((s) => s.at >= since),
        [],
        `${workflowId} was signalled after the second cluster's processes started`,
      );
      assert.deepEqual(
        signals.filter((s) => s.name === 'delete' || s.name === 'objectGone'),
        [],
        `${workflowId} was asked for a delete`,
      );
      const described = await client.workflow.getHandle(workflowId).describe();
      assert.equal(described.status.name, 'RUNNING');
      assert.equal(described.taskQueue, taskQueueFor(watched.taskQueue, firstCluster));
      assert.deepEqual(await held(name), before, `${name}: moto, OpenBao or Consul changed`);
      const now = await getObject(name);
      assert.equal(now?.status?.phase, 'Available');
      assert.equal(now?.metadata.uid, object.metadata.uid);
      assert.equal(now?.metadata.deletionTimestamp, undefined);
      assert.deepEqual(
        (await front.journal()).filter((e) => e.identifier === before.identifier && e.at >= since),
        [],
        `a mutating RDS call reached ${before.identifier}`,
      );
    }
    // the second watcher found no running workflow of its cluster missing its object
    const sweeps = linesSaying(watcher, 'running workflows checked against their objects');
    assert.ok(sweeps.length >= SWEEPS, `${sweeps.length} sweeps`);
    assert.deepEqual(
      sweeps.map((l) => l['orphans']),
      sweeps.map(() => 0),
      'the second watcher counted workflows of the first cluster as its orphans',
    );
    t.diagnostic(`${sweeps.length} sweeps of the second watcher, each found 0 orphans`);
    assert.deepEqual(
      logLines(watcher).filter((l) =>
        [
          "a running workflow's object is outside this watcher's scope; left as it is",
          'cannot check whether the object of a running workflow exists; leaving it',
        ].includes(String(l['msg'])),
      ),
      [],
    );
    // an empty cluster: no start, no signal, nothing at all asked of Temporal; no activity run
    assert.equal(await metric(watcher, 'rdsflow_watcher_temporal_calls_total'), 0);
    assert.equal(await metric(worker, 'rdsflow_activity_total'), 0);
  });

  it("a Database of the same name in the second cluster: its own workflow, refused, and its delete leaves the first's as they were", async (t: TestContext) => {
    const { cluster, objects } = the();
    const twin = kept.get(TWIN);
    assert.ok(twin, 'the first cluster has no Database to collide with');
    const name = watched.name(TWIN);
    await kubectlIn(cluster.kubeconfig, ['apply', '-f', '-'], manifest(name));
    const theirs = await eventually(
      `${name} refused in the second cluster`,
      async () => {
        const object = await getDatabase(objects, 'default', name);
        if (object?.status?.phase === 'Available')
          throw new Error(`${name} became Available in the second cluster\n${logs()}`);
        return object?.status?.phase === 'Failed' ? object : undefined;
      },
      90_000,
    );
    assert.notEqual(theirs.metadata.uid, twin.object.metadata.uid);
    const workflowId = workflowIdFor(theirs.metadata, cluster.kubeSystemUid);
    assert.ok(workflowId.endsWith(`@${cluster.kubeSystemUid}`));
    assert.notEqual(workflowId, twin.workflowId);
    assert.equal(theirs.status?.workflowId, workflowId);
    const described = await client.workflow.getHandle(workflowId).describe();
    assert.equal(described.taskQueue, secondQueue());
    // the ownership proofs: the path's secret (or the instance) is the first cluster's object's
    const ready = theirs.status?.conditions?.find((c) => c.type === 'Ready');
    t.diagnostic(`refused: ${ready?.reason ?? '?'}: ${theirs.status?.message ?? ''}`);
    assert.match(ready?.reason ?? '', /^(EntryNotOurs|InstanceNotOurs)$/, theirs.status?.message);
    assert.ok(
      (theirs.status?.message ?? '').includes(twin.object.metadata.uid),
      `the refusal does not name the owner: ${theirs.status?.message ?? ''}`,
    );

    const untouched = async (when: string) => {
      for (const [suffix, { object, held: before, workflowId: theirId }] of kept) {
        const own = watched.name(suffix);
        assert.deepEqual(await held(own), before, `${when}: ${own}'s instance, secret or keys`);
        const now = await getObject(own);
        assert.equal(now?.status?.phase, 'Available', `${when}: ${own}`);
        assert.equal(now?.metadata.uid, object.metadata.uid);
        assert.deepEqual(
          (await signalsOf(client, theirId)).filter((s) => s.at >= since),
          [],
          `${when}: ${theirId} was signalled`,
        );
      }
      assert.deepEqual(
        (await front.journal()).filter(
          (e) => e.identifier === twin.held.identifier && e.at >= since,
        ),
        [],
        `${when}: a mutating RDS call reached ${twin.held.identifier}`,
      );
    };
    await untouched('after the refusal');

    await kubectlIn(cluster.kubeconfig, ['delete', 'databases.rdsflow.io', name, '--wait=false']);
    await eventually(
      `${name} gone from the second cluster`,
      async () => ((await getDatabase(objects, 'default', name)) ? undefined : true),
      90_000,
    );
    // its workflow is done: nothing of it is left to act later
    await eventually(
      `${workflowId} closed`,
      async () => {
        const status = (await client.workflow.getHandle(workflowId).describe()).status.name;
        return status === 'RUNNING' ? undefined : status;
      },
      30_000,
    );
    // a moment for anything late (a stray sweep, a retried activity) to show
    await sleep(2_000);
    await untouched('after its delete');
    assert.equal(
      await metric(the().watcher, 'rdsflow_watcher_temporal_calls_total', { outcome: 'error' }),
      0,
    );
  });
});
