// Reading DatabaseClasses (cluster-scoped) and the AWS credentials a class names, for the
// worker's activities, through the bounded clients of kube/bounded.ts. What a class makes of a
// spec is decided elsewhere, purely (contracts/class.ts): this module only reads. Errors are the
// client's own; the activity edge classifies them.
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, CLASS_PLURAL } from '../contracts/database.js';
import {
  chooseDefaultClass,
  classNameOf,
  type ClassChoice,
  type ClassView,
} from '../contracts/class.js';
import { isNotFoundOf } from './databases.js';

export type ClassApi = Pick<CustomObjectsApi, 'getClusterCustomObject' | 'listClusterCustomObject'>;

/** A DatabaseClass as stored: only what the resolution reads. */
interface StoredClass {
  metadata?: { name?: string; generation?: number; annotations?: Record<string, string> };
  spec?: unknown;
}

function viewOfClass(stored: StoredClass): ClassView {
  const meta = stored.metadata ?? {};
  return {
    name: meta.name ?? '',
    generation: meta.generation ?? 0,
    ...(meta.annotations ? { annotations: meta.annotations } : {}),
    spec: stored.spec,
  };
}

/** The DatabaseClass of this name, or undefined when there is none (NotFound). */
export async function getDatabaseClass(
  kube: Pick<ClassApi, 'getClusterCustomObject'>,
  name: string,
): Promise<ClassView | undefined> {
  try {
    const stored = (await kube.getClusterCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: CLASS_PLURAL,
      name,
    })) as StoredClass;
    return viewOfClass(stored);
  } catch (error: unknown) {
    if (isNotFoundOf(error, name)) return undefined;
    throw error;
  }
}

/** Every DatabaseClass of the cluster. */
export async function listDatabaseClasses(
  kube: Pick<ClassApi, 'listClusterCustomObject'>,
): Promise<ClassView[]> {
  const list = (await kube.listClusterCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    plural: CLASS_PLURAL,
  })) as { items?: StoredClass[] };
  return (list.items ?? []).map(viewOfClass);
}

/**
 * The class a spec gets: the one it names (missing: a problem naming it, looked up again on a
 * retry or the next generation), else the one marked default, else none.
 */
export async function readClassChoice(
  kube: ClassApi,
  spec: unknown,
  inEffect?: string | null,
): Promise<ClassChoice> {
  const named = classNameOf(spec);
  // NOTE: like a default StorageClass, the default class is chosen once, when the instance is
  // made; a class marked default later never moves (or fails) a Database that has one
  if (named === undefined && inEffect === null) return {};
  const name = named ?? inEffect ?? undefined;
  if (name === undefined) return chooseDefaultClass(await listDatabaseClasses(kube));
  const found = await getDatabaseClass(kube, name);
  if (found) return { class: found };
  return {
    problem:
      named === undefined
        ? `DatabaseClass ${JSON.stringify(name)}, the default class when the instance was made, not found`
        : `spec.className: DatabaseClass ${JSON.stringify(name)} not found`,
  };
}

export type SecretApi = Pick<CoreV1Api, 'readNamespacedSecret'>;

/** AWS keys as a Secret holds them; never logged, never returned beyond the provider. */
export interface SecretKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** the Secret's resourceVersion: a changed Secret is a new version */
  readonly version: string;
}

const text = (data: Record<string, string> | undefined, key: string) => {
  const value = data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8').trim();
};

/**
 * The AWS keys in a Secret of `namespace` (the worker's own: the worker's RBAC grants no other).
 * A Secret missing or lacking a key is an error naming what is missing, never a value.
 */
export async function readAwsKeys(
  core: SecretApi,
  namespace: string,
  name: string,
): Promise<SecretKeys> {
  const secret = await core.readNamespacedSecret({ namespace, name });
  const accessKeyId = text(secret.data, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = text(secret.data, 'AWS_SECRET_ACCESS_KEY');
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(`Secret ${namespace}/${name} lacks AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY`);
  }
  const sessionToken = text(secret.data, 'AWS_SESSION_TOKEN');
  return {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
    version: secret.metadata?.resourceVersion ?? '',
  };
}
