// Taking a database apart: the instance's part of a deletion (a foreign instance left
// untouched and said so), the orphaning of a database whose object vanished without a delete,
// and a cancel's rollback of exactly what the cancelled run created.
import { CancellationScope, log, workflowInfo } from '@temporalio/workflow';
import type { DeletionPolicy } from '../contracts/database.js';
import { finalSnapshotIdentifier } from '../contracts/names.js';
import type { DatabaseNames } from '../contracts/resolved.js';
import {
  FAILURE,
  type DatabaseWorkflowResult,
  type DeleteInstanceRequest,
  type InstanceOutcome,
  type Stage,
} from '../contracts/workflow.js';
import { warn, type Identity } from './claims.js';
import { StepFailed, describeFailure } from './failures.js';
import { polling, quick } from './profiles.js';
import type { Progress } from './progress.js';
import type { StepRunner } from './steps.js';

/** What this run did, so that a cancel rolls back exactly that. */
export interface CreatedThisRun {
  password: boolean;
  /** the Vault secret was taken over from this (retained) owner's UID */
  secretFrom?: string;
  /** a create was attempted: the rollback looks for an instance tagged with this run */
  instance: boolean;
  /** the instance was taken over from this (retained) owner's UID */
  adoptedFrom?: string;
  /** the DB parameter group this run created (spec.parameters) */
  parameterGroup?: string;
  consul: boolean;
}

/** What the instance's part of a deletion did, and under which policy. */
export interface InstanceRemoval {
  readonly instance?: InstanceOutcome;
  readonly policy: DeletionPolicy;
  readonly snapshot?: string;
}

/**
 * The instance's part of a deletion. An instance under our identifier that is not ours is left
 * untouched, said on the object (a Warning Event) and in the log; the deletion goes on. The
 * activity reads the object's newest policy right before the destructive call: a more
 * protective one wins; the object gone by then releases the instance instead (`released`).
 */
export async function deleteInstance(
  steps: StepRunner,
  progress: Progress,
  asked: Pick<DeleteInstanceRequest, 'names' | 'policy' | 'expectedArn'>,
): Promise<InstanceRemoval> {
  const { names } = asked;
  const request: DeleteInstanceRequest = {
    ...asked,
    finalSnapshot: finalSnapshotIdentifier(names.dbInstanceIdentifier, workflowInfo().runId),
  };
  let removed;
  try {
    removed = await steps.run('deleteDbInstance', () => polling.deleteDbInstance(request));
  } catch (error: unknown) {
    if (!(error instanceof StepFailed && error.reason === FAILURE.instanceNotOurs)) throw error;
    await warn(
      names.ref,
      FAILURE.instanceNotOurs,
      `${error.message} The Database is deleted; the instance is untouched.`,
    );
    return { instance: 'not-ours', policy: asked.policy };
  }
  const policy = removed.policy ?? asked.policy;
  if (removed.state === 'orphaned') return { instance: 'released', policy };
  if (removed.state !== 'deleting') {
    if (removed.state === 'retained') return { instance: 'retained', policy };
    await deleteParameterGroups(steps, names);
    return { instance: 'absent', policy };
  }
  await progress.report('Deleting', `waiting until ${names.dbInstanceIdentifier} is gone`);
  const gone = await steps.run('waitUntilDeleted', () =>
    polling.waitUntilDeleted({
      names,
      ...(removed.snapshot ? { snapshot: removed.snapshot } : {}),
    }),
  );
  await deleteParameterGroups(steps, names);
  return { instance: 'deleted', policy, ...(gone.snapshot ? { snapshot: gone.snapshot } : {}) };
}

/**
 * The DB parameter groups the Database owns, once its instance is gone (RDS refuses to delete a
 * group in use; the activity waits). A retained or released instance keeps its group: it uses it.
 */
async function deleteParameterGroups(steps: StepRunner, names: DatabaseNames): Promise<void> {
  const out = await steps.run('deleteParameterGroups', () => polling.deleteParameterGroups(names));
  if (out.deleted.length > 0) log.info('DB parameter groups deleted', { groups: out.deleted });
}

/**
 * The object vanished without a delete (its finalizer removed by hand, a restore that brought
 * it back under a new UID): by Kubernetes convention the database is orphaned. The instance is
 * kept and marked released as Retain marks it, the credentials and Consul entries stay, and a
 * Warning Event (on a new object of the name, else on the namespace) says how to take it back.
 */
export async function orphan(
  steps: StepRunner,
  names: DatabaseNames,
): Promise<DatabaseWorkflowResult> {
  const released = await steps.run('releaseDbInstance', () => quick.releaseDbInstance(names));
  await steps.run('retainDbSecret', () => quick.retainDbSecret(names));
  await steps.run('recordOrphaned', () => quick.recordOrphaned(names, released.state));
  log.warn('object gone without a delete: database orphaned, nothing deleted', {
    dbInstanceIdentifier: names.dbInstanceIdentifier,
    instance: released.state,
  });
  return { outcome: 'orphaned', deletionPolicy: 'none', instance: released.state };
}

