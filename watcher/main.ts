// Composition root of the watcher: load config once, build the clients, list+watch Database
// objects in the configured scope (watcher/term.ts) and turn every event into the right
// Temporal call; serve /healthz (ready once the first list is handled), /livez and /metrics; on
// SIGTERM stop watching, let calls in flight finish, close everything.
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { kubeClientConfig, lazyTemporal } from '../config/control-clients.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { KubeConnections, boundedApiClient } from '../kube/bounded.js';
import { ClusterIdentityError, clusterIdentity } from '../kube/cluster.js';
import { taskQueueFor } from '../contracts/names.js';
import { listening, startHttp } from '../runtime/http.js';
import { createLogger } from '../runtime/log.js';
import { lead } from './lease.js';
import { WatcherMetrics } from './metrics.js';
import { runTerm, scopeText, type TermContext } from './term.js';

const log = createLogger('rdsflow-watcher');

type State = 'starting' | 'standby' | 'listing' | 'watching' | 'stopping';

/** /healthz, /livez and /metrics, then the line that says the watcher is up and where. */
async function serve(
  config: Pick<Config, 'temporal' | 'watcher' | 'process'>,
  metrics: WatcherMetrics,
  identity: string,
  cluster: string,
  state: () => State,
): Promise<Server> {
  const server = await startHttp(
    config.process.httpHost,
    config.process.httpPort,
    metrics.registry,
    () => ({ ok: state() === 'watching' || state() === 'standby', watcher: state(), identity }),
  );
  log.info(
    {
      temporal: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: taskQueueFor(config.temporal.taskQueue, cluster),
      cluster,
      scope: scopeText(config.watcher),
      leaderElection: config.watcher.leaderElection,
      identity,
      http: listening(server),
    },
    'watcher started',
  );
  return server;
}

/**
 * This cluster's identity, or no start: a watcher that cannot tell its cluster's workflows from
 * another's must not sweep or signal any.
 */
async function identify(
  core: CoreV1Api,
  config: Pick<Config, 'kube'>,
  bounds: { connections: KubeConnections },
): Promise<string> {
  try {
    return await clusterIdentity(core, config.kube.clusterId);
  } catch (error: unknown) {
    bounds.connections.close();
    throw error;
  }
}

/** Every Kubernetes call bounded; one set of kept-alive connections for all of them. */
function boundsOf(config: Pick<Config, 'kube'>, metrics: WatcherMetrics) {
  return {
    timeoutMs: config.kube.timeoutMs,
    onTimeout: (call: string) => metrics.kubeTimeouts.inc({ call }),
    connections: new KubeConnections(),
  };
}

async function main(): Promise<void> {
  const config = loadConfig(process.env, ['temporal', 'kube', 'watcher', 'process']);
  log.level = config.process.logLevel;
  const kc = kubeClientConfig(config.kube);
  const metrics = new WatcherMetrics();
  const bounds = boundsOf(config, metrics);
  const identity = config.watcher.identity ?? `${hostname()}-${process.pid}`;

  let state: State = 'starting';
  const stop = new AbortController();
  const onSignal = (signal: string) => {
    log.info({ signal }, 'stopping');
    state = 'stopping';
    stop.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  const events = boundedApiClient(kc, CoreV1Api, bounds);
  const cluster = await identify(events, config, bounds);
  // lazily: Temporal down at start means calls are retried, not a crash loop
  const temporal = lazyTemporal(config.temporal);
  const ctx: TermContext = {
    config,
    kc,
    bounds,
    objects: boundedApiClient(kc, CustomObjectsApi, bounds),
    events,
    temporal,
    cluster,
    metrics,
    log,
    ready: () => (state = 'watching'),
  };
  /** One term of activity: this watcher works (and says so) until `signal` aborts. */
  const term = async (signal: AbortSignal, fence?: () => number): Promise<void> => {
    metrics.leader.set(1);
    state = 'listing';
    try {
      await runTerm(ctx, signal, fence);
    } finally {
      metrics.leader.set(0);
    }
  };
  let server: Server | undefined;
  try {
    server = await serve(config, metrics, identity, cluster, () => state);
    if (!config.watcher.leaderElection) await term(stop.signal);
    else {
      const { leaseNamespace: namespace, leaseName: name } = config.watcher;
      const standby = (): void => {
        if (state !== 'stopping') state = 'standby';
      };
      const api = boundedApiClient(kc, CoordinationV1Api, bounds);
      await lead(api, { namespace, name, identity }, log, { standby, active: term }, stop.signal);
    }
    log.info('watcher stopped');
  } finally {
    server?.close();
    bounds.connections.close();
    await temporal.connection.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof ClusterIdentityError)
    log.fatal(error.message);
  else log.fatal({ err: error }, 'watcher failed');
  process.exitCode = 1;
});
