// Consul activities: the endpoint (never the password) under rdsflow/<namespace>/<name>/, with
// the UID of the object that wrote it beside the keys, and the instance registered as an
// external service (its meta carries the UID too). Only that UID's workflow removes them.
import { activityInfo, log } from '@temporalio/activity';
import type Consul from 'consul';
import { OWNER_KEYS } from '../contracts/names.js';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import { FAILURE, type Endpoint } from '../contracts/workflow.js';
import { httpStatusOf } from '../runtime/failure-type.js';
import { classifyError, terminal, transient } from './errors.js';

export interface ConsulSlice {
  readonly kv: Pick<Consul['kv'], 'get' | 'set'>;
  readonly catalog: Pick<Consul['catalog'], 'register' | 'deregister'> & {
    readonly node: Pick<Consul['catalog']['node'], 'services'>;
  };
  readonly transaction: Pick<Consul['transaction'], 'create'>;
}

export interface ConsulDeps {
  readonly consul: ConsulSlice;
}

async function guarded<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error: unknown) {
    throw classifyError('Consul', step, error, activityInfo().attempt);
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

const ownerKey = (db: DatabaseNames) => `${db.consulKey}/${OWNER_KEYS.uid}`;

/** The UID written beside the keys, with the index a check-and-set needs. */
async function owner(
  consul: ConsulSlice,
  db: DatabaseNames,
): Promise<{ uid: string; index: number } | undefined> {
  const entry = (await consul.kv.get(ownerKey(db))) as
    { Value?: string | null; ModifyIndex?: number } | undefined | null;
  if (!entry) return undefined;
  return { uid: entry.Value ?? '', index: entry.ModifyIndex ?? 0 };
}

/**
 * The owner of the service registered under the instance's node name: its `uid` meta, `''` for
 * a service rdsflow did not mark, undefined when none is registered.
 */
async function serviceOwner(consul: ConsulSlice, db: DatabaseNames): Promise<string | undefined> {
  const node = (await consul.catalog.node.services(db.dbInstanceIdentifier)) as {
    Services?: Record<string, { Meta?: Record<string, string> | null }>;
  } | null;
  const services = Object.values(node?.Services ?? {});
  if (services.length === 0) return undefined;
  return services.find((s) => s.Meta?.['uid'] === db.ref.uid)
    ? db.ref.uid
    : (services[0]?.Meta?.['uid'] ?? '');
}

function entryNotOurs(db: DatabaseNames, what: string, owner: string): Error {
  return terminal(
    FAILURE.entryNotOurs,
    `${what} ${owner ? `was written for the Database with uid ${owner}` : 'was not written by rdsflow'}, ` +
      `not this one (uid ${db.ref.uid})`,
    { consulKey: db.consulKey, ownerUid: owner },
  );
}

/** Writes the owner key, then the endpoint keys, then the external service. */
async function publish(
  consul: ConsulSlice,
  db: ResolvedDatabase,
  endpoint: Endpoint,
): Promise<void> {
  // the owner first: keys that exist are always marked with the UID that wrote them
  await consul.kv.set(ownerKey(db), db.ref.uid);
  for (const [key, value] of Object.entries(consulValues(db, endpoint))) {
    await consul.kv.set(`${db.consulKey}/${key}`, value);
  }
  // NOTE: an RDS instance is on no agent's node, so it is registered as an external node of
  // its own (Consul's pattern for external services), named like the instance
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
}

export async function publishToConsul(
  deps: ConsulDeps,
  db: ResolvedDatabase,
  endpoint: Endpoint,
): Promise<{ consulKey: string; service: string }> {
  return guarded('publishToConsul', async () => {
    // keys and service under the same owner check: another object's are taken over only by an
    // explicit adoption of what it left behind
    const found = await owner(deps.consul, db);
    if (found && found.uid !== db.ref.uid && !db.adoptRetained) {
      throw entryNotOurs(db, `Consul keys ${db.consulKey}/`, found.uid);
    }
    const service = await serviceOwner(deps.consul, db);
    if (service !== undefined && service !== db.ref.uid && !db.adoptRetained) {
      throw entryNotOurs(db, `Consul service ${db.dbInstanceIdentifier}`, service);
    }
    await publish(deps.consul, db, endpoint);
    return { consulKey: db.consulKey, service: db.dbInstanceIdentifier };
  });
}

/** Deletes the keys in one transaction whose first operation checks the owner key's index. */
async function removeKeys(consul: ConsulSlice, db: DatabaseNames, index: number): Promise<void> {
  const operations = [
    { KV: { Verb: 'check-index', Key: ownerKey(db), Index: index } },
    // the trailing slash keeps the recursive delete inside this object's folder
    { KV: { Verb: 'delete-tree', Key: `${db.consulKey}/` } },
  ];
  try {
    // NOTE: consul 2.0.1 takes the operations array itself; its typings say an object
    await consul.transaction.create(operations as unknown as { operations: [] });
  } catch (error: unknown) {
    // NOTE: Consul answers 409 when a check of the transaction fails: read it again
    if (httpStatusOf(error) === 409) {
      throw transient('removeFromConsul: the owner key changed; reading it again', 1);
    }
    throw error;
  }
}

/**
 * Removes this object's keys and service. The keys go in one transaction that first checks
 * the owner key is still this UID's (check-index): proven at the moment of the effect. The
 * service goes under the same check: its own `uid` meta is this UID's, and the keys are not
 * another object's.
 */
export async function removeFromConsul(
  deps: ConsulDeps,
  db: DatabaseNames,
): Promise<{ removed: boolean; owner?: string }> {
  return guarded('removeFromConsul', async () => {
    const found = await owner(deps.consul, db);
    const removed = found?.uid === db.ref.uid;
    if (removed) await removeKeys(deps.consul, db, found.index);
    else if (found) {
      log.warn('Consul keys of another object left in place', {
        consulKey: db.consulKey,
        owner: found.uid,
        uid: db.ref.uid,
      });
    }
    const keysOk = found === undefined || removed;
    if (keysOk && (await serviceOwner(deps.consul, db)) === db.ref.uid) {
      await deps.consul.catalog.deregister({ node: db.dbInstanceIdentifier });
    }
    return { removed, ...(found && !removed ? { owner: found.uid } : {}) };
  });
}

export interface ConsulActivities {
  publishToConsul(db: ResolvedDatabase, endpoint: Endpoint): ReturnType<typeof publishToConsul>;
  removeFromConsul(db: DatabaseNames): ReturnType<typeof removeFromConsul>;
}

export function createConsulActivities(deps: ConsulDeps): ConsulActivities {
  return {
    publishToConsul: (db, endpoint) => publishToConsul(deps, db, endpoint),
    removeFromConsul: (db) => removeFromConsul(deps, db),
  };
}
