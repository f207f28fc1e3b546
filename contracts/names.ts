// Names derived from a Database's identity: the workflow ID, the RDS instance identifier, the
// Vault and Consul paths, the default database name. Pure and deterministic (no node:crypto),
// so any process, and a workflow if it must, derives the same names.
import type { DatabaseRef, Engine } from './database.js';

export const TASK_QUEUE_DEFAULT = 'rdsflow';
export const SECRET_PREFIX = 'rdsflow';
export const CONSUL_PREFIX = 'rdsflow';

/** Keeps a Database object until its workflow reports the database gone. */
export const FINALIZER = 'rdsflow.io/finalizer';

/**
 * Tags on an RDS instance. `uid` is the proof of ownership checked before every change;
 * `run` names the workflow run whose create made the instance, so a cancel
 * undoes only its own; `credential` names the Vault secret version whose password the instance
 * has; `retainedFrom` marks an instance released by a deletion under `deletionPolicy: Retain`.
 */
export const TAG_KEYS = {
  namespace: 'rdsflow.io/namespace',
  name: 'rdsflow.io/name',
  uid: 'rdsflow.io/uid',
  run: 'rdsflow.io/created-by-run',
  credential: 'rdsflow.io/credential-id',
  retainedFrom: 'rdsflow.io/retained-from',
  /** the UID a retained (or orphaned) instance was taken over from: where it came from */
  adoptedFrom: 'rdsflow.io/adopted-from',
  /**
   * rdsflow turned deletion protection off for a deletion that has not happened yet: an
   * instance kept after all (a switch to Retain, an orphaning) gets it back on
   */
  protectionLifted: 'rdsflow.io/protection-lifted',
} as const;

/** Custom metadata on the KV v2 secret, and the Consul key beside the endpoint keys. */
export const OWNER_KEYS = {
  /** the UID of the object whose workflow wrote the entry; only it may remove the entry */
  uid: 'rdsflow-uid',
  /** which password this is: the instance's `credential` tag says whether it has it */
  credential: 'rdsflow-credential-id',
  /** `true` once a deletion under Retain kept the secret for a later, explicit adoption */
  retained: 'rdsflow-retained',
} as const;

const HASH_LENGTH = 8;

/**
 * The identity of a cluster: its `kube-system` namespace's UID, or what RDSFLOW_CLUSTER_ID says
 * (a restored cluster keeps the old one's UIDs, so two of them need distinct settings). A DNS
 * label, so it fits a workflow ID and a task queue name unambiguously.
 */
export const CLUSTER_ID_PATTERN = /^[a-z0-9](?:[-a-z0-9]{0,62}[a-z0-9])?$/;

/** An object of one cluster: what a workflow is keyed by and what a signal must name. */
export interface WorkflowRef extends DatabaseRef {
  readonly cluster: string;
}

/**
 * One workflow per object, keyed by its UID and its cluster's identity: two clusters sharing a
 * Temporal namespace (or a restored cluster beside the old one, same UIDs) never share one.
 * Namespace and name make it readable in the UI.
 */
export function workflowIdFor(ref: DatabaseRef, cluster: string): string {
  return `database/${ref.namespace}/${ref.name}/${ref.uid}@${cluster}`;
}

/** The object (and cluster) a workflow ID names, or undefined for any other workflow. */
export function refFromWorkflowId(workflowId: string): WorkflowRef | undefined {
  const match = /^database\/([^/@]+)\/([^/@]+)\/([^/@]+)@([^/@]+)$/.exec(workflowId);
  if (!match) return undefined;
  const [, namespace = '', name = '', uid = '', cluster = ''] = match;
  return { namespace, name, uid, cluster };
}

/**
 * The task queue a cluster's workflows run on: the configured one, per cluster. A worker runs
 * only its own cluster's workflows, so its Kubernetes writes and its AWS credentials never
 * serve another cluster's objects, whatever settings the two share.
 */
export function taskQueueFor(base: string, cluster: string): string {
  return `${base}@${cluster}`;
}

/**
 * A 40-bit hash, base-36: two independent 32-bit FNV-1a lanes over the UTF-16 code units.
 * Collisions only matter between objects whose readable prefix is identical too.
 */
export function shortHash(input: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  const value = (a >>> 0) * 256 + ((b >>> 0) & 0xff);
  return value.toString(36).padStart(HASH_LENGTH, '0').slice(-HASH_LENGTH);
}

/**
 * The final snapshot of one deletion: unique per deleting run (a cancel's rollback, a later
 * delete and a re-provision's delete never collide), the same for every retry of that run.
 */
export function finalSnapshotIdentifier(dbInstanceIdentifier: string, runId: string): string {
  return `${dbInstanceIdentifier}-final-${shortHash(runId)}`;
}

export const RDS_IDENTIFIER_PATTERN = /^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;

/** DNS-1123 label: what Kubernetes allows as a namespace. */
export const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** DNS-1123 subdomain: what Kubernetes allows as a custom object's name. */
export const DNS_SUBDOMAIN =
  /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** Why a namespace/name pair cannot name a path, or undefined when it can. */
export function refProblem(namespace: string, name: string): string | undefined {
  if (!DNS_LABEL.test(namespace))
    return `metadata.namespace: ${JSON.stringify(namespace)} is not a DNS-1123 label`;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return `metadata.name: ${JSON.stringify(name).slice(0, 80)} is not a DNS-1123 subdomain`;
  }
  return undefined;
}

function checkedPath(prefix: string, namespace: string, name: string): string {
  const problem = refProblem(namespace, name);
  // DNS names have no '/', no '..' and no empty segments: the path cannot leave its prefix
  if (problem) throw new Error(`refusing to build a path: ${problem}`);
  return `${prefix}/${namespace}/${name}`;
}

/** The KV v2 path (below the mount) that holds the object's credentials. */
export function vaultSecretPath(namespace: string, name: string): string {
  return checkedPath(SECRET_PREFIX, namespace, name);
}

/** The Consul KV folder holding host, port, dbname and engine. */
export function consulKeyPrefix(namespace: string, name: string): string {
  return checkedPath(CONSUL_PREFIX, namespace, name);
}

const RESERVED_DATABASE_NAMES: Record<Engine, readonly string[]> = {
  postgres: ['postgres', 'template0', 'template1', 'rdsadmin'],
  mysql: ['mysql', 'information_schema', 'performance_schema', 'sys', 'rdsadmin'],
  mariadb: ['mysql', 'information_schema', 'performance_schema', 'sys', 'rdsadmin'],
};

export function isReservedDatabaseName(engine: Engine, name: string): boolean {
  return RESERVED_DATABASE_NAMES[engine].includes(name.toLowerCase());
}

/** The initial database's name when the spec has none: from metadata.name, made valid. */
export function defaultDatabaseName(engine: Engine, objectName: string): string {
  const words = objectName.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const named = /^[A-Za-z]/.test(words) ? words : `db_${words}`.replace(/_+$/, '');
  const trimmed = named.slice(0, 63).replace(/_+$/, '');
  return isReservedDatabaseName(engine, trimmed) ? `${trimmed}_db` : trimmed;
}
