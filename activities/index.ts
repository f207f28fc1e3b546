// createActivities(deps): every activity of the database workflow, built from the narrowest
// slices of the real clients. Tests pass small fakes or real clients; the worker passes real ones.
import type { SpecResult } from '../contracts/spec.js';
import { resolveDatabase } from '../contracts/spec.js';
import type { DatabaseSnapshot } from '../contracts/workflow.js';
import { createConsulActivities, type ConsulActivities, type ConsulDeps } from './consul.js';
import {
  createKubeStatusActivities,
  objectReader,
  type KubeDeps,
  type KubeStatusActivities,
} from './kube-status.js';
import { createRdsActivities, type RdsActivities, type RdsDeps } from './rds.js';
import {
  createVaultActivities,
  vaultCredentials,
  type VaultActivities,
  type VaultDeps,
} from './vault.js';

export type ActivityDeps = Omit<RdsDeps, 'credentials' | 'objects'> &
  VaultDeps &
  ConsulDeps &
  KubeDeps;

/** Every activity of the database workflow (the workflow imports this type only). */
export interface Activities
  extends KubeStatusActivities, VaultActivities, RdsActivities, ConsulActivities {
  validateSpec(object: DatabaseSnapshot): Promise<SpecResult>;
}

export function createActivities(deps: ActivityDeps): Activities {
  return {
    /**
     * Validation runs as an activity, not in workflow code, so that improving the rules never
     * breaks the replay of histories recorded under the old ones.
     */
    validateSpec(object: DatabaseSnapshot): Promise<SpecResult> {
      return Promise.resolve(resolveDatabase(object));
    },
    ...createKubeStatusActivities(deps),
    ...createVaultActivities(deps),
    ...createRdsActivities({
      ...deps,
      credentials: vaultCredentials(deps),
      objects: objectReader(deps),
    }),
    ...createConsulActivities(deps),
  };
}
