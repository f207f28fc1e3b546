// The control plane's clients (Temporal, Kubernetes), built from parsed configuration: all the
// watcher and the CLI need. Kept apart from the data stores' clients (config/clients.ts) so that
// a process that never calls RDS, Vault or Consul does not load their SDKs.
import { KubeConfig as KubeClientConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { KubeConfig, TemporalConfig } from './config.js';

/**
 * Address, TLS and API key for a Temporal connection (client or worker): a local dev server
 * needs only the address; a production cluster mTLS files or Temporal Cloud an API key.
 */
export function temporalConnectionOptions(config: TemporalConfig): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
} {
  const { tls } = config;
  return {
    address: config.address,
    ...(tls
      ? {
          tls: {
            ...(tls.caFile ? { serverRootCACertificate: readFileSync(tls.caFile) } : {}),
            ...(tls.certFile && tls.keyFile
              ? {
                  clientCertPair: {
                    crt: readFileSync(tls.certFile),
                    key: readFileSync(tls.keyFile),
                  },
                }
              : {}),
            ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          },
        }
      : {}),
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  };
}

export async function connectTemporal(config: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(config));
  return new Client({ connection, namespace: config.namespace });
}

/** A client that connects on its first call: a process can start while Temporal is down. */
export function lazyTemporal(config: TemporalConfig): Client {
  const connection = Connection.lazy(temporalConnectionOptions(config));
  return new Client({ connection, namespace: config.namespace });
}

export function kubeClientConfig(config: KubeConfig): KubeClientConfig {
  const kc = new KubeClientConfig();
  if (config.kubeconfigPath) kc.loadFromFile(config.kubeconfigPath);
  else kc.loadFromDefault();
  return kc;
}
