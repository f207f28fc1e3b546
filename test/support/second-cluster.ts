// A second Kubernetes cluster for tests that need two (one rdsflow per cluster, the same
// Temporal): the stack's own etcd and kube-apiserver specs (infra/servers.ts KUBE_SERVERS: the
// same flags, PKI, token file, audit log, CRD and RBAC), run from the stack's cached binaries
// with their state in a temporary directory and on free loopback ports of their own. Its
// servers die with the test process however it ends; stop() leaves nothing behind.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { binaries, layoutFrom, type Layout } from '../../infra/layout.js';
import { freePort } from '../../infra/net.js';
import { isOurProcess, stopGroup } from '../../infra/proc.js';
import {
  KUBE_SERVERS,
  kubeconfigPath,
  type ServerContext,
  type ServerSpec,
} from '../../infra/servers.js';
import { launch, serverContext, waitHealthy } from '../../infra/stack.js';

export interface SecondCluster {
  /** its temporary directory: data, PKI, token file, kubeconfigs, logs; gone after stop() */
  readonly dir: string;
  /** the apiserver, `https://127.0.0.1:<port>` (its CA is in the kubeconfigs) */
  readonly server: string;
  /** the admin's kubeconfig (system:masters) */
  readonly kubeconfig: string;
  /** the watcher's service account of deploy/rbac (rdsflow-system:rdsflow-watcher) */
  readonly watcherKubeconfig: string;
  /** the worker's service account of deploy/rbac (rdsflow-system:rdsflow-worker) */
  readonly workerKubeconfig: string;
  /** the UID of its kube-system namespace, which names the cluster */
  readonly kubeSystemUid: string;
  /** its etcd's client URL (the v3 JSON gateway) */
  readonly etcdUrl: string;
  /** its apiserver's audit log (every write to a Database, as the stack's) */
  readonly auditLog: string;
  /** its two processes, each the leader of a process group of its own */
  readonly pids: { readonly etcd: number; readonly kubeApiserver: number };
  /** how long startSecondCluster took */
  readonly startupMs: number;
  /** Stops both servers (their groups: SIGTERM, SIGKILL after 5 s) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

/** A server of this cluster, as started: enough to stop it without hitting a reused pid. */
interface Started {
  readonly name: string;
  readonly pid: number;
  readonly binary: string;
}

type Ports = ServerContext['ports'];

const STOP_GRACE_MS = 5_000;
const KUBE_SYSTEM_TIMEOUT_MS = 30_000;

/**
 * Starts etcd and kube-apiserver (CRD and RBAC applied) beside the stack's. The stack's
 * binaries must be installed (`npm run infra -- up`); the stack itself need not run.
 */
export async function startSecondCluster(
  say: (line: string) => void = () => {},
): Promise<SecondCluster> {
  // its ports are free when chosen, but another process may take one before the server binds
  // it (tests run in parallel): a start that fails is tried again on other ports
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(say);
    } catch (error: unknown) {
      if (attempt >= 3) throw error;
      say(`second cluster: start ${attempt} failed (${String(error)}); again on other ports`);
    }
  }
}

async function startOnce(say: (line: string) => void): Promise<SecondCluster> {
  const began = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'rdsflow-second-cluster-'));
  // the stack's layout (its cache, its repository's deploy/) with the state in `dir`: secrets,
  // data, PKI, kubeconfigs and logs are this cluster's own
  const layout = layoutFrom({ ...process.env, RDSFLOW_STATE: dir });
  const started: Started[] = [];
  // the servers die with this process anyway (startDetached's dieWithParent); this removes the
  // directory too when the process exits without stop(), unless it is killed outright
  const onExit = () => killNow(started, dir);
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      await stopAll(started, dir);
    })());
  try {
    requireBinaries(layout);
    mkdirSync(layout.logs, { recursive: true });
    const ports = await choosePorts();
    for (const spec of KUBE_SERVERS) await bringUp(spec, { layout, ports, started, say });
    return await describeCluster(layout, ports, started, { began, stop });
  } catch (error: unknown) {
    await stop();
    throw error;
  }
}

