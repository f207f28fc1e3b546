// Composition root of the worker: load config once, build the clients, run the Temporal worker
// with the database workflow and its activities, serve /healthz and /metrics, and on SIGTERM
// stop polling, let in-flight activities finish within the grace time, then close everything.
import type { Server } from 'node:http';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
} from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { attributeRdsCalls } from '../activities/rds.js';
import { AwsTargets } from '../config/aws-targets.js';
import {
  consulClient,
  kubeClientConfig,
  temporalConnectionOptions,
  vaultClient,
} from '../config/clients.js';
import { readAwsKeys } from '../kube/classes.js';
import { taskQueueFor } from '../contracts/names.js';
import { ClusterIdentityError, clusterIdentity } from '../kube/cluster.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { KubeConnections, boundedApiClient } from '../kube/bounded.js';
import { listening, startHttp } from '../runtime/http.js';
import { createLogger } from '../runtime/log.js';
import { attributeConsulCalls, attributeVaultCalls } from './attribution.js';
import { workflowCode } from './bundle.js';
import { WorkerMetrics } from './metrics.js';

const log = createLogger('rdsflow-worker');

type WorkerConfig = Pick<
  Config,
  'temporal' | 'kube' | 'aws' | 'vault' | 'consul' | 'worker' | 'process'
>;

/** The SDK's own log lines go through the worker's logger, at its level. */
function sdkLogging(level: Config['process']['logLevel']): void {
  Runtime.install({
    logger: new DefaultLogger(level.toUpperCase() as LogLevel, (entry) => {
      const at =
        entry.level === 'TRACE'
          ? 'trace'
          : (entry.level.toLowerCase() as 'debug' | 'info' | 'warn' | 'error');
      log[at]({ ...entry.meta, sdk: true }, entry.message);
    }),
  });
}

/** The clients the activities need, bounded and attributed, and the activities on them. */
function clients(config: WorkerConfig, metrics: WorkerMetrics) {
  const consul = consulClient(config.consul);
  attributeConsulCalls(consul);
  const vault = vaultClient(config.vault);
  attributeVaultCalls(vault);
  const kc = kubeClientConfig(config.kube);
  const bounds = {
    timeoutMs: config.kube.timeoutMs,
    onTimeout: (call: string) => metrics.kubeTimeouts.inc({ call }),
    // one set of kept-alive connections for all of the process's Kubernetes calls
    connections: new KubeConnections(),
  };
  const events = boundedApiClient(kc, CoreV1Api, bounds);
  const kube = boundedApiClient(kc, CustomObjectsApi, bounds);
  // one set of AWS clients per target (a DatabaseClass's region, account, credentials); every
  // store call names the workflow run it is made for (worker/attribution.ts)
  const targets = new AwsTargets(config.aws, {
    readSecret: (name) => readAwsKeys(events, config.worker.namespace, name),
    onClient: attributeRdsCalls,
  });
  const own = targets.clientsFor(undefined);
  const activities = createActivities({
    rds: own.rds,
    destructive: own.destructive,
    location: own.location,
    clientsFor: (target) => targets.clientsFor(target),
    classes: kube,
    vault,
    mount: config.worker.vaultMount,
    consul,
    kube,
    events,
    timing: {
      pollIntervalMs: config.worker.pollIntervalMs,
      pollWindowMs: config.worker.pollWindowMs,
    },
  });
  const close = () => {
    targets.destroy();
    consul.destroy();
  };
  return { events, close, activities };
}

async function main(): Promise<void> {
  const config = loadConfig(process.env, [
    'temporal',
    'kube',
    'aws',
    'vault',
    'consul',
    'worker',
    'process',
  ]);
  log.level = config.process.logLevel;
  sdkLogging(config.process.logLevel);
  const metrics = new WorkerMetrics();
  const { events, close, activities } = clients(config, metrics);
  try {
    // this cluster's workflows only: its Kubernetes writes and AWS credentials serve no other
    const cluster = await clusterIdentity(events, config.kube.clusterId);
    await serveWorkflows(
      config,
      metrics,
      activities,
      taskQueueFor(config.temporal.taskQueue, cluster),
    );
  } finally {
    close();
  }
}

/** Polls the cluster's task queue until SIGTERM, serving /healthz and /metrics meanwhile. */
async function serveWorkflows(
  config: WorkerConfig,
  metrics: WorkerMetrics,
  activities: ReturnType<typeof clients>['activities'],
  taskQueue: string,
): Promise<void> {
  const workflows = workflowCode();
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  let server: Server | undefined;
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      ...workflows.options,
      activities,
      shutdownGraceTime: config.worker.shutdownGraceMs,
      // a workflow not in the cache is replayed from its history at its next task: memory for CPU
      ...(config.worker.cachedWorkflows !== undefined
        ? {
            maxCachedWorkflows: config.worker.cachedWorkflows,
            // the SDK needs a task's workflow in the cache while the task runs
            maxConcurrentWorkflowTaskExecutions: Math.min(40, config.worker.cachedWorkflows),
          }
        : {}),
      interceptors: {
        activity: [(ctx) => ({ inbound: metrics.interceptor(ctx.info.activityType) })],
      },
    });
    server = await startHttp(
      config.process.httpHost,
      config.process.httpPort,
      metrics.registry,
      () => ({ ok: worker.getState() === 'RUNNING', worker: worker.getState() }),
    );
    log.info(
      {
        temporal: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue,
        http: listening(server),
        workflows: workflows.from,
      },
      'worker started',
    );
    // Worker.run() shuts down on SIGINT/SIGTERM itself: no new tasks, in-flight activities get
    // the grace time to finish, then they are cancelled and handed back to the server
    await worker.run();
    log.info('worker stopped');
  } finally {
    server?.close();
    await connection.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof ClusterIdentityError)
    log.fatal(error.message);
  else log.fatal({ err: error }, 'worker failed');
  process.exitCode = 1;
});
