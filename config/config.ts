// The one place that reads the environment (docs/operating.md). Each process parses it once at start
// and names the sections it needs; a bad value stops the process with the variable's name.
import { z } from 'zod';
import { CLUSTER_ID_PATTERN, DNS_LABEL, TASK_QUEUE_DEFAULT } from '../contracts/names.js';

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

const httpUrl = z
  .string()
  .url('must be a URL, e.g. http://127.0.0.1:8200')
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://');

/** Consul's own convention allows a bare host:port or a URL. */
const consulAddress = z
  .string()
  .regex(
    /^(https?:\/\/)?[A-Za-z0-9.\-[\]]+(:\d{1,5})?\/?$/,
    'must be host:port or http(s)://host:port',
  );

/** A duration like `15s`, `5m`, `250ms` or plain milliseconds → milliseconds. */
const duration = (max: number) =>
  z
    .string()
    .regex(/^\d+(ms|s|m)?$/, 'must be a duration like 250ms, 15s or 5m')
    .transform((v) => {
      const n = Number.parseInt(v, 10);
      return v.endsWith('ms') ? n : v.endsWith('s') ? n * 1_000 : v.endsWith('m') ? n * 60_000 : n;
    })
    .refine((ms) => ms > 0 && ms <= max, `must be more than 0 and at most ${max / 60_000} minutes`);

const listenAddress = z
  .string()
  .regex(/^([A-Za-z0-9.-]*|\[[0-9a-fA-F:]+\]):\d{1,5}$/, 'must be host:port or :port, e.g. :9090');

/** The variables of each section, as the environment spells them. */
const variables = {
  temporal: z.object({
    TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    RDSFLOW_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE_DEFAULT),
    // where people open the Temporal Web UI; links in CLI output point there
    RDSFLOW_TEMPORAL_UI: httpUrl.optional(),
    // a production cluster: the temporal CLI's own variable names
    TEMPORAL_TLS: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .transform((v) => v === 'true')
      .optional(),
    TEMPORAL_TLS_CA: z.string().min(1).optional(),
    TEMPORAL_TLS_CERT: z.string().min(1).optional(),
    TEMPORAL_TLS_KEY: z.string().min(1).optional(),
    TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
    TEMPORAL_API_KEY: z.string().min(1).optional(),
  }),
  kube: z.object({
    // unset: in-cluster service account, else ~/.kube/config
    KUBECONFIG: z.string().min(1).optional(),
    // every Kubernetes call (list, get, patch, Lease, a watch's connection) gets this long
    RDSFLOW_KUBE_TIMEOUT: duration(120_000).default(10_000),
    // the cluster's identity in workflow IDs and task queues; unset: the kube-system namespace's
    // UID (a cluster restored beside the old one keeps its UIDs: give one of them its own)
    RDSFLOW_CLUSTER_ID: z
      .string()
      .regex(
        CLUSTER_ID_PATTERN,
        'must be a DNS label (lowercase letters, digits, -), e.g. prod-eu-1',
      )
      .optional(),
  }),
  aws: z.object({
    AWS_REGION: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region, e.g. eu-west-1'),
    AWS_ENDPOINT_URL_RDS: httpUrl.optional(),
    // STS answers which account the worker's credentials are (a delete proves "not found" there)
    AWS_ENDPOINT_URL_STS: httpUrl.optional(),
  }),
  vault: z.object({
    VAULT_ADDR: httpUrl,
    VAULT_TOKEN: z.string().min(1, 'must be set'),
  }),
  worker: z.object({
    // the worker's own namespace: the one namespace whose Secrets a DatabaseClass may name
    RDSFLOW_NAMESPACE: z
      .string()
      .regex(DNS_LABEL, 'must be a namespace name')
      .default('rdsflow-system'),
    RDSFLOW_VAULT_MOUNT: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'must be a mount name like secret')
      .default('secret'),
    // polls heartbeat once per interval: it must stay well inside the 2-minute heartbeat timeout
    RDSFLOW_POLL_INTERVAL: duration(60_000).default(15_000),
    // one poll window must end well inside the workflow's 15-minute attempt timeout
    RDSFLOW_POLL_WINDOW: duration(600_000).default(300_000),
    RDSFLOW_SHUTDOWN_GRACE: duration(600_000).default(30_000),
    // workflows kept in memory between their tasks; unset, the SDK sizes it from the heap limit
    RDSFLOW_WORKER_CACHED_WORKFLOWS: z.coerce
      .number()
      .int('must be a whole number')
      .min(1, 'must be between 1 and 100000')
      .max(100_000, 'must be between 1 and 100000')
      .optional(),
  }),
  /** what every long-running process (worker, watcher) has: its HTTP endpoints and log level */
  process: z.object({
    RDSFLOW_HTTP_ADDR: listenAddress.default(':9090'),
    RDSFLOW_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  }),
  watcher: z.object({
    // empty: every namespace (needs cluster-wide list/watch); else a comma-separated list
    RDSFLOW_WATCH_NAMESPACES: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n.length > 0),
      )
      .refine(
        (names) => names.every((n) => DNS_LABEL.test(n)),
        'must be a comma-separated list of namespace names',
      )
      .default([]),
    RDSFLOW_WATCH_SELECTOR: z
      .string()
      .max(1000, 'must be a label selector, e.g. team=shop')
      .regex(/^[A-Za-z0-9.\-_/=!,() ]*$/, 'must be a label selector, e.g. team=shop,tier!=dev')
      .optional(),
    // objects per page of a list; a list whose pages expire (410) starts over, finally unpaged
    RDSFLOW_WATCH_PAGE_SIZE: z.coerce
      .number()
      .int('must be a whole number')
      .min(1, 'must be between 1 and 5000')
      .max(5000, 'must be between 1 and 5000')
      .default(500),
    RDSFLOW_WATCHER_CONCURRENCY: z.coerce
      .number()
      .int('must be a whole number')
      .min(1, 'must be between 1 and 256')
      .max(256, 'must be between 1 and 256')
      .default(16),
    RDSFLOW_LEADER_ELECTION: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .transform((v) => v === 'true')
      .default(false),
    RDSFLOW_LEASE_NAMESPACE: z
      .string()
      .regex(DNS_LABEL, 'must be a namespace name')
      .default('rdsflow-system'),
    RDSFLOW_LEASE_NAME: z
      .string()
      .regex(DNS_LABEL, 'must be a DNS label')
      .default('rdsflow-watcher'),
    // the pod name (downward API) in a cluster; defaults to host name and pid
    RDSFLOW_WATCHER_ID: z.string().min(1).max(128).optional(),
    // how often running workflows are checked against their objects (one that vanished, one
    // deleted while outside the scope); the first check follows the first list
    RDSFLOW_SWEEP_INTERVAL: duration(3_600_000).default(300_000),
  }),
  consul: z.object({
    CONSUL_HTTP_ADDR: consulAddress.default('127.0.0.1:8500'),
    CONSUL_HTTP_TOKEN: z.string().min(1).optional(),
  }),
} as const;

