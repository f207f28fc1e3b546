// Taking a database apart: the instance's part of a deletion (a foreign instance left
// untouched and said so), and a cancel's rollback of exactly what the cancelled run created.
import { isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import type { DatabaseRef, DeletionPolicy } from '../contracts/database.js';
import { finalSnapshotIdentifier } from '../contracts/names.js';
import type { DatabaseNames } from '../contracts/resolved.js';
import {
  FAILURE,
  type DeleteInstanceResult,
  type InstanceOutcome,
  type Stage,
} from '../contracts/workflow.js';
import { StepFailed, describeFailure } from './failures.js';
import { polling, quick } from './profiles.js';
import type { Progress } from './progress.js';
import type { StepRunner } from './steps.js';

/** Results recorded by older workers said `{ retained, snapshot? }`; read both shapes. */
export function deletion(
  result: DeleteInstanceResult | { retained?: boolean; snapshot?: string },
): DeleteInstanceResult {
  if ('state' in result) return result;
  return {
    state: result.retained ? 'retained' : 'deleting',
    ...(result.snapshot ? { snapshot: result.snapshot } : {}),
  } satisfies DeleteInstanceResult;
}

/** What this run did, so that a cancel rolls back exactly that. */
export interface CreatedThisRun {
  password: boolean;
  /** a create was attempted: the rollback looks for an instance tagged with this run */
  instance: boolean;
  consul: boolean;
}

/**
 * The instance's part of a deletion. An instance under our identifier that is not ours is left
 * untouched, said on the object (a Warning Event) and in the log; the deletion goes on.
 */
export async function deleteInstance(
  steps: StepRunner,
  progress: Progress,
  names: DatabaseNames,
  policy: DeletionPolicy,
): Promise<{ instance?: InstanceOutcome; snapshot?: string }> {
  const request = {
    names,
    policy,
    finalSnapshot: finalSnapshotIdentifier(names.dbInstanceIdentifier, workflowInfo().runId),
  };
  const deleter = patched('delete-waits-deletable') ? polling : quick;
  let removed: DeleteInstanceResult;
  try {
    removed = deletion(
      await steps.run('deleteDbInstance', () => deleter.deleteDbInstance(request)),
    );
  } catch (error: unknown) {
    if (
      !(error instanceof StepFailed && error.reason === FAILURE.instanceNotOurs) ||
      !patched('foreign-instance-untouched')
    ) {
      throw error;
    }
    await warn(
      names.ref,
      FAILURE.instanceNotOurs,
      `${error.message} The Database is deleted; the instance is untouched.`,
    );
    return { instance: 'not-ours' };
  }
  if (removed.state !== 'deleting') {
    return { instance: removed.state === 'retained' ? 'retained' : 'absent' };
  }
  await progress.report('Deleting', `waiting until ${names.dbInstanceIdentifier} is gone`);
  const gone = await steps.run('waitUntilDeleted', () =>
    polling.waitUntilDeleted({
      names,
      ...(removed.snapshot ? { snapshot: removed.snapshot } : {}),
    }),
  );
  // older workers' results did not confirm the snapshot: the request names it
  const snapshot = 'snapshot' in gone ? gone.snapshot : removed.snapshot;
  return { instance: 'deleted', ...(snapshot ? { snapshot } : {}) };
}

/** A Warning Event on the object and a line in the worker's log; never stops the story. */
async function warn(ref: DatabaseRef, reason: string, message: string): Promise<void> {
  try {
    await quick.recordEvent(ref, { type: 'Warning', reason, message });
  } catch (error: unknown) {
    if (isCancellation(error)) throw error;
    log.warn('event not recorded', { reason, error: describeFailure(error).message });
  }
}

/** What a rollback needs to know of the cancelled run. */
export interface RollbackOf {
  readonly names: DatabaseNames | undefined;
  readonly policy: DeletionPolicy;
  readonly created: CreatedThisRun;
  readonly stage: Stage;
  readonly progress: Progress;
}

/**
 * Workflow cancelled: undo what this run created, per deletion policy, report Cancelled. The
 * instance is deleted only if its tags say this run created it (an adopted one never is); a
 * step that fails is said in the message, and the rest still runs.
 */
export async function rollback(run: RollbackOf): Promise<void> {
  const undone: string[] = [];
  const problems: string[] = [];
  const { names, policy, created } = run;
  const step = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (error: unknown) {
      problems.push(`${what}: ${describeFailure(error).message}`);
    }
  };
  // an instance that stays (adopted, not created by this run, or not deletable now) keeps
  // the password it has: the secret goes only with the instance
  let instanceStays = created.instance;
  if (names && created.instance && run.stage === 'provision') {
    await step('RDS instance', async () => {
      const removed = deletion(
        await polling.deleteDbInstance({
          names,
          policy,
          finalSnapshot: finalSnapshotIdentifier(names.dbInstanceIdentifier, workflowInfo().runId),
          createdByRun: workflowInfo().runId,
        }),
      );
      instanceStays = removed.state === 'kept' || removed.state === 'retained';
      if (removed.state !== 'deleting') return;
      instanceStays = false;
      await polling.waitUntilDeleted({
        names,
        ...(removed.snapshot ? { snapshot: removed.snapshot } : {}),
      });
      undone.push(`RDS instance ${names.dbInstanceIdentifier} (${policy})`);
    });
  }
  if (names && created.consul) {
    await step('Consul entries', async () => {
      await quick.removeFromConsul(names);
      undone.push('Consul entries');
    });
  }
  if (names && created.password && policy !== 'Retain' && !instanceStays) {
    await step('Vault secret', async () => {
      await quick.deleteDbSecret(names);
      undone.push('Vault secret');
    });
  }
  const summary = undone.length > 0 ? `rolled back: ${undone.join(', ')}` : 'nothing to roll back';
  const failed = problems.length > 0 ? `; not rolled back: ${problems.join('; ')}` : '';
  run.progress.pending = undefined;
  await run.progress.report('Cancelled', `cancelled by an operator; ${summary}${failed}`, {
    reason: 'Cancelled',
  });
}
