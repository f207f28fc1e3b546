// The entity workflow of one Database object. It reads like the story of a database:
// validate → (approve) → password → create → wait until available → publish → Available;
// then it serves, applying spec changes and finally the delete. Each stage is its own run
// (continue-as-new). Deterministic: no I/O, no clocks but the SDK's, activity types only.
import {
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  setHandler,
} from '@temporalio/workflow';
import type { DeletionPolicy } from '../contracts/database.js';
import {
  approvalOf,
  deletionPolicyOf,
  immutableChanges,
  type DatabaseNames,
  type ResolvedDatabase,
} from '../contracts/resolved.js';
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
  type Stage,
} from '../contracts/workflow.js';
import { StepFailed } from './failures.js';
import { awaitedOnCancel, polling, quick } from './profiles.js';
import { deleteInstance, rollback, type CreatedThisRun } from './teardown.js';
import { Progress } from './progress.js';
import { StepRunner } from './steps.js';

class DatabaseFlow {
  latest: DatabaseSnapshot;
  carried: CarriedState;
  deleteRequested: boolean;
  /** legacy: any approval, for runs that predate approvals bound to a generation */
  approved: boolean;
  /** the newest generation a person approved */
  approvedGeneration: number;
  retryRequested = false;
  names: DatabaseNames | undefined;
  readonly created: CreatedThisRun = { password: false, instance: false, consul: false };
  /** cancelled (not failed) when a delete request interrupts provisioning */
  provisioning: CancellationScope | undefined;
  /** what an operator sees: phase, step, attempt, the object's status, the UI's phase */
  readonly progress: Progress;
  readonly steps: StepRunner;

  constructor(readonly input: DatabaseWorkflowInput) {
    this.latest = input.object;
    this.carried = input.carried ?? {};
    this.deleteRequested = this.carried.deleteRequested ?? false;
    this.approved = this.carried.approved ?? false;
    this.approvedGeneration =
      this.carried.approvedGeneration ??
      (this.approved ? (input.object.metadata.generation ?? 0) : 0);
    this.names = this.carried.applied;
    this.progress = new Progress({
      stage: input.stage,
      object: () => this.latest,
      names: () => this.names,
      carried: () => this.carried,
    });
    this.steps = new StepRunner(this.progress);
  }

  install(): void {
    setHandler(statusQuery, () => this.progress.live());
    setHandler(specChangedSignal, (object) => {
      if ((object.metadata.generation ?? 0) >= (this.latest.metadata.generation ?? 0))
        this.latest = object;
    });
    setHandler(deleteSignal, (object) => {
      // the object as last seen: a policy edited just before the delete is the one applied
      if (object && (object.metadata.generation ?? 0) >= this.generation) this.latest = object;
      this.deleteRequested = true;
      this.provisioning?.cancel();
    });
    setHandler(approveSignal, (approval) => {
      this.approved = true;
      const generation = approval?.generation;
      if (typeof generation === 'number') this.approvedGeneration = generation;
      log.info('approval received', { by: approval?.by ?? 'unknown', generation });
    });
    setHandler(retrySignal, () => {
      this.retryRequested = true;
    });
  }

  get generation(): number {
    return this.latest.metadata.generation ?? 0;
  }

