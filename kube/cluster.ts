// The identity of the cluster a process serves: the `kube-system` namespace's UID (stable for
// a cluster's life, distinct between clusters), or the RDSFLOW_CLUSTER_ID setting. Every
// workflow ID and task queue carries it, so two clusters pointed at the same Temporal
// namespace and task queue never act on each other's databases. A process that cannot read it
// does not start: acting without knowing whose workflows are whose is what this prevents.
import type { CoreV1Api } from '@kubernetes/client-node';
import { CLUSTER_ID_PATTERN } from '../contracts/names.js';
import { httpCodeOf } from './databases.js';

export type NamespaceApi = Pick<CoreV1Api, 'readNamespace'>;

/** The cluster's identity could not be established: the process must not start. */
export class ClusterIdentityError extends Error {
  override name = 'ClusterIdentityError';
}

/** The namespace whose UID names the cluster: present in every cluster, never deleted. */
export const IDENTITY_NAMESPACE = 'kube-system';

export async function clusterIdentity(
  core: NamespaceApi,
  override: string | undefined,
): Promise<string> {
  if (override !== undefined) return override;
  let uid: string | undefined;
  try {
    uid = (await core.readNamespace({ name: IDENTITY_NAMESPACE })).metadata?.uid;
  } catch (error: unknown) {
    const code = httpCodeOf(error);
    const why =
      code === 403
        ? `forbidden (grant get on namespaces/${IDENTITY_NAMESPACE}, as deploy/rbac does)`
        : code === 404
          ? `there is no ${IDENTITY_NAMESPACE} namespace`
          : error instanceof Error
            ? (error.message.split('\n')[0] ?? error.name)
            : String(error);
    throw new ClusterIdentityError(
      `cannot read this cluster's identity (the UID of namespace ${IDENTITY_NAMESPACE}): ${why}. ` +
        'Fix access to it, or set RDSFLOW_CLUSTER_ID to a name unique among the clusters that ' +
        'share this Temporal namespace.',
    );
  }
  if (!uid || !CLUSTER_ID_PATTERN.test(uid)) {
    throw new ClusterIdentityError(
      `namespace ${IDENTITY_NAMESPACE} has no usable UID (${JSON.stringify(uid ?? null)}); set RDSFLOW_CLUSTER_ID`,
    );
  }
  return uid;
}
