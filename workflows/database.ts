// The entity workflow of one Database object. It reads like the story of a database:
// validate → (approve) → password → create → wait until available → publish → Available;
// then it serves, applying spec changes and finally the delete. Each stage is its own run
// (continue-as-new). Deterministic: no I/O, no clocks but the SDK's, activity types only.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { StatusUpdate } from '../activities/kube-status.js';
import type { DeletionPolicy, Phase } from '../contracts/database.js';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes.js';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import {
  FAILURE,
  approveSignal,
  deleteSignal,
  retrySignal,
  specChangedSignal,
  statusQuery,
  type CarriedState,
  type DatabaseSnapshot,
  type DatabaseWorkflowInput,
  type DatabaseWorkflowResult,
  type Endpoint,
  type LiveStatus,
  type Stage,
} from '../contracts/workflow.js';

/** Quick calls: a few fast retries inside the activity, the workflow's step loop does the rest. */
const act = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
});

/**
 * Long waits: one poll window per attempt (heartbeating), then the server re-schedules after the
 * activity's own delay. Hours of creation cost one activity's worth of history.
 */
const waiting = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '2 minutes',
  scheduleToCloseTimeout: '8 hours',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 1, maximumInterval: '5 minutes' },
});

/** A step that cannot succeed by retrying: the database goes to phase Failed. */
class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

interface Failure {
  readonly retryable: boolean;
  readonly type: string;
  readonly message: string;
}