  async validate(): Promise<ResolvedDatabase> {
    const result = await this.steps.run('validateSpec', () => quick.validateSpec(this.latest));
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

  /** Ends this run and goes on to `stage` as a new run, carrying what later stages need. */
  continueTo(stage: Stage, carried: Partial<CarriedState> = {}): Promise<never> {
    const input: DatabaseWorkflowInput = {
      stage,
      object: this.latest,
      carried: {
        ...this.carried,
        approved: this.approved,
        ...(this.approvedGeneration > 0 ? { approvedGeneration: this.approvedGeneration } : {}),
        deleteRequested: this.deleteRequested,
        ...carried,
      },
    };
    return continueAsNew<typeof databaseWorkflow>(input);
  }

  // --- stages -------------------------------------------------------------------------------

  async provision(): Promise<never> {
    // an object without status reads as Pending already: the next write (Provisioning,
    // AwaitingApproval or Failed) is the first that tells anyone something
    if (patched('no-pending-status-write')) this.progress.show('Pending', 'validating the spec');
    else await this.progress.report('Pending', 'validating the spec');
    const db = await this.validate();
    const finalizer = await this.steps.run('ensureFinalizer', () =>
      quick.ensureFinalizer(db.ref, this.latest.seen),
    );
    if (!finalizer.present) {
      log.warn('finalizer not added: the object is gone or being deleted');
      // an object that vanished before it was guarded must not leave a database behind
      if (patched('finalizer-gone-means-delete')) return this.continueTo('delete');
    }
    let approved = db;
    if (db.requireApproval) {
      if (patched('approval-binds-generation')) {
        approved = await this.awaitApproval(db, () => this.validate());
      } else if (!this.approved) {
        await this.progress.report(
          'AwaitingApproval',
          'waiting for `rdsflow approve` before any AWS call',
          {
            reason: 'AwaitingApproval',
          },
        );
        this.progress.step = 'awaitApproval';
        await condition(() => this.approved || this.deleteRequested);
      }
    }
    if (this.deleteRequested) return this.continueTo('delete');

    this.provisioning = new CancellationScope();
    let endpoint: Endpoint;
    try {
      endpoint = await this.provisioning.run(() => this.createAndWait(approved));
    } catch (error: unknown) {
      // a delete request cancels provisioning; go straight to deleting what exists
      if (
        isCancellation(error) &&
        this.deleteRequested &&
        !CancellationScope.current().consideredCancelled
      ) {
        return this.continueTo('delete', { applied: approved });
      }
      throw error;
    }
    await this.publish(approved, endpoint);
    return this.continueTo('serve', {
      applied: approved,
      appliedGeneration: approved.generation,
      endpoint,
    });
  }

  /**
   * Waits in AwaitingApproval until a person approves this generation (`rdsflow approve`). A
   * newer spec arriving meanwhile is validated and needs an approval of its own; the approved
   * generation's spec is the one that goes ahead. Returns early on a delete request.
   */
  async awaitApproval(
    first: ResolvedDatabase,
    validate: () => Promise<ResolvedDatabase>,
  ): Promise<ResolvedDatabase> {
    let db = first;
    // an approval is of one generation exactly: one given for a newer spec the workflow has not
    // been told of yet does not approve the older one it holds
    while (db.requireApproval && this.approvedGeneration !== db.generation) {
      this.progress.pending = approvalOf(db);
      await this.progress.report(
        'AwaitingApproval',
        `generation ${db.generation} waits for \`rdsflow approve\` before rdsflow changes RDS: ` +
          `${db.engine} ${db.instanceClass}, ${db.storageGiB} GiB, deletionPolicy ${db.deletionPolicy}`,
        { reason: 'AwaitingApproval', pendingApproval: this.progress.pending },
      );
      this.progress.step = 'awaitApproval';
      const waitingFor = db.generation;
      await condition(
        () =>
          this.approvedGeneration === waitingFor ||
          this.deleteRequested ||
          this.generation > waitingFor,
      );
      if (this.deleteRequested) break;
      // a newer spec is the one to approve now
      if (this.generation > waitingFor) db = await validate();
    }
    this.progress.pending = undefined;
    return db;
  }

  async createAndWait(db: ResolvedDatabase): Promise<Endpoint> {
    await this.progress.report('Provisioning', `creating RDS instance ${db.dbInstanceIdentifier}`);
    const password = await this.steps.run('ensureMasterPassword', () =>
      quick.ensureMasterPassword(db),
    );
    this.created.password = password.created;
    this.created.instance = true; // from here on a cancel must look for an instance
    const create = patched('create-awaited-on-cancel') ? awaitedOnCancel : quick;
    const created = await this.steps.run('createDbInstance', () => create.createDbInstance(db));
    await this.progress.report(
      'Provisioning',
      `${created.adopted ? 'adopted' : 'created'} RDS instance ${db.dbInstanceIdentifier}; waiting until it is available`,
    );
    const { endpoint } = await this.steps.run('waitUntilAvailable', () =>
      polling.waitUntilAvailable(db.dbInstanceIdentifier),
    );
    if (!patched('converge-after-create')) return endpoint;
    // an adopted instance may lack this spec or the password in Vault: make it so, then wait
    return await this.converge(db, endpoint);
  }

  /** Applies the spec and credentials to the instance; waits again only if something changed. */
  async converge(db: ResolvedDatabase, endpoint: Endpoint): Promise<Endpoint> {
    const converged = await this.steps.run('modifyDbInstance', () => polling.modifyDbInstance(db));
    if (!converged.changed) return endpoint;
    const again = await this.steps.run('waitUntilAvailable', () =>
      polling.waitUntilAvailable(db.dbInstanceIdentifier),
    );
    return again.endpoint;
  }

  async publish(db: ResolvedDatabase, endpoint: Endpoint): Promise<void> {
    this.carried = { ...this.carried, endpoint };
    const secret = await this.steps.run('writeDbSecret', () => quick.writeDbSecret(db, endpoint));
    this.created.consul = true;
    const consul = await this.steps.run('publishToConsul', () =>
      quick.publishToConsul(db, endpoint),
    );
    await this.progress.report('Available', `available at ${endpoint.host}:${endpoint.port}`, {
      reason: 'Available',
      endpoint,
      vaultPath: secret.vaultPath,
      consulKey: consul.consulKey,
      observedGeneration: db.generation,
    });
  }

  async serve(): Promise<never> {
    this.progress.phase = 'Available';
    this.progress.step = 'waitForChange';
    const at = this.carried.endpoint;
    this.progress.message = at
      ? `available at ${at.host}:${at.port}; waiting for changes`
      : 'available';
    const applied = this.carried.appliedGeneration ?? 0;
    await condition(() => this.deleteRequested || this.generation > applied || this.retryRequested);
    if (this.deleteRequested) return this.continueTo('delete');
    return this.continueTo('modify');
  }

  async modify(): Promise<never> {
    const before = this.carried.applied;
    const validateChange = async () => {
      const next = await this.validate();
      const immutable = before ? immutableChanges(before, next) : [];
      if (immutable.length > 0) {
        throw new StepFailed(
          'validateSpec',
          FAILURE.invalidSpec,
          `cannot change after creation: ${immutable.join('; ')}`,
        );
      }
      return next;
    };
    let db = await validateChange();
    if (db.requireApproval && patched('approval-gates-modify')) {
      db = await this.awaitApproval(db, validateChange);
      if (this.deleteRequested) return this.continueTo('delete');
    }
    await this.progress.report(
      'Modifying',
      `applying generation ${db.generation} to ${db.dbInstanceIdentifier}`,
    );
    // `waiting`: RDS changes an instance only when it is available; the activity waits for that
    await this.steps.run('modifyDbInstance', () => polling.modifyDbInstance(db));
    const { endpoint } = await this.steps.run('waitUntilAvailable', () =>
      polling.waitUntilAvailable(db.dbInstanceIdentifier),
    );
    await this.publish(db, endpoint);
    return this.continueTo('serve', { applied: db, appliedGeneration: db.generation, endpoint });
  }

  async delete(): Promise<DatabaseWorkflowResult> {
    const names = this.names ?? (await this.namesForCleanup());
    const policy = this.deletionPolicy();
    await this.progress.report('Deleting', `deleting per policy ${policy}`);
    const { instance, snapshot } = await deleteInstance(this.steps, this.progress, names, policy);
    if (policy === 'Retain' && patched('retain-keeps-credentials')) {
      await this.steps.run('retainDbSecret', () => quick.retainDbSecret(names));
    } else {
      await this.steps.run('deleteDbSecret', () => quick.deleteDbSecret(names));
    }
    await this.steps.run('removeFromConsul', () => quick.removeFromConsul(names));
    await this.progress.report('Deleting', 'database removed; releasing the finalizer');
    await this.steps.run('releaseFinalizer', () => quick.releaseFinalizer(names.ref));
    return {
      outcome: 'deleted',
      deletionPolicy: policy,
      ...(snapshot ? { snapshot } : {}),
      ...(instance ? { instance } : {}),
    };
  }

  async namesForCleanup(): Promise<DatabaseNames> {
    const result = await this.steps.run('validateSpec', () => quick.validateSpec(this.latest));
    const names = result.ok ? result.database : result.names;
    if (!names)
      throw new StepFailed(
        'validateSpec',
        FAILURE.invalidSpec,
        'the object identity is malformed; nothing to delete',
      );
    return names;
  }

  /** The newest spec's policy (even when the rest of it is invalid), else the one applied. */
  deletionPolicy(): DeletionPolicy {
    return deletionPolicyOf(this.latest.spec) ?? this.carried.applied?.deletionPolicy ?? 'Snapshot';
  }

  /** Workflow cancelled: undo what this run created, report Cancelled (workflows/teardown.ts). */
  rollback(): Promise<void> {
    const { names, created, progress } = this;
    return rollback({
      names,
      policy: this.deletionPolicy(),
      created,
      stage: this.input.stage,
      progress,
    });
  }

  /**
   * Phase Failed: wait for a person. A retry, a new generation or a delete request starts the
   * right stage again; a failed delete waits for a retry (re-running it at once would storm).
   */
  async failed(error: StepFailed): Promise<never> {
    const failedGeneration = this.generation;
    const deleting = this.input.stage === 'delete';
    this.progress.lastError = error.message;
    await this.progress.report('Failed', error.message, { reason: error.reason });
    this.progress.step = 'awaitFix';
    await condition(
      () =>
        this.retryRequested ||
        this.generation > failedGeneration ||
        (this.deleteRequested && !deleting),
    );
    if (this.deleteRequested || deleting) return this.continueTo('delete');
    return this.continueTo(this.carried.applied ? 'modify' : 'provision');
  }
}

export async function databaseWorkflow(
  input: DatabaseWorkflowInput,
): Promise<DatabaseWorkflowResult> {
  const flow = new DatabaseFlow(input);
  flow.install();
  let inFailed = false;
  try {
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
      if (!(error instanceof StepFailed)) throw error;
      inFailed = true;
      return await flow.failed(error);
    }
  } catch (error: unknown) {
    // a cancel in phase Failed rolls back and ends Cancelled like any other
    if (isCancellation(error) && (!inFailed || patched('cancel-in-failed-rolls-back'))) {
      await CancellationScope.nonCancellable(() => flow.rollback());
    }
    throw error;
  }
}
