// The one adapter for Database objects and their Events: reads, lists and watches, the status
// subresource, the finalizer and Events, for the watcher, the worker's activities, the CLI and
// the tests, all through the bounded clients of kube/bounded.ts. Every write first checks the
// UID, so a deleted-and-recreated object of the same name is never touched. Errors are the
// client's own (ApiException), a call out of time (KubeTimeoutError) or a connection's; each
// caller classifies them for its own retry policy.
import {
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type CustomObjectsApi,
} from '@kubernetes/client-node';
import {
  API_GROUP,
  API_VERSION,
  KIND,
  PLURAL,
  type Condition,
  type DatabaseObject,
  type DatabaseRef,
  type DatabaseStatus,
  type PendingApproval,
  type StatusUpdate,
} from '../contracts/database.js';
import { FINALIZER } from '../contracts/names.js';
import type { BoundedWatch } from './bounded.js';
import type { ObjectView, ObjectReading } from '../contracts/workflow.js';

export type DatabaseApi = Pick<
  CustomObjectsApi,
  'getNamespacedCustomObject' | 'patchNamespacedCustomObject' | 'patchNamespacedCustomObjectStatus'
>;

export type EventApi = Pick<CoreV1Api, 'createNamespacedEvent'>;

export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function httpCodeOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/**
 * A 404 that says this very object does not exist: a Status with reason NotFound naming it. A
 * bare 404 ("404 page not found": the CRD's version not served yet after an apiserver restart,
 * a proxy's route) says nothing of the object and is not taken for its absence.
 */
export function isNotFoundOf(error: unknown, name: string): boolean {
  if (httpCodeOf(error) !== 404) return false;
  let body: unknown = (error as ApiException<unknown>).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return false;
    }
  }
  const status = body as { kind?: string; reason?: string; details?: { name?: string } } | null;
  return status?.kind === 'Status' && status.reason === 'NotFound' && status.details?.name === name;
}

/** The Database of this namespace and name, or undefined when there is none (NotFound). */
export async function getDatabase(
  kube: Pick<DatabaseApi, 'getNamespacedCustomObject'>,
  namespace: string,
  name: string,
): Promise<DatabaseObject | undefined> {
  try {
    return (await kube.getNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: PLURAL,
      namespace,
      name,
    })) as DatabaseObject;
  } catch (error: unknown) {
    if (isNotFoundOf(error, name)) return undefined;
    throw error;
  }
}

/** Which Databases a list or a watch is about: one namespace or all, and a label selector. */
export interface DatabaseScope {
  /** undefined: every namespace */
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
}

export type DatabaseListApi = Pick<
  CustomObjectsApi,
  'listNamespacedCustomObject' | 'listClusterCustomObject'
>;

/** One page of a list: its items as the server sent them (not yet checked) and where it stands. */
export interface DatabaseListPage {
  readonly items: unknown[];
  readonly resourceVersion: string;
  /** where the next page starts; undefined on the last */
  readonly continueToken?: string;
}

/**
 * One page of the Databases in scope: `limit` items from `continueToken` on, or the whole list
 * at once when no limit is given. The one list of Databases: the watcher pages through it, the
 * CLI and the tests take it whole (`listDatabases`).
 */
export async function listDatabasePage(
  kube: DatabaseListApi,
  scope: DatabaseScope,
  page: { readonly limit?: number; readonly continueToken?: string | undefined } = {},
): Promise<DatabaseListPage> {
  const params = {
    group: API_GROUP,
    version: API_VERSION,
    plural: PLURAL,
    ...(scope.labelSelector ? { labelSelector: scope.labelSelector } : {}),
    ...(page.limit !== undefined ? { limit: page.limit } : {}),
    ...(page.continueToken ? { _continue: page.continueToken } : {}),
  };
  const list = (
    scope.namespace
      ? await kube.listNamespacedCustomObject({ ...params, namespace: scope.namespace })
      : await kube.listClusterCustomObject(params)
  ) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
  return {
    items: list.items ?? [],
    resourceVersion: list.metadata?.resourceVersion ?? '',
    ...(list.metadata?.continue ? { continueToken: list.metadata.continue } : {}),
  };
}

/** The Databases of one namespace, or of all (`namespace` undefined), matching the selector. */
export async function listDatabases(
  kube: DatabaseListApi,
  namespace: string | undefined,
  labelSelector?: string,
): Promise<DatabaseObject[]> {
  return (await listDatabasePage(kube, { namespace, labelSelector })).items as DatabaseObject[];
}

/**
 * Watches the Databases in scope from `resourceVersion`, with bookmarks, through a bounded
 * watch (kube/bounded.ts); the server ends it after `timeoutSeconds`.
 */