function describeFailure(error: unknown): Failure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    return { retryable: !cause.nonRetryable, type: cause.type ?? 'Error', message: cause.message };
  }
  if (cause instanceof TimeoutFailure) {
    return { retryable: false, type: 'Timeout', message: `timed out (${cause.timeoutType})` };
  }
  return {
    retryable: true,
    type: 'Error',
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Backoff between workflow-level retries of a step: 30s doubling to 5 minutes. */
function stepBackoffMs(attempt: number): number {
  return Math.min(300_000, 30_000 * 2 ** Math.max(0, attempt - 2));
}

/** What this run did, so that a cancel rolls back exactly that. */
interface CreatedThisRun {
  password: boolean;
  instance: boolean;
  consul: boolean;
}

class DatabaseFlow {
  phase: Phase = 'Pending';
  step = 'starting';
  attempt = 1;
  lastError: string | undefined;
  message = 'accepted';
  latest: DatabaseSnapshot;
  carried: CarriedState;
  deleteRequested: boolean;
  approved: boolean;
  retryRequested = false;
  db: ResolvedDatabase | undefined;
  names: DatabaseNames | undefined;
  readonly created: CreatedThisRun = { password: false, instance: false, consul: false };
  /** cancelled (not failed) when a delete request interrupts provisioning */
  work: CancellationScope | undefined;

  constructor(readonly input: DatabaseWorkflowInput) {
    this.latest = input.object;
    this.carried = input.carried ?? {};
    this.deleteRequested = this.carried.deleteRequested ?? false;
    this.approved = this.carried.approved ?? false;
    this.db = this.carried.applied;
    this.names = this.carried.applied;
  }

  install(): void {
    setHandler(statusQuery, () => this.live());
    setHandler(specChangedSignal, (object) => {
      if ((object.metadata.generation ?? 0) >= (this.latest.metadata.generation ?? 0))
        this.latest = object;
    });
    setHandler(deleteSignal, () => {
      this.deleteRequested = true;
      this.work?.cancel();
    });
    setHandler(approveSignal, (by) => {
      this.approved = true;
      log.info('approved', { by: by?.by ?? 'unknown' });
    });
    setHandler(retrySignal, () => {
      this.retryRequested = true;
    });
  }

  live(): LiveStatus {
    return {
      phase: this.phase,
      stage: this.input.stage,
      step: this.step,
      attempt: this.attempt,
      message: this.message,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.carried.endpoint ? { endpoint: this.carried.endpoint } : {}),
      ...(this.carried.appliedGeneration !== undefined
        ? { observedGeneration: this.carried.appliedGeneration }
        : {}),
    };
  }

  get generation(): number {
    return this.latest.metadata.generation ?? 0;
  }

  /** Writes status to the object; a failure to report never stops the database's story. */
  async report(phase: Phase, message: string, extra: Partial<StatusUpdate> = {}): Promise<void> {
    this.showPhase(phase);
    this.phase = phase;
    this.message = message;
    // the UI's "current details": not a command, so free of replay concerns
    setCurrentDetails(`**${phase}**: ${message}`);
    const names = this.names;
    const update: StatusUpdate = {
      phase,
      message,
      observedGeneration: this.generation,
      workflowId: workflowInfo().workflowId,
      ...(names ? { dbInstanceIdentifier: names.dbInstanceIdentifier } : {}),
      ...(this.carried.endpoint ? { endpoint: this.carried.endpoint } : {}),
      ...extra,
    };
    try {
      await act.reportStatus(this.latest.metadata, update);
    } catch (error: unknown) {
      if (isCancellation(error)) throw error;
      log.warn('status not written', { phase, error: describeFailure(error).message });
    }
  }

  /**
   * Keeps the DatabasePhase search attribute current, so the UI can filter by phase. Only when
   * the starter set the attributes (they are registered on this Temporal namespace): upserting
   * an unregistered one would fail every workflow task.
   */
  showPhase(phase: Phase): void {
    const shown = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase);
    if (shown === undefined || shown === phase) return;
    if (patched('search-attribute-phase')) {
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
    }
  }

  /** Runs one activity call as a named step, retrying transient failures with backoff. */
  async run<T>(step: string, call: () => Promise<T>): Promise<T> {
    this.step = step;
    this.attempt = 1;
    for (;;) {
      try {
        const result = await call();
        this.lastError = undefined;
        return result;
      } catch (error: unknown) {
        if (isCancellation(error)) throw error;
        const failure = describeFailure(error);
        this.lastError = failure.message;
        if (!failure.retryable) throw new StepFailed(step, failure.type, failure.message);
        this.attempt++;
        await this.report(
          this.phase,
          `${step}: attempt ${this.attempt - 1} failed, retrying: ${failure.message}`,
          {
            reason: 'Retrying',
          },
        );
        await sleep(stepBackoffMs(this.attempt));
      }
    }
  }

  async validate(): Promise<ResolvedDatabase> {
    const result = await this.run('validateSpec', () => act.validateSpec(this.latest));
    if (!result.ok) {
      if (result.names) this.names ??= result.names;
      throw new StepFailed(
        'validateSpec',
        FAILURE.invalidSpec,
        `invalid spec: ${result.problems.join('; ')}`,
      );
    }
    this.names = result.database;
    return result.database;
  }

  next(stage: Stage, carried: Partial<CarriedState> = {}): Promise<never> {
    const input: DatabaseWorkflowInput = {
      stage,
      object: this.latest,
      carried: {
        ...this.carried,
        approved: this.approved,
        deleteRequested: this.deleteRequested,
        ...carried,
      },
    };
    return continueAsNew<typeof databaseWorkflow>(input);
  }

  // --- stages -------------------------------------------------------------------------------

  async provision(): Promise<never> {
    await this.report('Pending', 'validating the spec');
    const db = await this.validate();
    const finalizer = await this.run('ensureFinalizer', () => act.ensureFinalizer(db.ref));
    if (!finalizer.present) {
      log.warn('finalizer not added: the object is gone or being deleted');
      // an object that vanished before it was guarded must not leave a database behind
      if (patched('finalizer-gone-means-delete')) return this.next('delete');
    }
    if (db.requireApproval && !this.approved) {
      await this.report('AwaitingApproval', 'waiting for `rdsflow approve` before any AWS call', {
        reason: 'AwaitingApproval',
      });
      this.step = 'awaitApproval';
      await condition(() => this.approved || this.deleteRequested);
    }
    if (this.deleteRequested) return this.next('delete');

    this.work = new CancellationScope();
    let endpoint: Endpoint;
    try {
      endpoint = await this.work.run(() => this.createAndWait(db));
    } catch (error: unknown) {
      // a delete request cancels provisioning; go straight to deleting what exists
      if (
        isCancellation(error) &&
        this.deleteRequested &&
        !CancellationScope.current().consideredCancelled
      ) {
        return this.next('delete', { applied: db });
      }
      throw error;
    }
    await this.publish(db, endpoint);
    return this.next('serve', { applied: db, appliedGeneration: db.generation, endpoint });
  }

  async createAndWait(db: ResolvedDatabase): Promise<Endpoint> {
    await this.report('Provisioning', `creating RDS instance ${db.dbInstanceIdentifier}`);
    const password = await this.run('ensureMasterPassword', () => act.ensureMasterPassword(db));
    this.created.password = password.created;
    this.created.instance = true; // from here on a cancel must look for an instance
    const created = await this.run('createDbInstance', () => act.createDbInstance(db));
    await this.report(
      'Provisioning',
      `${created.adopted ? 'adopted' : 'created'} RDS instance ${db.dbInstanceIdentifier}; waiting until it is available`,
    );
    const { endpoint } = await this.run('waitUntilAvailable', () =>
      waiting.waitUntilAvailable(db.dbInstanceIdentifier),
    );
    return endpoint;
  }

  async publish(db: ResolvedDatabase, endpoint: Endpoint): Promise<void> {
    this.carried = { ...this.carried, endpoint };
    const secret = await this.run('writeDbSecret', () => act.writeDbSecret(db, endpoint));
    this.created.consul = true;
    const consul = await this.run('publishToConsul', () => act.publishToConsul(db, endpoint));
    await this.report('Available', `available at ${endpoint.host}:${endpoint.port}`, {
      reason: 'Available',
      endpoint,
      vaultPath: secret.vaultPath,
      consulKey: consul.consulKey,
      observedGeneration: db.generation,
    });
  }

  async serve(): Promise<never> {
    this.phase = 'Available';
    this.step = 'waitForChange';
    const at = this.carried.endpoint;
    this.message = at ? `available at ${at.host}:${at.port}; waiting for changes` : 'available';
    const applied = this.carried.appliedGeneration ?? 0;
    await condition(() => this.deleteRequested || this.generation > applied || this.retryRequested);
    if (this.deleteRequested) return this.next('delete');
    return this.next('modify');
  }

  async modify(): Promise<never> {
    const before = this.carried.applied;
    const db = await this.validate();
    const immutable = before ? immutableChanges(before, db) : [];
    if (immutable.length > 0) {
      throw new StepFailed(
        'validateSpec',
        FAILURE.invalidSpec,
        `cannot change after creation: ${immutable.join('; ')}`,
      );
    }
    await this.report(
      'Modifying',
      `applying generation ${db.generation} to ${db.dbInstanceIdentifier}`,
    );
    await this.run('modifyDbInstance', () => act.modifyDbInstance(db));
    const { endpoint } = await this.run('waitUntilAvailable', () =>
      waiting.waitUntilAvailable(db.dbInstanceIdentifier),
    );
    await this.publish(db, endpoint);
    return this.next('serve', { applied: db, appliedGeneration: db.generation, endpoint });
  }

  async delete(): Promise<DatabaseWorkflowResult> {
    const names = this.names ?? (await this.namesForCleanup());
    const policy = this.deletionPolicy();
    await this.report('Deleting', `deleting per policy ${policy}`);
    const removed = await this.run('deleteDbInstance', () => act.deleteDbInstance(names, policy));
    if (!removed.retained) {
      await this.report('Deleting', `waiting until ${names.dbInstanceIdentifier} is gone`);
      await this.run('waitUntilDeleted', () =>
        waiting.waitUntilDeleted(names.dbInstanceIdentifier),
      );
    }
    await this.run('deleteDbSecret', () => act.deleteDbSecret(names));
    await this.run('removeFromConsul', () => act.removeFromConsul(names));
    await this.report('Deleting', 'database removed; releasing the finalizer');
    await this.run('releaseFinalizer', () => act.releaseFinalizer(names.ref));
    return {
      outcome: 'deleted',
      deletionPolicy: policy,
      ...(removed.snapshot ? { snapshot: removed.snapshot } : {}),
    };
  }

  async namesForCleanup(): Promise<DatabaseNames> {
    const result = await this.run('validateSpec', () => act.validateSpec(this.latest));
    const names = result.ok ? result.database : result.names;
    if (!names)
      throw new StepFailed(
        'validateSpec',
        FAILURE.invalidSpec,
        'the object identity is malformed; nothing to delete',
      );
    return names;
  }

  deletionPolicy(): DeletionPolicy {
    const fromSpec = (this.latest.spec as { deletionPolicy?: unknown }).deletionPolicy;
    if (fromSpec === 'Snapshot' || fromSpec === 'Delete' || fromSpec === 'Retain') return fromSpec;
    return this.carried.applied?.deletionPolicy ?? 'Snapshot';
  }

  /**
   * Phase Failed: wait for a person. A retry, a new generation or a delete request starts the
   * right stage again; a failed delete waits for a retry (re-running it at once would storm).
   */
  async failed(error: StepFailed): Promise<never> {
    const failedGeneration = this.generation;
    const deleting = this.input.stage === 'delete';
    this.lastError = error.message;
    await this.report('Failed', error.message, { reason: error.reason });
    this.step = 'awaitFix';
    await condition(
      () =>
        this.retryRequested ||
        this.generation > failedGeneration ||
        (this.deleteRequested && !deleting),
    );
    if (this.deleteRequested || deleting) return this.next('delete');
    return this.next(this.carried.applied ? 'modify' : 'provision');
  }

  /** Workflow cancelled: undo what this run created, per deletion policy, report Cancelled. */
  async rollback(): Promise<void> {
    const undone: string[] = [];
    const names = this.names;
    const policy = this.deletionPolicy();
    if (names && this.created.instance && this.input.stage === 'provision') {
      const removed = await act.deleteDbInstance(names, policy);
      if (!removed.retained) {
        await waiting.waitUntilDeleted(names.dbInstanceIdentifier);
        undone.push(`RDS instance ${names.dbInstanceIdentifier} (${policy})`);
      }
    }
    if (names && this.created.consul) {
      await act.removeFromConsul(names);
      undone.push('Consul entries');
    }
    if (names && this.created.password && policy !== 'Retain') {
      await act.deleteDbSecret(names);
      undone.push('Vault secret');
    }
    const summary =
      undone.length > 0 ? `rolled back: ${undone.join(', ')}` : 'nothing to roll back';
    await this.report('Cancelled', `cancelled by an operator; ${summary}`, { reason: 'Cancelled' });
  }
}

/** Fields that RDS cannot change in place. */
function immutableChanges(before: ResolvedDatabase, after: ResolvedDatabase): string[] {
  const changes: string[] = [];
  if (before.engine !== after.engine) changes.push(`spec.engine (was ${before.engine})`);
  if (before.databaseName !== after.databaseName)
    changes.push(`spec.databaseName (was ${before.databaseName})`);
  if (before.masterUsername !== after.masterUsername)
    changes.push(`spec.masterUsername (was ${before.masterUsername})`);
  return changes;
}

export async function databaseWorkflow(
  input: DatabaseWorkflowInput,
): Promise<DatabaseWorkflowResult> {
  const flow = new DatabaseFlow(input);
  flow.install();
  try {
    switch (input.stage) {
      case 'provision':
        return await flow.provision();
      case 'serve':
        return await flow.serve();
      case 'modify':
        return await flow.modify();
      case 'delete':
        return await flow.delete();
    }
  } catch (error: unknown) {
    if (error instanceof StepFailed) return await flow.failed(error);
    if (isCancellation(error)) {
      await CancellationScope.nonCancellable(() => flow.rollback());
    }
    throw error;
  }
}