/**
 * Each section parsed and shaped for its clients: the configuration types are these schemas'
 * outputs (no hand-written mirror of them).
 */
const sections = {
  temporal: variables.temporal
    .refine((v) => (v.TEMPORAL_TLS_CERT === undefined) === (v.TEMPORAL_TLS_KEY === undefined), {
      message: 'set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (mTLS), or neither',
      path: ['TEMPORAL_TLS_CERT'],
    })
    .transform((v) => {
      const files = optional({
        caFile: v.TEMPORAL_TLS_CA,
        certFile: v.TEMPORAL_TLS_CERT,
        keyFile: v.TEMPORAL_TLS_KEY,
        serverName: v.TEMPORAL_TLS_SERVER_NAME,
      });
      // TLS to the frontend: on with any TLS file or an API key, or with TEMPORAL_TLS=true
      const tls =
        v.TEMPORAL_TLS ?? (Object.keys(files).length > 0 || v.TEMPORAL_API_KEY !== undefined);
      return optional({
        address: v.TEMPORAL_ADDRESS,
        namespace: v.TEMPORAL_NAMESPACE,
        taskQueue: v.RDSFLOW_TASK_QUEUE,
        uiUrl: v.RDSFLOW_TEMPORAL_UI?.replace(/\/$/, ''),
        tls: tls ? files : undefined,
        apiKey: v.TEMPORAL_API_KEY,
      });
    }),
  kube: variables.kube.transform((v) =>
    optional({
      kubeconfigPath: v.KUBECONFIG,
      timeoutMs: v.RDSFLOW_KUBE_TIMEOUT,
      clusterId: v.RDSFLOW_CLUSTER_ID,
    }),
  ),
  aws: variables.aws.transform((v) =>
    optional({
      region: v.AWS_REGION,
      rdsEndpoint: v.AWS_ENDPOINT_URL_RDS,
      stsEndpoint: v.AWS_ENDPOINT_URL_STS,
    }),
  ),
  vault: variables.vault.transform((v) => ({
    address: v.VAULT_ADDR.replace(/\/$/, ''),
    token: v.VAULT_TOKEN,
  })),
  worker: variables.worker.transform((v) => ({
    namespace: v.RDSFLOW_NAMESPACE,
    vaultMount: v.RDSFLOW_VAULT_MOUNT,
    pollIntervalMs: v.RDSFLOW_POLL_INTERVAL,
    pollWindowMs: v.RDSFLOW_POLL_WINDOW,
    shutdownGraceMs: v.RDSFLOW_SHUTDOWN_GRACE,
    ...(v.RDSFLOW_WORKER_CACHED_WORKFLOWS !== undefined
      ? { cachedWorkflows: v.RDSFLOW_WORKER_CACHED_WORKFLOWS }
      : {}),
  })),
  process: variables.process.transform((v) => {
    const cut = v.RDSFLOW_HTTP_ADDR.lastIndexOf(':');
    return {
      httpHost: v.RDSFLOW_HTTP_ADDR.slice(0, cut).replace(/^\[|\]$/g, '') || '0.0.0.0',
      httpPort: Number(v.RDSFLOW_HTTP_ADDR.slice(cut + 1)),
      logLevel: v.RDSFLOW_LOG_LEVEL,
    };
  }),
  watcher: variables.watcher.transform((v) =>
    optional({
      /** empty: all namespaces */
      namespaces: v.RDSFLOW_WATCH_NAMESPACES,
      labelSelector: v.RDSFLOW_WATCH_SELECTOR,
      concurrency: v.RDSFLOW_WATCHER_CONCURRENCY,
      pageSize: v.RDSFLOW_WATCH_PAGE_SIZE,
      leaderElection: v.RDSFLOW_LEADER_ELECTION,
      leaseNamespace: v.RDSFLOW_LEASE_NAMESPACE,
      leaseName: v.RDSFLOW_LEASE_NAME,
      identity: v.RDSFLOW_WATCHER_ID,
      sweepIntervalMs: v.RDSFLOW_SWEEP_INTERVAL,
    }),
  ),
  consul: variables.consul.transform((v) => consul(v.CONSUL_HTTP_ADDR, v.CONSUL_HTTP_TOKEN)),
} as const;