function requireBinaries(layout: Layout): void {
  const bin = binaries(layout);
  const missing = [...KUBE_SERVERS.map((spec) => spec.binary(bin)), bin.kubectl].filter(
    (file) => !existsSync(file),
  );
  if (missing.length > 0) {
    throw new Error(
      `the stack's Kubernetes binaries are missing (${missing.join(', ')}): run \`npm run infra -- up\``,
    );
  }
}

/** Every port of every server a free ephemeral one: never the stack's preferred ports. */
async function choosePorts(): Promise<Ports> {
  const taken = new Set<number>();
  const ports: Record<string, Record<string, number>> = {};
  for (const spec of KUBE_SERVERS) {
    const chosen: Record<string, number> = {};
    for (const role of Object.keys(spec.ports)) chosen[role] = await freePort(taken);
    ports[spec.name] = chosen;
  }
  return ports;
}

/** As `infra up` brings up a server (prepare, start, wait until healthy, ready), tied to us. */
async function bringUp(
  spec: ServerSpec,
  cluster: {
    readonly layout: Layout;
    readonly ports: Ports;
    readonly started: Started[];
    readonly say: (line: string) => void;
  },
): Promise<void> {
  const ctx = serverContext(cluster.layout, spec, cluster.ports, cluster.say);
  const log = join(cluster.layout.logs, `${spec.name}.log`);
  const { pid } = await launch(ctx, spec, log, { dieWithParent: true });
  // known before it is healthy, so that a failed start is stopped too
  cluster.started.push({ name: spec.name, pid, binary: spec.binary(ctx.bin) });
  await waitHealthy(ctx, spec, pid, log);
  await spec.ready?.(ctx);
}

async function describeCluster(
  layout: Layout,
  ports: Ports,
  started: readonly Started[],
  run: { readonly began: number; readonly stop: () => Promise<void> },
): Promise<SecondCluster> {
  // the client environment the stack's specs give, as `infra env` prints it for the stack
  const env: Record<string, string> = {};
  for (const spec of KUBE_SERVERS) Object.assign(env, spec.env(serverContext(layout, spec, ports)));
  const kubeconfig = kubeconfigPath(layout);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const pid = (name: string) => {
    const server = started.find((s) => s.name === name);
    if (!server) throw new Error(`${name} of the second cluster was not started`);
    return server.pid;
  };
  return {
    dir: layout.state,
    server: kc.getCurrentCluster()?.server ?? '',
    kubeconfig,
    watcherKubeconfig: kubeconfigPath(layout, 'watcher'),
    workerKubeconfig: kubeconfigPath(layout, 'worker'),
    kubeSystemUid: await kubeSystemUid(kc),
    etcdUrl: env['RDSFLOW_ETCD_URL'] ?? '',
    auditLog: env['RDSFLOW_KUBE_AUDIT_LOG'] ?? '',
    pids: { etcd: pid('etcd'), kubeApiserver: pid('kube-apiserver') },
    startupMs: performance.now() - run.began,
    stop: run.stop,
  };
}

/** The apiserver creates its system namespaces just after it starts serving: wait for it. */
async function kubeSystemUid(kc: KubeConfig): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + KUBE_SYSTEM_TIMEOUT_MS;
  for (;;) {
    const found = await core.readNamespace({ name: 'kube-system' }).then(
      (ns) => ns.metadata?.uid,
      (error: unknown) => error,
    );
    if (typeof found === 'string') return found;
    if (Date.now() > deadline) {
      throw new Error(
        `the second cluster has no kube-system namespace after ${KUBE_SYSTEM_TIMEOUT_MS / 1000}s: ${String(found)}`,
      );
    }
    await sleep(100);
  }
}

/** The apiserver first (etcd gone under it only makes it complain), then etcd, then the files. */
async function stopAll(started: readonly Started[], dir: string): Promise<void> {
  for (const { pid, binary } of [...started].reverse()) {
    // a pid long gone may have been reused: signal only what still runs our binary
    if (isOurProcess(pid, binary)) await stopGroup(pid, STOP_GRACE_MS);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** At exit nothing can be awaited: kill at once, then remove what is left. */
function killNow(started: readonly Started[], dir: string): void {
  for (const { pid, binary } of started) {
    if (!isOurProcess(pid, binary)) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
