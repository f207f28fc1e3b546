// The one place that reads the environment (DESIGN.md §3). Each process parses it once at start
// and names the sections it needs; a bad value stops the process with the variable's name.
import { z } from 'zod';
import { DNS_LABEL } from '../contracts/names.js';

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

const sections = {
  temporal: z
    .object({
      TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
      TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
      RDSFLOW_TASK_QUEUE: z.string().min(1).default('rdsflow'),
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
    })
    .refine((v) => (v.TEMPORAL_TLS_CERT === undefined) === (v.TEMPORAL_TLS_KEY === undefined), {
      message: 'set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (mTLS), or neither',
      path: ['TEMPORAL_TLS_CERT'],
    }),
  kube: z.object({
    // unset: in-cluster service account, else ~/.kube/config
    KUBECONFIG: z.string().min(1).optional(),
    // every Kubernetes call (list, get, patch, Lease, a watch's connection) gets this long
    RDSFLOW_KUBE_TIMEOUT: duration(120_000).default(10_000),
  }),
  aws: z.object({
    AWS_REGION: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region, e.g. eu-west-1'),
    AWS_ENDPOINT_URL_RDS: httpUrl.optional(),
  }),
  vault: z.object({
    VAULT_ADDR: httpUrl,
    VAULT_TOKEN: z.string().min(1, 'must be set'),
  }),
  worker: z.object({
    RDSFLOW_VAULT_MOUNT: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'must be a mount name like secret')
      .default('secret'),
    // polls heartbeat once per interval: it must stay well inside the 2-minute heartbeat timeout
    // polls heartbeat once per interval: it must stay well inside the 2-minute heartbeat timeout
    RDSFLOW_POLL_INTERVAL: duration(60_000).default(15_000),
    // one poll window must end well inside the workflow's 15-minute attempt timeout
    RDSFLOW_POLL_WINDOW: duration(600_000).default(300_000),
    RDSFLOW_SHUTDOWN_GRACE: duration(600_000).default(30_000),
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
  }),
  consul: z.object({
    CONSUL_HTTP_ADDR: consulAddress.default('127.0.0.1:8500'),
    CONSUL_HTTP_TOKEN: z.string().min(1).optional(),
  }),
} as const;

type Sections = typeof sections;
export type Section = keyof Sections;

/** Every environment variable rdsflow reads, by section. */
export const CONFIG_VARIABLES: Readonly<Record<Section, readonly string[]>> = Object.fromEntries(
  Object.entries(sections).map(([name, schema]) => [name, Object.keys(schema.shape)]),
) as unknown as Record<Section, readonly string[]>;

export interface TemporalConfig {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly uiUrl?: string;
  /** TLS to the frontend: on with any TLS file or an API key, or with TEMPORAL_TLS=true */
  readonly tls?: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly serverName?: string;
  };
  readonly apiKey?: string;
}
export interface KubeConfig {
  readonly kubeconfigPath?: string;
  /** the limit of one Kubernetes call */
  readonly timeoutMs: number;
}
export interface AwsConfig {
  readonly region: string;
  readonly rdsEndpoint?: string;
}
export interface VaultConfig {
  readonly address: string;
  readonly token: string;
}
export interface ConsulConfig {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly token?: string;
}

export interface WorkerConfig {
  readonly vaultMount: string;
  readonly pollIntervalMs: number;
  readonly pollWindowMs: number;
  readonly shutdownGraceMs: number;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface ProcessConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  readonly logLevel: LogLevel;
}

export interface WatcherConfig {
  /** empty: all namespaces */
  readonly namespaces: readonly string[];
  readonly labelSelector?: string;
  readonly concurrency: number;
  readonly pageSize: number;
  readonly leaderElection: boolean;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly identity?: string;
}

export interface Config {
  readonly temporal: TemporalConfig;
  readonly kube: KubeConfig;
  readonly aws: AwsConfig;
  readonly vault: VaultConfig;
  readonly consul: ConsulConfig;
  readonly worker: WorkerConfig;
  readonly process: ProcessConfig;
  readonly watcher: WatcherConfig;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the named sections of `env`. Every problem is reported at once, by variable name;
 * values of secret variables are never echoed.
 */
export function loadConfig<S extends Section>(
  env: NodeJS.ProcessEnv,
  need: readonly S[],
): Pick<Config, S> {
  const problems: string[] = [];
  const out: Partial<Record<Section, unknown>> = {};
  for (const name of need) {
    const parsed = sections[name].safeParse(env);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const variable = String(issue.path[0] ?? name);
        problems.push(`${variable}: ${issue.message}`);
      }
      continue;
    }
    out[name] = shape(name, parsed.data);
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return out as Pick<Config, S>;
}