export function watchDatabases(
  watcher: BoundedWatch,
  scope: DatabaseScope,
  from: { readonly resourceVersion: string; readonly timeoutSeconds: number },
  on: { event: (type: string, object: unknown) => void; done: (error: unknown) => void },
  signal: AbortSignal,
): Promise<AbortController> {
  const path = scope.namespace
    ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${scope.namespace}/${PLURAL}`
    : `/apis/${API_GROUP}/${API_VERSION}/${PLURAL}`;
  const query = {
    // none: from the most recent state on
    resourceVersion: from.resourceVersion || undefined,
    allowWatchBookmarks: true,
    timeoutSeconds: from.timeoutSeconds,
    labelSelector: scope.labelSelector,
  };
  return watcher.watch(path, query, on.event, on.done, signal);
}

/**
 * The last version of each object this process read or wrote, by UID, bounded (the oldest is
 * dropped first). A write computed from it carries its resourceVersion, so a version that has
 * moved on answers 409 and the object is read again: the cache saves the read before each write
 * (the worker writes status several times per database), never a lost update. Beside them, the
 * versions others observed and handed on (`offer`: the watcher's, through the workflow), which only
 * status writes use: they hold no finalizers.
 */
export class KnownObjects {
  private readonly objects = new Map<string, DatabaseObject>();
  private readonly offered = new Map<string, DatabaseObject>();

  constructor(private readonly limit = 2_000) {}

  /** The object as this process last read or wrote it. */
  get(ref: DatabaseRef): DatabaseObject | undefined {
    return this.objects.get(ref.uid);
  }

  /** The newest version known for a status write: this process's own, or one handed on. */
  forStatus(ref: DatabaseRef): DatabaseObject | undefined {
    const mine = this.objects.get(ref.uid);
    const theirs = this.offered.get(ref.uid);
    if (!mine || !theirs) return mine ?? theirs;
    return newer(theirs, mine) ? theirs : mine;
  }

  remember(object: DatabaseObject | undefined): void {
    if (!object?.metadata?.uid) return;
    this.offered.delete(object.metadata.uid);
    bounded(this.objects, object.metadata.uid, object, this.limit);
  }

  /** A version someone else observed (the watcher's); kept for status writes. */
  offer(ref: DatabaseRef, version: { resourceVersion: string; conditions?: Condition[] }): void {
    const object = {
      metadata: { ...ref, resourceVersion: version.resourceVersion },
      status: version.conditions ? { conditions: version.conditions } : {},
    } as DatabaseObject;
    bounded(this.offered, ref.uid, object, this.limit);
  }

  forget(ref: DatabaseRef): void {
    this.objects.delete(ref.uid);
    this.offered.delete(ref.uid);
  }
}

function bounded<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

/**
 * Whether `a` is a later version than `b`. Versions are opaque to Kubernetes clients; this is
 * only a hint (etcd's revisions are numbers): every write is a compare-and-swap, and a version
 * that was not the newest costs one 409 and a read.
 */
function newer(a: DatabaseObject, b: DatabaseObject): boolean {
  return Number(a.metadata.resourceVersion) > Number(b.metadata.resourceVersion);
}

/** The workflow's view of an object: identity, generation, spec and the version observed. */
export function viewOf(object: DatabaseObject): ObjectView {
  const { namespace, name, uid, resourceVersion, finalizers } = object.metadata;
  const conditions = object.status?.conditions;
  const extra = {
    ...(conditions ? { conditions } : {}),
    ...(finalizers ? { finalizers } : {}),
  };
  return {
    metadata: { namespace, name, uid, generation: object.metadata.generation ?? 1 },
    spec: object.spec,
    ...(resourceVersion ? { version: { resourceVersion, ...extra } } : {}),
  };
}

/**
 * Reads the object back for its workflow: only a deletionTimestamp on the object with this UID
 * proves a delete; not found, or another UID under the name, is `gone` (never a delete).
 */
export async function readObject(kube: DatabaseApi, ref: DatabaseRef): Promise<ObjectReading> {
  const object = await getDatabase(kube, ref.namespace, ref.name);
  if (!object) return { state: 'gone' };
  if (object.metadata.uid !== ref.uid) return { state: 'gone', replacedBy: object.metadata.uid };
  if (object.metadata.deletionTimestamp) return { state: 'deleting', object: viewOf(object) };
  return { state: 'present', object: viewOf(object) };
}

/** The object if it still exists with this UID, else undefined. */
export async function currentObject(
  kube: DatabaseApi,
  ref: DatabaseRef,
): Promise<DatabaseObject | undefined> {
  const object = await getDatabase(kube, ref.namespace, ref.name);
  return object?.metadata.uid === ref.uid ? object : undefined;
}

/** The Ready condition in Kubernetes' shape, keeping its transition time when unchanged. */
function readyCondition(
  previous: Condition[] | undefined,
  update: StatusUpdate,
  now: Date,
): Condition {
  const status: Condition['status'] = update.phase === 'Available' ? 'True' : 'False';
  const before = previous?.find((c) => c.type === 'Ready');
  return {
    type: 'Ready',
    status,
    reason: update.reason ?? update.phase,
    message: update.message,
    lastTransitionTime:
      before && before.status === status ? before.lastTransitionTime : now.toISOString(),
    ...(update.observedGeneration !== undefined
      ? { observedGeneration: update.observedGeneration }
      : {}),
  };
}

/** How often a status write is tried again after another writer changed the object first. */
const STATUS_ATTEMPTS = 5;

/**
 * Writes phase, message and the Ready condition; false when the object is gone. Conflict-safe:
 * the patch carries the resourceVersion it was computed from, so a concurrent write (the
 * watcher's, the worker's) answers 409 and this one is computed again from the new object
 * instead of overwriting the other's fields (the conditions list is replaced as a whole).
 */
export async function writeStatus(
  kube: DatabaseApi,
  ref: DatabaseRef,
  update: StatusUpdate,
  now: Date,
  known = new KnownObjects(0),
): Promise<boolean> {
  return compareAndSwap({ kube, ref, known }, known.forStatus(ref), false, async (object) => {
    const newer = object.status?.observedGeneration ?? 0;
    if (update.rewrite && newer > (update.observedGeneration ?? 0)) return true;
    const written: unknown = await kube.patchNamespacedCustomObjectStatus(
      {
        group: API_GROUP,
        version: API_VERSION,
        plural: PLURAL,
        namespace: ref.namespace,
        name: ref.name,
        body: {
          metadata: { resourceVersion: object.metadata.resourceVersion },
          status: statusOf(object, update, now),
        },
      },
      mergePatch,
    );
    known.remember(written as DatabaseObject);
    return true;
  });
}

/**
 * One write computed from the object (as known, else read) and sent with its resourceVersion: a
 * 409 (another writer came first) reads the object again and computes the write anew, up to
 * STATUS_ATTEMPTS times; an object that is gone (or another UID under the name) gives `gone`.
 */
async function compareAndSwap<T>(
  { kube, ref, known }: { kube: DatabaseApi; ref: DatabaseRef; known: KnownObjects },
  start: DatabaseObject | undefined,
  gone: T,
  write: (object: DatabaseObject) => Promise<T>,
): Promise<T> {
  let object = start ?? (await currentObject(kube, ref));
  for (let attempt = 1; ; attempt++) {
    if (!object) {
      known.forget(ref);
      return gone;
    }
    try {
      return await write(object);
    } catch (error: unknown) {
      // only a NotFound naming the object is gone: a bare 404 (a CRD version not served yet)
      // is an error like any other, retried by the caller
      if (isNotFoundOf(error, ref.name)) {
        known.forget(ref);
        return gone;
      }
      if (httpCodeOf(error) !== 409 || attempt >= STATUS_ATTEMPTS) throw error;
    }
    object = await currentObject(kube, ref);
  }
}

/**
 * The fields an update states; one it leaves out (or empty) is not in the merge patch, so what
 * an earlier write put there is kept.
 */
function written<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined && value !== ''),
  ) as Partial<T>;
}

/** The status an update makes of the object's current one (as a merge patch). */
function statusOf(object: DatabaseObject, update: StatusUpdate, now: Date) {
  const others = (object.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
  const status: Omit<DatabaseStatus, 'pendingApproval' | 'parameters'> & {
    pendingApproval: PendingApproval | null;
    parameters?: { group: string; pendingReboot: string[] | null };
  } = {
    phase: update.phase,
    message: update.message,
    conditions: [...others, readyCondition(object.status?.conditions, update, now)],
    ...(update.observedGeneration !== undefined
      ? { observedGeneration: update.observedGeneration }
      : {}),
    ...written({
      dbInstanceIdentifier: update.dbInstanceIdentifier,
      endpoint: update.endpoint,
      secretRef: update.vaultPath ? { vaultPath: update.vaultPath } : undefined,
      consulKey: update.consulKey,
      workflowId: update.workflowId,
      adoptedFrom: update.adoptedFrom,
      restoredFrom: update.restoredFrom,
      class: update.class,
    }),
    // merge patch: null removes the reboot an earlier write said was pending
    ...(update.parameters
      ? {
          parameters: {
            group: update.parameters.group,
            pendingReboot: update.parameters.pendingReboot ?? null,
          },
        }
      : {}),
    // merge patch: null removes what an earlier AwaitingApproval wrote
    pendingApproval: update.pendingApproval ?? null,
  };
  return status;
}

/**
 * Adds our finalizer so the object outlives its database; false when it cannot. Given the
 * object as last watched (a watch event), it first tries a compare-and-swap on that version and
 * reads the object only if it has moved on.
 */
export async function addFinalizer(
  kube: DatabaseApi,
  ref: DatabaseRef,
  watched?: DatabaseObject,
  known = new KnownObjects(0),
): Promise<boolean> {
  if (watched && watched.metadata.uid === ref.uid && !watched.metadata.deletionTimestamp) {
    const finalizers = watched.metadata.finalizers ?? [];
    if (finalizers.includes(FINALIZER)) return true;
    try {
      known.remember(await patchFinalizers(kube, watched, [...finalizers, FINALIZER]));
      return true;
    } catch (error: unknown) {
      const code = httpCodeOf(error);
      if (code !== 409 && code !== 404) throw error;
    }
  }
  const object = await currentObject(kube, ref);
  known.remember(object);
  if (!object) return false;
  const finalizers = object.metadata.finalizers ?? [];
  if (finalizers.includes(FINALIZER)) return true;
  // NOTE: Kubernetes forbids new finalizers on an object that is already being deleted
  if (object.metadata.deletionTimestamp) return false;
  known.remember(await patchFinalizers(kube, object, [...finalizers, FINALIZER]));
  return true;
}

/**
 * Removes our finalizer, letting Kubernetes delete the object; true when it is not there. From
 * the object as last known when there is one (a compare-and-swap on its version), else read.
 */
export async function removeFinalizer(
  kube: DatabaseApi,
  ref: DatabaseRef,
  known = new KnownObjects(0),
): Promise<boolean> {
  return compareAndSwap({ kube, ref, known }, known.get(ref), true, async (object) => {
    const finalizers = object.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) return true;
    await patchFinalizers(
      kube,
      object,
      finalizers.filter((f) => f !== FINALIZER),
    );
    known.forget(ref);
    return true;
  });
}

async function patchFinalizers(
  kube: DatabaseApi,
  object: DatabaseObject,
  finalizers: string[],
): Promise<DatabaseObject> {
  return (await kube.patchNamespacedCustomObject(
    {
      group: API_GROUP,
      version: API_VERSION,
      plural: PLURAL,
      namespace: object.metadata.namespace,
      name: object.metadata.name,
      // resourceVersion makes this a compare-and-swap: a concurrent change answers 409
      body: { metadata: { finalizers, resourceVersion: object.metadata.resourceVersion } },
    },
    mergePatch,
  )) as DatabaseObject;
}

export interface DatabaseEvent {
  readonly type: 'Normal' | 'Warning';
  /** CamelCase, e.g. InvalidSpec */
  readonly reason: string;
  readonly message: string;
}

/**
 * The name only has to be unique; kubectl's convention is <object>.<hex time>. The object's part
 * is cut so the whole stays within the 253 characters of a DNS subdomain.
 */
export function eventName(objectName: string, now: Date): string {
  const suffix = `${now.getTime().toString(16)}${Math.floor(Math.random() * 0xfff)
    .toString(16)
    .padStart(3, '0')}`;
  const head = objectName.slice(0, 253 - suffix.length - 1).replace(/[.-]+$/, '');
  return `${head}.${suffix}`;
}

/** What an Event is about: a Database (by default), or a Namespace (no object to hang it on). */
export interface EventSubject {
  readonly kind: 'Database' | 'Namespace';
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

function involved(subject: EventSubject) {
  return subject.kind === 'Namespace'
    ? { apiVersion: 'v1', kind: 'Namespace', name: subject.name }
    : {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: KIND,
        namespace: subject.namespace,
        name: subject.name,
        ...(subject.uid ? { uid: subject.uid } : {}),
      };
}

/** Records a Kubernetes Event on the object (`kubectl describe` shows it), or on a namespace. */
export async function recordEvent(
  events: EventApi,
  ref: DatabaseRef | EventSubject,
  event: DatabaseEvent,
  component: string,
  now: Date,
): Promise<void> {
  const subject: EventSubject = 'kind' in ref ? ref : { kind: 'Database', ...ref };
  await events.createNamespacedEvent({
    namespace: subject.namespace,
    body: {
      metadata: {
        name: eventName(subject.name, now),
        namespace: subject.namespace,
      },
      involvedObject: involved(subject),
      type: event.type,
      reason: event.reason,
      // NOTE: the apiserver refuses Event messages over 1 KiB
      message: event.message.length > 1000 ? `${event.message.slice(0, 997)}...` : event.message,
      source: { component },
      reportingComponent: component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
}
