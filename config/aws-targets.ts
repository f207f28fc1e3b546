// The worker's AWS clients, one set per target: a DatabaseClass's region, account and
// credentials (keys from a Secret in the worker's namespace, a role assumed through STS, or
// both), or the worker's own identity and AWS_REGION when a Database has no class. Each set is
// an RDS client, its no-retry twin for destructive calls and the STS answer of which account its
// credentials are. Sets are made on first use and kept: one per distinct target, so the number
// of clients stays bounded by the number of classes.
import type { RDSClientConfig } from '@aws-sdk/client-rds';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsTarget } from '../contracts/resolved.js';
import { awsLocation, rdsClient, type AwsClientOptions } from './clients.js';
import type { AwsConfig } from './config.js';

type Credentials = NonNullable<RDSClientConfig['credentials']>;

/** AWS keys as a Secret holds them (kube/classes.ts reads them). */
export interface AwsKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsClientSet {
  readonly rds: ReturnType<typeof rdsClient>;
  readonly destructive: ReturnType<typeof rdsClient>;
  readonly location: () => Promise<{ account: string; region: string }>;
  destroy(): void;
}

/**
 * NOTE: the SDK treats credentials as expired 5 minutes before their `expiration` and asks its
 * provider again; keys read from a Secret are given an expiration this far beyond that, so a
 * rotated Secret is read within about this long.
 */
const SECRET_REREAD_MS = 3 * 60_000;
const SDK_EXPIRY_WINDOW_MS = 5 * 60_000;

/**
 * Why a Secret's keys could not be had, as the SDK names a credentials failure (transient for a
 * few attempts, then a permission failure: runtime/failure-type.ts); the Secret by name only.
 */
function unreadable(name: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const why = typeof code === 'number' ? `HTTP ${code}` : (error as Error).message;
  const failure = new Error(`the AWS keys of Secret ${name} could not be read (${why})`);
  failure.name = 'CredentialsProviderError';
  return failure;
}

/** Keys from a Secret, read again every few minutes; never logged. */
function secretCredentials(name: string, read: () => Promise<AwsKeys>): Credentials {
  return async () => {
    const keys = await read().catch((error: unknown) => {
      throw unreadable(name, error);
    });
    return {
      accessKeyId: keys.accessKeyId,
      secretAccessKey: keys.secretAccessKey,
      ...(keys.sessionToken ? { sessionToken: keys.sessionToken } : {}),
      expiration: new Date(Date.now() + SDK_EXPIRY_WINDOW_MS + SECRET_REREAD_MS),
    };
  };
}

/** The target's credentials: undefined is the worker's own (the SDK's default chain). */
function credentialsOf(
  config: AwsConfig,
  target: AwsTarget,
  readSecret: (name: string) => Promise<AwsKeys>,
): Credentials | undefined {
  const { secretName, roleArn, externalId } = target.credentials ?? {};
  const fromSecret = secretName
    ? secretCredentials(secretName, () => readSecret(secretName))
    : undefined;
  if (!roleArn) return fromSecret;
  return fromTemporaryCredentials({
    params: {
      RoleArn: roleArn,
      RoleSessionName: `rdsflow-${target.className}`.slice(0, 64),
      ...(externalId ? { ExternalId: externalId } : {}),
    },
    ...(fromSecret ? { masterCredentials: fromSecret } : {}),
    clientConfig: {
      region: target.region,
      ...(config.stsEndpoint ? { endpoint: config.stsEndpoint } : {}),
    },
  });
}

/** Which clients serve a target: everything but the class's generation. */
function keyOf(target: AwsTarget | undefined): string {
  if (!target) return '';
  const { className, region, account, credentials } = target;
  return JSON.stringify([className, region, account, credentials ?? {}]);
}

export class AwsTargets {
  private readonly sets = new Map<string, AwsClientSet>();

  constructor(
    private readonly config: AwsConfig,
    private readonly options: {
      /** the AWS keys of a Secret in the worker's namespace */
      readonly readSecret: (name: string) => Promise<AwsKeys>;
      /** called on each new RDS client (attribution of its calls) */
      readonly onClient?: (client: ReturnType<typeof rdsClient>) => void;
    },
  ) {}

  /** The clients of a target (none: the worker's own), made once and kept. */
  clientsFor(target: AwsTarget | undefined): AwsClientSet {
    const key = keyOf(target);
    let set = this.sets.get(key);
    if (!set) {
      set = this.make(target);
      this.sets.set(key, set);
    }
    return set;
  }

  private make(target: AwsTarget | undefined): AwsClientSet {
    const credentials = target
      ? credentialsOf(this.config, target, this.options.readSecret)
      : undefined;
    const options: AwsClientOptions = {
      ...(target ? { region: target.region } : {}),
      ...(credentials ? { credentials } : {}),
    };
    const rds = rdsClient(this.config, options);
    const destructive = rdsClient(this.config, { ...options, once: true });
    this.options.onClient?.(rds);
    this.options.onClient?.(destructive);
    const where = awsLocation(this.config, options);
    return {
      rds,
      destructive,
      location: where.location,
      destroy: () => {
        rds.destroy();
        destructive.destroy();
        where.destroy();
      },
    };
  }

  /** The number of client sets made so far: one per distinct target. */
  get size(): number {
    return this.sets.size;
  }

  destroy(): void {
    for (const set of this.sets.values()) set.destroy();
    this.sets.clear();
  }
}
