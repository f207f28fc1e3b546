// Consul activities: the endpoint (never the password) under rdsflow/<namespace>/<name>/, and
// the instance registered as an external service so applications can discover it.
import { activityInfo } from '@temporalio/activity';
import type Consul from 'consul';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import type { Endpoint } from '../contracts/workflow.js';
import { classifyStoreError } from './errors.js';

export interface ConsulSlice {
  readonly kv: Pick<Consul['kv'], 'set' | 'del'>;
  readonly catalog: Pick<Consul['catalog'], 'register' | 'deregister'>;
}

export interface ConsulDeps {
  readonly consul: ConsulSlice;
}

async function guarded<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error: unknown) {
    throw classifyStoreError('Consul', step, error, activityInfo().attempt);
  }
}

export function consulValues(db: ResolvedDatabase, endpoint: Endpoint): Record<string, string> {
  return {
    host: endpoint.host,
    port: String(endpoint.port),
    dbname: db.databaseName,
    engine: db.engine,
  };
}

export function createConsulActivities(deps: ConsulDeps) {
  const { consul } = deps;
  return {
    async publishToConsul(
      db: ResolvedDatabase,
      endpoint: Endpoint,
    ): Promise<{ consulKey: string; service: string }> {
      return guarded('publishToConsul', async () => {
        for (const [key, value] of Object.entries(consulValues(db, endpoint))) {
          await consul.kv.set(`${db.consulKey}/${key}`, value);
        }
        // NOTE: an RDS instance is on no agent's node, so it is registered as an external node
        // of its own (Consul's pattern for external services), named like the instance
        await consul.catalog.register({
          node: db.dbInstanceIdentifier,
          address: endpoint.host,
          nodemeta: { 'external-node': 'true', 'external-probe': 'false' },
          service: {
            id: db.dbInstanceIdentifier,
            service: db.dbInstanceIdentifier,
            address: endpoint.host,
            port: endpoint.port,
            tags: ['rdsflow', db.engine],
            meta: {
              namespace: db.ref.namespace,
              name: db.ref.name,
              uid: db.ref.uid,
              dbname: db.databaseName,
            },
          },
        });
        return { consulKey: db.consulKey, service: db.dbInstanceIdentifier };
      });
    },

    async removeFromConsul(db: DatabaseNames): Promise<void> {
      await guarded('removeFromConsul', async () => {
        // the trailing slash keeps a recursive delete inside this object's folder
        await consul.kv.del({ key: `${db.consulKey}/`, recurse: true });
        await consul.catalog.deregister({ node: db.dbInstanceIdentifier });
      });
    },
  };
}
