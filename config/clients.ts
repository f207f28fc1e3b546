// Builds the SDK clients from parsed configuration. Only composition roots (worker, watcher,
// CLI, tests) call these; everything else receives narrow slices of the clients they return.
// The control plane's (Temporal, Kubernetes) live in config/control-clients.ts, which the
// watcher imports alone; this module adds the data stores' (RDS, Vault, Consul).
import { RDSClient, type RDSClientConfig } from '@aws-sdk/client-rds';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import Consul from 'consul';
import vault from 'node-vault';
import type { AwsConfig, ConsulConfig, VaultConfig } from './config.js';
import { vaultTransport } from './vault-transport.js';

export {
  connectTemporal,
  kubeClientConfig,
  lazyTemporal,
  temporalConnectionOptions,
} from './control-clients.js';

/** Another region or credentials than the worker's own (a DatabaseClass's: config/aws-targets.ts). */
export interface AwsClientOptions {
  readonly region?: string;
  readonly credentials?: RDSClientConfig['credentials'];
}

/**
 * The RDS client; `once`: without the SDK's own retries, for the calls that change or delete an
 * instance (each goes out once per ownership proof; the activity's retry proves again).
 */
export function rdsClient(
  config: AwsConfig,
  options: AwsClientOptions & { once?: boolean } = {},
): RDSClient {
  return new RDSClient({
    region: options.region ?? config.region,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(config.rdsEndpoint ? { endpoint: config.rdsEndpoint } : {}),
    ...(options.once ? { maxAttempts: 1 } : {}),
  });
}

/**
 * Where the worker's AWS calls look (or a class's: `options`): the account of its credentials
 * (STS GetCallerIdentity with those credentials, asked once per access key and remembered) and its region.
 */
export function awsLocation(
  config: AwsConfig,
  options: AwsClientOptions = {},
): {
  location: () => Promise<{ account: string; region: string }>;
  destroy: () => void;
} {
  const region = options.region ?? config.region;
  const sts = new STSClient({
    region,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(config.stsEndpoint ? { endpoint: config.stsEndpoint } : {}),
  });
  // remembered per access key: a Secret rotated to another account's keys is asked about again
  let known: { readonly key: string; readonly account: Promise<string> } | undefined;
  const ask = async () => {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    if (!out.Account) throw new Error('STS GetCallerIdentity answered without an account');
    return out.Account;
  };
  return {
    location: async () => {
      const { accessKeyId } = await sts.config.credentials();
      if (known?.key !== accessKeyId) {
        const asking = {
          key: accessKeyId,
          account: ask().catch((error: unknown) => {
            if (known === asking) known = undefined; // a failed answer is asked again next time
            throw error;
          }),
        };
        known = asking;
      }
      return { account: await known.account, region };
    },
    destroy: () => sts.destroy(),
  };
}

/**
 * node-vault with its debug lines silenced (they print request bodies, the master password
 * among them) and our transport (config/vault-transport.ts says why), which logs the harmless
 * part of each call under DEBUG=node-vault.
 */
export function vaultClient(config: VaultConfig): vault.client {
  return vault({
    apiVersion: 'v1',
    endpoint: config.address,
    token: config.token,
    debug: () => {},
    'request-promise': vaultTransport(),
  });
}

export function consulClient(config: ConsulConfig): Consul {
  return new Consul({
    host: config.host,
    port: config.port,
    secure: config.secure,
    ...(config.token ? { defaults: { token: config.token } } : {}),
  });
}
