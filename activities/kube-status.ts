// Kubernetes activities: the object's status subresource and its finalizer. Every write first
// checks the UID, so a deleted-and-recreated object of the same name is never touched.
import {
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  type CustomObjectsApi,
} from '@kubernetes/client-node';
import { activityInfo, log } from '@temporalio/activity';
import {
  API_GROUP,
  API_VERSION,
  PLURAL,
  type Condition,
  type DatabaseObject,
  type DatabaseRef,
  type DatabaseStatus,
  type Phase,
} from '../contracts/database.js';
import { FINALIZER } from '../contracts/names.js';
import type { Endpoint } from '../contracts/workflow.js';
import { FAILURE } from '../contracts/workflow.js';
import { terminal, transient } from './errors.js';

export type KubeSlice = Pick<
  CustomObjectsApi,
  'getNamespacedCustomObject' | 'patchNamespacedCustomObject' | 'patchNamespacedCustomObjectStatus'
>;

export interface KubeDeps {
  readonly kube: KubeSlice;
  /** the clock for condition transition times (activities may read it; tests pin it) */
  readonly now?: () => Date;
}

export interface StatusUpdate {
  readonly phase: Phase;
  readonly message: string;
  /** CamelCase reason for the Ready condition; defaults to the phase */
  readonly reason?: string;
  readonly observedGeneration?: number;
  readonly dbInstanceIdentifier?: string;
  readonly endpoint?: Endpoint;
  readonly vaultPath?: string;
  readonly consulKey?: string;
  readonly workflowId?: string;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function codeOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

function classifyKubeError(step: string, error: unknown): Error {
  const code = codeOf(error);
  if (code === 401 || code === 403) {
    return terminal(
      FAILURE.storeRejected,
      `${step}: Kubernetes refused (HTTP ${code}); check the worker's RBAC`,
    );
  }
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return transient(`${step}: Kubernetes unavailable: ${detail}`, activityInfo().attempt, error);
}

/** The object if it still exists with this UID, else undefined. */
async function current(
  deps: KubeDeps,
  ref: DatabaseRef,
  step: string,
): Promise<DatabaseObject | undefined> {
  try {
    const object = (await deps.kube.getNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: PLURAL,
      namespace: ref.namespace,
      name: ref.name,
    })) as DatabaseObject;
    return object.metadata.uid === ref.uid ? object : undefined;
  } catch (error: unknown) {
    if (codeOf(error) === 404) return undefined;
    throw classifyKubeError(step, error);
  }
}

/** The Ready condition in Kubernetes' shape, keeping its transition time when unchanged. */
export function readyCondition(
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

export function createKubeStatusActivities(deps: KubeDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Writes phase, message and the Ready condition; false when the object is gone. */
    async reportStatus(ref: DatabaseRef, update: StatusUpdate): Promise<{ written: boolean }> {
      const object = await current(deps, ref, 'reportStatus');
      if (!object) return { written: false };
      const others = (object.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
      const status: DatabaseStatus = {
        phase: update.phase,
        message: update.message,
        conditions: [...others, readyCondition(object.status?.conditions, update, now())],
        ...(update.observedGeneration !== undefined
          ? { observedGeneration: update.observedGeneration }
          : {}),
        ...(update.dbInstanceIdentifier
          ? { dbInstanceIdentifier: update.dbInstanceIdentifier }
          : {}),
        ...(update.endpoint ? { endpoint: update.endpoint } : {}),
        ...(update.vaultPath ? { secretRef: { vaultPath: update.vaultPath } } : {}),
        ...(update.consulKey ? { consulKey: update.consulKey } : {}),
        ...(update.workflowId ? { workflowId: update.workflowId } : {}),
      };
      try {
        await deps.kube.patchNamespacedCustomObjectStatus(
          {
            group: API_GROUP,
            version: API_VERSION,
            plural: PLURAL,
            namespace: ref.namespace,
            name: ref.name,
            body: { status },
          },
          mergePatch,
        );
      } catch (error: unknown) {
        if (codeOf(error) === 404) return { written: false };
        throw classifyKubeError('reportStatus', error);
      }
      return { written: true };
    },

    /** Adds our finalizer so the object outlives its database; false when it cannot. */
    async ensureFinalizer(ref: DatabaseRef): Promise<{ present: boolean }> {
      const object = await current(deps, ref, 'ensureFinalizer');
      if (!object) return { present: false };
      const finalizers = object.metadata.finalizers ?? [];
      if (finalizers.includes(FINALIZER)) return { present: true };
      // NOTE: Kubernetes forbids new finalizers on an object that is already being deleted
      if (object.metadata.deletionTimestamp) return { present: false };
      await patchFinalizers(deps, object, [...finalizers, FINALIZER], 'ensureFinalizer');
      return { present: true };
    },

    /** Removes our finalizer once the database is gone, letting Kubernetes delete the object. */
    async releaseFinalizer(ref: DatabaseRef): Promise<{ released: boolean }> {
      const object = await current(deps, ref, 'releaseFinalizer');
      if (!object) return { released: true };
      const finalizers = object.metadata.finalizers ?? [];
      if (!finalizers.includes(FINALIZER)) return { released: true };
      await patchFinalizers(
        deps,
        object,
        finalizers.filter((f) => f !== FINALIZER),
        'releaseFinalizer',
      );
      log.info('finalizer released', { namespace: ref.namespace, name: ref.name });
      return { released: true };
    },
  };
}

async function patchFinalizers(
  deps: KubeDeps,
  object: DatabaseObject,
  finalizers: string[],
  step: string,
): Promise<void> {
  try {
    await deps.kube.patchNamespacedCustomObject(
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
    );
  } catch (error: unknown) {
    throw classifyKubeError(step, error);
  }
}
