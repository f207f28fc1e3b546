// The one place that reads the environment (DESIGN.md §3). Each process parses it once at start
// and names the sections it needs; a bad value stops the process with the variable's name.
import { z } from 'zod';

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

const sections = {
  temporal: z.object({
    TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    RDSFLOW_TASK_QUEUE: z.string().min(1).default('rdsflow'),
  }),
  kube: z.object({
    // unset: in-cluster service account, else ~/.kube/config
    KUBECONFIG: z.string().min(1).optional(),
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
}
export interface KubeConfig {
  readonly kubeconfigPath?: string;
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

export interface Config {
  readonly temporal: TemporalConfig;
  readonly kube: KubeConfig;
  readonly aws: AwsConfig;
  readonly vault: VaultConfig;
  readonly consul: ConsulConfig;
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

function shape(name: Section, data: Record<string, string | undefined>): Config[Section] {
  switch (name) {
    case 'temporal':
      return {
        address: data['TEMPORAL_ADDRESS']!,
        namespace: data['TEMPORAL_NAMESPACE']!,
        taskQueue: data['RDSFLOW_TASK_QUEUE']!,
      };
    case 'kube':
      return optional({ kubeconfigPath: data['KUBECONFIG'] });
    case 'aws':
      return optional({ region: data['AWS_REGION']!, rdsEndpoint: data['AWS_ENDPOINT_URL_RDS'] });
    case 'vault':
      return { address: data['VAULT_ADDR']!.replace(/\/$/, ''), token: data['VAULT_TOKEN']! };
    case 'consul':
      return consul(data['CONSUL_HTTP_ADDR']!, data['CONSUL_HTTP_TOKEN']);
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
