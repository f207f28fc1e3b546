// Kubernetes activities: the object's status subresource and its finalizer (kube/databases.ts
// does the work; here its errors become the workflow's failure types).
import { activityInfo, log } from '@temporalio/activity';
import type { DatabaseRef, StatusUpdate } from '../contracts/database.js';
import type { DatabaseNames } from '../contracts/resolved.js';
import type { ObjectReading, ObjectVersion } from '../contracts/workflow.js';
import { FINALIZER } from '../contracts/names.js';
import { deletionPolicyOf } from '../contracts/resolved.js';
import {
  addFinalizer,
  currentObject,
  getDatabase,
  KnownObjects,
  readObject,
  recordEvent,
  removeFinalizer,
  writeStatus,
  type DatabaseApi,
  type DatabaseEvent,
  type EventApi,
  type EventSubject,
} from '../kube/databases.js';
import { classifyError } from './errors.js';
import type { ObjectReader } from './rds-instance.js';

export interface KubeDeps {
  readonly kube: DatabaseApi;
  readonly events: EventApi;
  /** the clock for condition transition times (activities may read it; tests pin it) */
  readonly now?: () => Date;
}

export async function classified<T>(step: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    throw classifyError('Kubernetes', step, error, activityInfo().attempt);
  }
}

export interface KubeStatusActivities {
  reportStatus(
    ref: DatabaseRef,
    update: StatusUpdate,
    version?: ObjectVersion,
  ): Promise<{ written: boolean }>;
  ensureFinalizer(ref: DatabaseRef, version?: ObjectVersion): Promise<{ present: boolean }>;
  recordEvent(ref: DatabaseRef, event: DatabaseEvent): Promise<{ recorded: boolean }>;
  releaseFinalizer(ref: DatabaseRef): Promise<{ released: boolean }>;
  readObject(ref: DatabaseRef): Promise<ObjectReading>;
  recordOrphaned(names: DatabaseNames, instance: string): Promise<{ recorded: boolean }>;
}

/** What an orphaned database's Warning Event says: what was kept, and how to take it back. */
function orphanedMessage(names: DatabaseNames, instance: string): string {
  const { namespace, name, uid } = names.ref;
  const kept =
    instance === 'released'
      ? `RDS instance ${names.dbInstanceIdentifier} is kept and marked released (tag rdsflow.io/retained-from=${uid})`
      : instance === 'absent'
        ? `there was no RDS instance ${names.dbInstanceIdentifier}`
        : `RDS instance ${names.dbInstanceIdentifier} is not this Database's and was not touched`;
  return (
    `Database ${namespace}/${name} (uid ${uid}) disappeared without a delete (its finalizer ` +
    'removed by hand, or the cluster restored from a backup): rdsflow deleted nothing. ' +
    `${kept}; its credentials stay in Vault at ${names.vaultPath} and its Consul entries at ` +
    `${names.consulKey}. To take them back, apply a Database ${namespace}/${name} with ` +
    `spec.adoptRetained: true (or run \`rdsflow adopt ${namespace}/${name}\`).`
  );
}

/**
 * Says that a vanished object's database was orphaned, where people will look: on a new object
 * of the same name if there is one (a restore), else on the namespace.
 */
async function recordOrphaned(
  deps: KubeDeps,
  at: Date,
  names: DatabaseNames,
  instance: string,
): Promise<{ recorded: boolean }> {
  const { namespace, name } = names.ref;
  const current = await classified('recordOrphaned', () => getDatabase(deps.kube, namespace, name));
  const subject: EventSubject = current
    ? { kind: 'Database', namespace, name, uid: current.metadata.uid }
    : { kind: 'Namespace', namespace, name: namespace };
  const message = orphanedMessage(names, instance);
  log.warn(message, { namespace, name, uid: names.ref.uid, reason: 'Orphaned' });
  try {
    const event = { type: 'Warning', reason: 'Orphaned', message } as const;
    await recordEvent(deps.events, subject, event, 'rdsflow-worker', at);
    return { recorded: true };
  } catch (error: unknown) {
    log.warn('event not recorded', { namespace, name, error: String(error) });
    return { recorded: false };
  }
}

/**
 * The object a destructive RDS call is made for, read right before the call: its newest
 * deletion policy, or `gone` (no object of the name with this UID).
 */
export function objectReader(deps: KubeDeps): ObjectReader {
  return {
    policy: (ref) =>
      classified('readPolicy', async () => {
        const object = await currentObject(deps.kube, ref);
        return object ? deletionPolicyOf(object.spec) : 'gone';
      }),
  };
}

export function createKubeStatusActivities(deps: KubeDeps): KubeStatusActivities {
  const now = deps.now ?? (() => new Date());
  // the objects as this worker last read or wrote them: no read before each write
  const known = new KnownObjects();
  return {
    /** Writes phase, message and the Ready condition; false when the object is gone. */
    async reportStatus(
      ref: DatabaseRef,
      update: StatusUpdate,
      version?: ObjectVersion,
    ): Promise<{ written: boolean }> {
      if (version) known.offer(ref, version);
      const written = await classified('reportStatus', () =>
        writeStatus(deps.kube, ref, update, now(), known),
      );
      return { written };
    },

    /** Adds our finalizer so the object outlives its database; false when it cannot. */
    async ensureFinalizer(
      ref: DatabaseRef,
      version?: ObjectVersion,
    ): Promise<{ present: boolean }> {
      // the watcher adds it before it starts the workflow, and hands on the version it left:
      // rdsflow's finalizer there is the proof, without a read (a workflow started otherwise reads)
      if (!known.get(ref) && version?.finalizers?.includes(FINALIZER)) return { present: true };
      const present = await classified('ensureFinalizer', () =>
        addFinalizer(deps.kube, ref, known.get(ref), known),
      );
      return { present };
    },

    /**
     * Records an Event on the object (`kubectl describe` shows it) and the same line in the
     * worker's log; best effort: an Event that cannot be written is only logged.
     */
    async recordEvent(ref: DatabaseRef, event: DatabaseEvent): Promise<{ recorded: boolean }> {
      const line = { namespace: ref.namespace, name: ref.name, uid: ref.uid, reason: event.reason };
      if (event.type === 'Warning') log.warn(event.message, line);
      else log.info(event.message, line);
      try {
        await recordEvent(deps.events, ref, event, 'rdsflow-worker', now());
        return { recorded: true };
      } catch (error: unknown) {
        log.warn('event not recorded', { ...line, error: String(error) });
        return { recorded: false };
      }
    },

    /** Reads the object back: only a deletionTimestamp proves a delete (kube/databases.ts). */
    readObject: (ref) => classified('readObject', () => readObject(deps.kube, ref)),

    recordOrphaned: (names, instance) => recordOrphaned(deps, now(), names, instance),

    /** Removes our finalizer once the database is gone, letting Kubernetes delete the object. */
    async releaseFinalizer(ref: DatabaseRef): Promise<{ released: boolean }> {
      const released = await classified('releaseFinalizer', () =>
        removeFinalizer(deps.kube, ref, known),
      );
      log.info('finalizer released', { namespace: ref.namespace, name: ref.name });
      return { released };
    },
  };
}