function shape(name: Section, data: Record<string, unknown>): Config[Section] {
  const str = (key: string) => data[key] as string;
  switch (name) {
    case 'worker':
      return {
        vaultMount: str('RDSFLOW_VAULT_MOUNT'),
        pollIntervalMs: data['RDSFLOW_POLL_INTERVAL'] as number,
        pollWindowMs: data['RDSFLOW_POLL_WINDOW'] as number,
        shutdownGraceMs: data['RDSFLOW_SHUTDOWN_GRACE'] as number,
      };
    case 'process': {
      const address = str('RDSFLOW_HTTP_ADDR');
      const cut = address.lastIndexOf(':');
      return {
        httpHost: address.slice(0, cut).replace(/^\[|\]$/g, '') || '0.0.0.0',
        httpPort: Number(address.slice(cut + 1)),
        logLevel: str('RDSFLOW_LOG_LEVEL') as LogLevel,
      };
    }
    case 'watcher':
      return optional({
        namespaces: data['RDSFLOW_WATCH_NAMESPACES'] as string[],
        labelSelector: data['RDSFLOW_WATCH_SELECTOR'] as string | undefined,
        concurrency: data['RDSFLOW_WATCHER_CONCURRENCY'] as number,
        pageSize: data['RDSFLOW_WATCH_PAGE_SIZE'] as number,
        leaderElection: data['RDSFLOW_LEADER_ELECTION'] as boolean,
        leaseNamespace: str('RDSFLOW_LEASE_NAMESPACE'),
        leaseName: str('RDSFLOW_LEASE_NAME'),
        identity: data['RDSFLOW_WATCHER_ID'] as string | undefined,
      });
    case 'temporal': {
      const files = optional({
        caFile: data['TEMPORAL_TLS_CA'] as string | undefined,
        certFile: data['TEMPORAL_TLS_CERT'] as string | undefined,
        keyFile: data['TEMPORAL_TLS_KEY'] as string | undefined,
        serverName: data['TEMPORAL_TLS_SERVER_NAME'] as string | undefined,
      });
      const apiKey = data['TEMPORAL_API_KEY'] as string | undefined;
      const explicit = data['TEMPORAL_TLS'] as boolean | undefined;
      const tls = explicit ?? (Object.keys(files).length > 0 || apiKey !== undefined);
      return optional({
        address: str('TEMPORAL_ADDRESS'),
        namespace: str('TEMPORAL_NAMESPACE'),
        taskQueue: str('RDSFLOW_TASK_QUEUE'),
        uiUrl: (data['RDSFLOW_TEMPORAL_UI'] as string | undefined)?.replace(/\/$/, ''),
        tls: tls ? files : undefined,
        apiKey,
      });
    }
    case 'kube':
      return optional({
        kubeconfigPath: data['KUBECONFIG'] as string | undefined,
        timeoutMs: data['RDSFLOW_KUBE_TIMEOUT'] as number,
      });
    case 'aws':
      return optional({
        region: str('AWS_REGION'),
        rdsEndpoint: data['AWS_ENDPOINT_URL_RDS'] as string | undefined,
      });
    case 'vault':
      return { address: str('VAULT_ADDR').replace(/\/$/, ''), token: str('VAULT_TOKEN') };
    case 'consul':
      return consul(str('CONSUL_HTTP_ADDR'), data['CONSUL_HTTP_TOKEN'] as string | undefined);
  }
}

function consul(address: string, token: string | undefined): ConsulConfig {
  const url = new URL(/^https?:\/\//.test(address) ? address : `http://${address}`);
  const secure = url.protocol === 'https:';
  return optional({
    host: url.hostname,
    port: Number(url.port || (secure ? 443 : 8500)),
    secure,
    token,
  });
}

/** Drops undefined fields so optional properties are absent rather than undefined. */
function optional<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