type Sections = typeof sections;
export type Section = keyof Sections;
export type Config = { readonly [S in Section]: Readonly<z.output<Sections[S]>> };
export type TemporalConfig = Config['temporal'];
export type KubeConfig = Config['kube'];
export type AwsConfig = Config['aws'];
export type VaultConfig = Config['vault'];
export type ConsulConfig = Config['consul'];
export type WorkerConfig = Config['worker'];
export type ProcessConfig = Config['process'];
export type WatcherConfig = Config['watcher'];
export type LogLevel = ProcessConfig['logLevel'];

/** Every environment variable rdsflow reads, by section. */
export const CONFIG_VARIABLES: { readonly [S in Section]: readonly string[] } = {
  temporal: Object.keys(variables.temporal.shape),
  kube: Object.keys(variables.kube.shape),
  aws: Object.keys(variables.aws.shape),
  vault: Object.keys(variables.vault.shape),
  worker: Object.keys(variables.worker.shape),
  process: Object.keys(variables.process.shape),
  watcher: Object.keys(variables.watcher.shape),
  consul: Object.keys(variables.consul.shape),
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the named sections of `env`. A variable set to the empty string counts as unset. Every
 * problem is reported at once, by variable name; values of secret variables are never echoed.
 */
export function loadConfig<S extends Section>(
  env: NodeJS.ProcessEnv,
  need: readonly S[],
): Pick<Config, S> {
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const problems: string[] = [];
  const out: Partial<Config> = {};
  for (const name of need) {
    const parsed = sections[name].safeParse(set);
    if (parsed.success) {
      Object.assign(out, { [name]: parsed.data });
      continue;
    }
    for (const issue of parsed.error.issues) {
      problems.push(`${String(issue.path[0] ?? name)}: ${issue.message}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return out as Pick<Config, S>;
}

function consul(address: string, token: string | undefined) {
  const url = new URL(/^https?:\/\//.test(address) ? address : `http://${address}`);
  const secure = url.protocol === 'https:';
  return optional({
    host: url.hostname,
    port: Number(url.port || (secure ? 443 : 8500)),
    secure,
    token,
  });
}

/** Keys whose value may be undefined become optional keys. */
type Optional<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** Drops undefined fields so optional properties are absent rather than undefined. */
function optional<T extends object>(value: T): Optional<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as Optional<T>;
}
