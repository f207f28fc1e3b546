// createActivities(deps): every activity of the database workflow, built from the narrowest
// slices of the real clients. Tests pass small fakes or real clients; the worker passes real ones.
import { activityInfo } from '@temporalio/activity';
import type { SpecResult } from '../contracts/spec.js';
import { resolveDatabase } from '../contracts/spec.js';
import type { ObjectView } from '../contracts/workflow.js';
import { classifyError } from './errors.js';
import { createConsulActivities, type ConsulActivities, type ConsulDeps } from './consul.js';
import { readClassChoice, type ClassApi } from '../kube/classes.js';
import {
  classified,
  createKubeStatusActivities,
  objectReader,
  type KubeDeps,
  type KubeStatusActivities,
} from './kube-status.js';
import { createRdsActivities, type RdsActivities, type RdsBinding } from './rds.js';
import { createParameterActivities, type ParameterActivities } from './rds-parameters.js';
import {
  createVaultActivities,
  vaultCredentials,
  type VaultActivities,
  type VaultDeps,
} from './vault.js';

export type ActivityDeps = Omit<RdsBinding, 'credentials' | 'objects'> &
  VaultDeps &
  ConsulDeps &
  KubeDeps & {
    /** the DatabaseClasses, read by the validation (cluster-scoped, get and list) */
    readonly classes: ClassApi;
  };

/** Every activity of the database workflow (the workflow imports this type only). */
export interface Activities
  extends
    KubeStatusActivities,
    VaultActivities,
    RdsActivities,
    ParameterActivities,
    ConsulActivities {
  /**
   * `inEffect`: the class the instance was made under (null: none), once there is one; a spec
   * naming no class keeps it
   */
  validateSpec(object: ObjectView, inEffect?: string | null): Promise<SpecResult>;
}

/**
 * Every activity behind the one classifier: an error that left its adapter unclassified (a
 * TypeError, a client's unforeseen shape) is classified here, so none is retried forever.
 */
export function atActivityEdge<T extends object>(activities: T): T {
  const edged = Object.entries(activities).map(([name, fn]) => [
    name,
    async (...args: unknown[]): Promise<unknown> => {
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error: unknown) {
        throw classifyError('rdsflow', name, error, activityInfo().attempt);
      }
    },
  ]);
  return Object.fromEntries(edged) as T;
}

export function createActivities(deps: ActivityDeps): Activities {
  const binding: RdsBinding = {
    ...deps,
    credentials: vaultCredentials(deps),
    objects: objectReader(deps),
  };
  return atActivityEdge<Activities>({
    /**
     * Validation runs as an activity, not in workflow code, so that improving the rules never
     * breaks the replay of histories recorded under the old ones; and it reads the Database's
     * class, which the workflow then carries (a class edited later applies on the next one).
     */
    async validateSpec(object: ObjectView, inEffect?: string | null): Promise<SpecResult> {
      // the class as it is now: an edit of it applies from the Database's next validation on
      const choice = await classified('validateSpec', () =>
        readClassChoice(deps.classes, object.spec, inEffect),
      );
      return resolveDatabase(object, choice);
    },
    ...createKubeStatusActivities(deps),
    ...createVaultActivities(deps),
    ...createRdsActivities(binding),
    ...createParameterActivities(binding),
    ...createConsulActivities(deps),
  });
}