/**
 * A deletion or orphaning in progress is finished whatever is asked: a cancel would leave the
 * object held by its finalizer, or the instance half released. The refusal is said.
 */
export function refuseCancel(own: Identity, progress: Progress): void {
  CancellationScope.current().cancelRequested.catch(() => {
    log.warn('cancel refused: the deletion goes on', { stage: progress.live().stage });
    progress.message = `cancel refused: ${progress.message}`;
    void CancellationScope.nonCancellable(() =>
      warn(
        own,
        'CancelRefused',
        'A cancel was refused: a deletion (or the release of an object that vanished) that ' +
          'has begun is finished, so that the object and its database are never left half ' +
          'taken apart. Change the deletionPolicy to change what it does.',
      ),
    );
  });
}

/** What a rollback needs to know of the cancelled run. */
export interface RollbackOf {
  readonly names: DatabaseNames | undefined;
  readonly policy: DeletionPolicy;
  readonly created: CreatedThisRun;
  readonly stage: Stage;
  readonly progress: Progress;
}

type Step = (what: string, fn: () => Promise<void>) => Promise<void>;

/**
 * The instance's part of a rollback: one this run created is deleted per policy; one it adopted
 * is released again to its former owner. Returns whether the instance stays.
 */
async function rollbackInstance(
  run: RollbackOf,
  names: DatabaseNames,
  step: Step,
  undone: string[],
): Promise<boolean> {
  const { created, policy } = run;
  if (created.adoptedFrom) {
    const from = created.adoptedFrom;
    await step('RDS instance', async () => {
      await quick.releaseDbInstance(names, from);
      undone.push(
        `RDS instance ${names.dbInstanceIdentifier} released again (retained from ${from})`,
      );
    });
    return true;
  }
  let stays = true;
  await step('RDS instance', async () => {
    const removed = await polling.deleteDbInstance({
      names,
      policy,
      finalSnapshot: finalSnapshotIdentifier(names.dbInstanceIdentifier, workflowInfo().runId),
      createdByRun: workflowInfo().runId,
    });
    if (removed.state !== 'deleting') {
      stays = removed.state !== 'absent';
      return;
    }
    stays = false;
    await polling.waitUntilDeleted({
      names,
      ...(removed.snapshot ? { snapshot: removed.snapshot } : {}),
    });
    undone.push(`RDS instance ${names.dbInstanceIdentifier} (${removed.policy ?? policy})`);
  });
  return stays;
}

/**
 * Workflow cancelled: undo what this run created, per deletion policy, report Cancelled. Only a
 * provisioning creates anything: a cancel of a later stage (a modification, say) takes nothing
 * of a database that was serving before it. An adoption is undone by releasing what it took.
 */
export async function rollback(run: RollbackOf): Promise<void> {
  const undone: string[] = [];
  const problems: string[] = [];
  const { names, created } = run;
  const step: Step = async (what, fn) => {
    try {
      await fn();
    } catch (error: unknown) {
      problems.push(`${what}: ${describeFailure(error).message}`);
    }
  };
  if (names && run.stage === 'provision') {
    // an instance that stays keeps the password it has: the secret goes only with the instance
    const stays = created.instance ? await rollbackInstance(run, names, step, undone) : false;
    // the group goes only with the instance that uses it
    const group = created.parameterGroup;
    if (group && !stays) {
      await step('DB parameter group', async () => {
        await polling.deleteParameterGroups(names, [group]);
        undone.push(`DB parameter group ${group}`);
      });
    }
    if (created.consul && !created.adoptedFrom) {
      await step('Consul entries', async () => {
        await quick.removeFromConsul(names);
        undone.push('Consul entries');
      });
    }
    await rollbackSecret(run, names, stays, step, undone);
  }
  const summary = undone.length > 0 ? `rolled back: ${undone.join(', ')}` : 'nothing to roll back';
  const failed = problems.length > 0 ? `; not rolled back: ${problems.join('; ')}` : '';
  run.progress.pending = undefined;
  await run.progress.report('Cancelled', `cancelled by an operator; ${summary}${failed}`, {
    reason: 'Cancelled',
  });
}

/** The secret's part: a taken-over one goes back to its owner, kept; one made now goes. */
async function rollbackSecret(
  run: RollbackOf,
  names: DatabaseNames,
  instanceStays: boolean,
  step: Step,
  undone: string[],
): Promise<void> {
  const { created } = run;
  const from = created.secretFrom ?? created.adoptedFrom;
  if (from) {
    await step('Vault secret', async () => {
      await quick.retainDbSecret(names, from);
      undone.push('Vault secret marked retained again');
    });
  } else if (created.password && run.policy !== 'Retain' && !instanceStays) {
    await step('Vault secret', async () => {
      await quick.deleteDbSecret(names);
      undone.push('Vault secret');
    });
  }
}
