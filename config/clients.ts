// Builds the SDK clients from parsed configuration. Only composition roots (worker, watcher,
// CLI, tests) call these; everything else receives narrow slices of the clients they return.
import { RDSClient } from '@aws-sdk/client-rds';
import { KubeConfig as KubeClientConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import Consul from 'consul';
import vault from 'node-vault';
import type { AwsConfig, ConsulConfig, KubeConfig, TemporalConfig, VaultConfig } from './config.js';

export async function connectTemporal(config: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.address });
  return new Client({ connection, namespace: config.namespace });
}

/** A client that connects on its first call: a process can start while Temporal is down. */
export function lazyTemporal(config: TemporalConfig): Client {
  const connection = Connection.lazy({ address: config.address });
  return new Client({ connection, namespace: config.namespace });
}

export function kubeClientConfig(config: KubeConfig): KubeClientConfig {
  const kc = new KubeClientConfig();
  if (config.kubeconfigPath) kc.loadFromFile(config.kubeconfigPath);
  else kc.loadFromDefault();
  return kc;
}

export function rdsClient(config: AwsConfig): RDSClient {
  return new RDSClient({
    region: config.region,
    ...(config.rdsEndpoint ? { endpoint: config.rdsEndpoint } : {}),
  });
}

export function vaultClient(config: VaultConfig): vault.client {
  return vault({ apiVersion: 'v1', endpoint: config.address, token: config.token });
}

export function consulClient(config: ConsulConfig): Consul {
  return new Consul({
    host: config.host,
    port: config.port,
    secure: config.secure,
    ...(config.token ? { defaults: { token: config.token } } : {}),
  });
}
