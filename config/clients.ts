// Builds the SDK clients from parsed configuration. Only composition roots (worker, watcher,
// CLI, tests) call these; everything else receives narrow slices of the clients they return.
// The control plane's (Temporal, Kubernetes) live in config/control-clients.ts, which the
// watcher imports alone; this module adds the data stores' (RDS, Vault, Consul).
import { RDSClient } from '@aws-sdk/client-rds';
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

export function rdsClient(config: AwsConfig): RDSClient {
  return new RDSClient({
    region: config.region,
    ...(config.rdsEndpoint ? { endpoint: config.rdsEndpoint } : {}),
  });
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
