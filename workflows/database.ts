// The entity workflow of one Database object. It reads like the story of a database:
// validate → (approve) → password → create → wait until available → publish → Available;
// then it serves, applying spec changes and finally the delete (or, when the object vanished
// without one, the orphaning). Each stage is its own run (continue-as-new). Deterministic: no
// I/O, no clocks but the SDK's, activity types only.
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  setHandler,
} from '@temporalio/workflow';
import { SPEC_DEFAULTS, type DeletionPolicy, type ParameterStatus } from '../contracts/database.js';
import {
  approvalOf,
  deletionPolicyOf,
  immutableChanges,
  mostProtective,
  namesOf,
  type DatabaseNames,
  type ResolvedDatabase,
} from '../contracts/resolved.js';
import {
  FAILURE,
  approveSignal,
  deleteSignal,
  objectGoneSignal,
  retrySignal,
  specChangedSignal,
  statusQuery,
  type Approval,
  type CarriedState,
  type ObjectView,
  type DatabaseWorkflowInput,
  type DatabaseWorkflowResult,
  type ObjectReading,
  type Endpoint,
  type Stage,
} from '../contracts/workflow.js';
import { assertIdMatches, claimProblem, identityOf, refuse, type Identity } from './claims.js';
import { StepFailed } from './failures.js';
import { awaitedOnCancel, local, polling, proving, quick } from './profiles.js';
import { deleteInstance, orphan, refuseCancel, rollback, type CreatedThisRun } from './teardown.js';
import { Progress } from './progress.js';
import { StepRunner } from './steps.js';

/** Where an instance was made and how it answers: what the next stages carry. */
interface Reached {
  readonly endpoint: Endpoint;
  readonly arn?: string;
}

/** A provisioning's outcome: the spec applied (its parameter group named) and the instance. */
interface Made {
  readonly db: ResolvedDatabase;
  readonly reached: Reached;
}

/** Available, and what waits for a reboot of the instance, with how to do it. */
function availableMessage(
  db: ResolvedDatabase,
  endpoint: Endpoint,
  parameters: ParameterStatus | undefined,
): string {
  const available = `available at ${endpoint.host}:${endpoint.port}`;
  const waiting = parameters?.pendingReboot ?? [];
  if (waiting.length === 0) return available;
  const { namespace, name } = db.ref;
  return (
    `${available}; parameters ${waiting.join(', ')} apply at the instance's next reboot ` +
    `(rdsflow never reboots it: aws rds reboot-db-instance --db-instance-identifier ` +
    `${db.dbInstanceIdentifier}, then \`rdsflow retry ${namespace}/${name}\` to see it here)`
  );
}

class DatabaseFlow {
  /** the object this workflow was started for: every message must name it */
  readonly identity: Identity;
  latest: ObjectView;
  carried: CarriedState;
  /** a delete proven by a deletionTimestamp on the object, read back */
  deleteRequested: boolean;
  /** the object proven gone without a delete: the database is kept and marked released */
  orphanRequested: boolean;
  /** the newest generation a person approved */
  approvedGeneration: number;
  /** why the latest approval was refused, until the waiting loop has said so in the status */
  approvalRefused: string | undefined;
  retryRequested = false;
  names: DatabaseNames | undefined;
  readonly created: CreatedThisRun = { password: false, instance: false, consul: false };
  /** cancelled (not failed) when a proven delete or orphaning interrupts provisioning */
  provisioning: CancellationScope | undefined;
  /** what an operator sees: phase, step, attempt, the object's status, the UI's phase */
  readonly progress: Progress;
  readonly steps: StepRunner;

  constructor(readonly input: DatabaseWorkflowInput) {
    this.identity = identityOf(input.object);
    this.latest = input.object;
    this.carried = input.carried ?? {};
    this.deleteRequested = this.carried.deleteRequested ?? false;
    this.orphanRequested = this.carried.orphanRequested ?? false;
    this.approvedGeneration = this.carried.approvedGeneration ?? 0;
    this.names = this.carried.applied ?? this.carried.attempted;
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
    setHandler(specChangedSignal, (object) => this.onSpecChanged(object));
    setHandler(deleteSignal, (object) => this.onDisappearance('delete', object));
    setHandler(objectGoneSignal, (claim) => this.onDisappearance('objectGone', claim));
    setHandler(approveSignal, (approval) => this.onApprove(approval));
    setHandler(retrySignal, () => {
      this.retryRequested = true;
    });
  }

  get generation(): number {
    return this.latest.metadata.generation ?? 0;
  }

  get cluster(): string | undefined {
    return this.identity.cluster;
  }

  // --- messages -----------------------------------------------------------------------------

  /**
   * A spec change: the payload names the object, and is only a hint. What is applied is the
   * object as the apiserver has it, read back here; a newer generation becomes the latest.
   */
  async onSpecChanged(object: ObjectView): Promise<void> {
    const problem = claimProblem(this.identity, object);
    if (problem) return refuse(this.identity, 'specChanged', problem, object);
    await this.readBack('specChanged');
  }

  /** Reads the object back; a newer generation of it becomes the latest. Undefined: no answer. */
  async readBack(signal: string): Promise<ObjectReading | undefined> {
    let proof: ObjectReading;
    try {
      proof = await proving.readObject(this.identity);
    } catch (error: unknown) {
      if (isCancellation(error)) throw error;
      log.warn('could not read the object back; the request is dropped', {
        signal,
        error: String(error),
      });
      return undefined;
    }
    if (proof.state !== 'gone' && (proof.object.metadata.generation ?? 0) >= this.generation) {
      this.latest = { ...proof.object, ...(this.cluster ? { cluster: this.cluster } : {}) };
    }
    return proof;
  }

  /**
   * A delete request, or the watcher's report that the object is gone. Neither is believed: the
   * object is read back, and only a deletionTimestamp on it proves a delete; an object not
   * found (or another UID under its name) orphans the database; one still there, not being
   * deleted, changes nothing.
   */
  async onDisappearance(signal: 'delete' | 'objectGone', claim: unknown): Promise<void> {
    const problem = claimProblem(this.identity, claim);
    if (problem) return refuse(this.identity, signal, problem, claim);
    if (this.input.stage === 'delete' || this.input.stage === 'orphan') {
      // while taking apart, a newer generation still counts: a switch to Retain keeps what it can
      await this.readBack(signal);
      return;
    }
    if (this.deleteRequested || this.orphanRequested) return;
    const proof = await this.readBack(signal);
    if (!proof) return;
    if (proof.state === 'deleting') {
      this.deleteRequested = true;
    } else if (proof.state === 'gone') {
      this.orphanRequested = true;
    } else {
      if (signal === 'delete') {
        await refuse(
          this.identity,
          signal,
          'the object is not being deleted (no deletionTimestamp)',
        );
      } else log.info('the object is still there; nothing to do', { signal });
      return;
    }
    this.provisioning?.cancel();
  }

  /**
   * An approval is of the generation that waits, named exactly: one that names none (the stock
   * temporal CLI without --input), another generation, or comes when nothing waits is refused,
   * visibly, and approves nothing.
   */
  async onApprove(approval: Approval | undefined): Promise<void> {
    const generation = approval?.generation;
    const waiting = this.progress.pending?.generation;
    let why: string | undefined;
    if (typeof generation !== 'number' || !Number.isInteger(generation)) {
      why = 'it names no generation; send {"generation": N} for the generation that waits';
    } else if (waiting === undefined) {
      why = `it names generation ${generation}, but no generation waits for approval`;
    } else if (generation !== waiting) {
      why = `it names generation ${generation}, but generation ${waiting} is the one that waits`;
    }
    if (why === undefined) {
      this.approvedGeneration = generation ?? 0;
      log.info('approval received', { by: approval?.by ?? 'unknown', generation });
      return;
    }
    // the status says so too, written by the waiting loop: a status write is a local activity,
    // and local activities started from two coroutines at once resolve in another order on
    // replay than they did live
    if (waiting !== undefined) this.approvalRefused = why;
    await refuse(this.identity, 'approve', why);
  }

  // --- helpers ------------------------------------------------------------------------------

  /**
   * Validates the latest spec. Once a create was sent (or an instance applied), a generation that
   * changes what RDS cannot change (the engine, the names, the encryption, the class's region or
   * account) is refused, and the names in effect stay those of the instance: a delete or cleanup
   * then still looks where the instance was made.
   */
  async validate(): Promise<ResolvedDatabase> {
    const made = this.carried.applied ?? this.carried.attempted;
    const inEffect = made ? (made.aws?.className ?? null) : undefined;
    const result = await this.steps.run('validateSpec', () =>
      local.validateSpec(this.latest, inEffect),
    );
    if (!result.ok) {
      if (result.names) this.names ??= result.names;
      throw new StepFailed(
        'validateSpec',
        FAILURE.invalidSpec,
        `invalid spec: ${result.problems.join('; ')}`,
      );
    }
    const immutable = made ? immutableChanges(made, result.database) : [];
    if (immutable.length > 0) {
      throw new StepFailed(
        'validateSpec',
        FAILURE.invalidSpec,
        `cannot change after creation: ${immutable.join('; ')}`,
      );
    }
    this.names = result.database;
    return result.database;
  }

  /**
   * Ends this run and goes on to `stage` as a new run, carrying what later stages need. Messages
   * still being handled finish first: a proven delete or orphaning outranks any other stage.
   */
  async continueTo(stage: Stage, carried: Partial<CarriedState> = {}): Promise<never> {
    await condition(allHandlersFinished);
    const next =
      stage === 'delete' || stage === 'orphan'
        ? stage
        : this.deleteRequested
          ? 'delete'
          : this.orphanRequested
            ? 'orphan'
            : stage;
    const input: DatabaseWorkflowInput = {
      stage: next,
      object: this.latest,
      carried: {
        ...this.carried,
        ...(this.approvedGeneration > 0 ? { approvedGeneration: this.approvedGeneration } : {}),
        deleteRequested: this.deleteRequested,
        orphanRequested: this.orphanRequested,
        unwrittenStatus: this.progress.unwritten,
        ...carried,
      },
    };
    return continueAsNew<typeof databaseWorkflow>(input);
  }

  /** A change needs approval while the spec asks for it, or the one in effect did. */
  needsApproval(db: ResolvedDatabase): boolean {
    return db.requireApproval || (this.carried.applied?.requireApproval ?? false);
  }

  // --- stages -------------------------------------------------------------------------------

  async provision(): Promise<never> {
    // an object without status reads as Pending already: the next write (Provisioning,
    // AwaitingApproval or Failed) is the first that tells anyone something
    this.progress.show('Pending', 'validating the spec');
    const db = await this.validate();
    const finalizer = await this.steps.run('ensureFinalizer', () =>
      local.ensureFinalizer(db.ref, this.latest.version),
    );
    if (!finalizer.present) {
      // gone or being deleted before it was guarded: the delete stage reads which, and deletes
      // only on a deletionTimestamp (gone: the database is kept, marked released)
      log.warn('finalizer not added: the object is gone or being deleted');
      return this.continueTo('delete');
    }
    const approved = this.needsApproval(db)
      ? await this.awaitApproval(db, () => this.validate())
      : db;
    if (this.deleteRequested || this.orphanRequested) return this.continueTo('delete');

    this.provisioning = new CancellationScope();
    let made: Made;
    try {
      made = await this.provisioning.run(() => this.createAndWait(approved));
    } catch (error: unknown) {
      // a proven delete or orphaning cancels provisioning; go on to take care of what exists
      const interrupted = this.deleteRequested || this.orphanRequested;
      if (
        isCancellation(error) &&
        interrupted &&
        !CancellationScope.current().consideredCancelled
      ) {
        return this.continueTo('delete', { applied: approved });
      }
      throw error;
    }
    const { reached } = made;
    await this.publish(made.db, reached);
    return this.continueTo('serve', {
      applied: made.db,
      appliedGeneration: made.db.generation,
      endpoint: reached.endpoint,
      ...(reached.arn ? { instanceArn: reached.arn } : {}),
    });
  }

  /**
   * Waits in AwaitingApproval until a person approves this generation (`rdsflow approve`). A
   * newer spec arriving meanwhile is validated and needs an approval of its own; the approved
   * generation's spec is the one that goes ahead. Returns early on a delete or orphaning.
   */
  async awaitApproval(
    first: ResolvedDatabase,
    validate: () => Promise<ResolvedDatabase>,
  ): Promise<ResolvedDatabase> {
    let db = first;
    const interrupted = () => this.deleteRequested || this.orphanRequested;
    // an approval is of one generation exactly
    while (this.needsApproval(db) && this.approvedGeneration !== db.generation) {
      this.progress.pending = approvalOf(db);
      await this.progress.report(
        'AwaitingApproval',
        `generation ${db.generation} waits for \`rdsflow approve\` before rdsflow changes RDS: ` +
          `${db.engine} ${db.instanceClass}, ${db.storageGiB} GiB, deletionPolicy ${db.deletionPolicy}` +
          (db.requireApproval ? '' : ' (it removes requireApproval, which needs approval too)'),
        { reason: 'AwaitingApproval', pendingApproval: this.progress.pending },
      );
      this.progress.step = 'awaitApproval';
      const waitingFor = db.generation;
      const approvedOrMoved = () =>
        this.approvedGeneration === waitingFor || interrupted() || this.generation > waitingFor;
      await this.progress.waitInLine(() => approvedOrMoved() || this.approvalRefused !== undefined);
      while (!approvedOrMoved()) {
        const why = this.approvalRefused;
        this.approvalRefused = undefined;
        if (why !== undefined) {
          await this.progress.report('AwaitingApproval', `approval refused: ${why}`, {
            reason: 'ApprovalRefused',
            pendingApproval: this.progress.pending,
          });
        }
        await condition(() => approvedOrMoved() || this.approvalRefused !== undefined);
      }
      this.approvalRefused = undefined;
      if (interrupted()) break;
      // a newer spec is the one to approve now
      if (this.generation > waitingFor) db = await validate();
    }
    this.progress.pending = undefined;
    return db;
  }

  async createAndWait(wanted: ResolvedDatabase): Promise<Made> {
    await this.progress.report(
      'Provisioning',
      `${wanted.source ? 'restoring' : 'creating'} RDS instance ${wanted.dbInstanceIdentifier}` +
        (wanted.source ? ` from snapshot ${wanted.source.snapshot}` : ''),
    );
    const password = await this.steps.run('ensureMasterPassword', () =>
      local.ensureMasterPassword(wanted),
    );
    this.created.password = password.created;
    if (password.takenOverFrom) this.created.secretFrom = password.takenOverFrom;
    // from here on an instance (or its parameter group) may exist where this spec says: later
    // runs look there, and refuse a generation that would move it
    this.carried = { ...this.carried, attempted: wanted };
    const db = await this.ensureParameters(wanted, []);
    this.created.instance = true; // from here on a cancel must look for an instance
    const created = await this.steps.run('createDbInstance', () =>
      awaitedOnCancel.createDbInstance(db),
    );
    if (created.retainedFrom) this.created.adoptedFrom = created.retainedFrom;
    const how = created.adopted ? 'adopted' : created.restoredFrom ? 'restored' : 'created';
    await this.progress.report(
      'Provisioning',
      `${how} RDS instance ${db.dbInstanceIdentifier}` +
        (created.retainedFrom ? ` (retained from uid ${created.retainedFrom})` : '') +
        (created.restoredFrom ? ` from snapshot ${created.restoredFrom}` : '') +
        '; waiting until it is available',
      {
        ...(created.retainedFrom ? { adoptedFrom: created.retainedFrom } : {}),
        ...(created.restoredFrom ? { restoredFrom: created.restoredFrom } : {}),
      },
    );
    const available = await this.steps.run('waitUntilAvailable', () =>
      polling.waitUntilAvailable(namesOf(db)),
    );
    // an adopted or restored instance may lack this spec or the password in Vault (a restored
    // one has the snapshot's): make it so, then wait (one just created has both from its create)
    const converge = created.adopted || created.restoredFrom !== undefined;
    return { db, reached: converge ? await this.converge(db, available, []) : available };
  }

  /**
   * spec.parameters become the DB parameter group this Database owns, made to hold them before
   * the instance is created or changed; the resolved spec then names it, so the create attaches
   * it and a change switches to it. `previous`: the parameters rdsflow set before (the spec
   * applied), reset when the spec drops them.
   */
  async ensureParameters(
    db: ResolvedDatabase,
    previous: readonly string[],
  ): Promise<ResolvedDatabase> {
    if (!db.parameters && !db.parameterGroup) return db;
    const group = await this.steps.run('ensureParameterGroup', () =>
      quick.ensureParameterGroup(db, previous),
    );
    if (group.created) this.created.parameterGroup = group.name;
    const waiting = this.carried.pendingReboot ?? [];
    const pendingReboot = [...waiting, ...group.pendingReboot.filter((n) => !waiting.includes(n))];
    this.carried = { ...this.carried, pendingReboot };
    return { ...db, parameterGroup: group.name };
  }

  /**
   * The group the instance uses, and the parameters that wait for its reboot (while RDS says
   * the group is pending-reboot: the ones set since, or all of the spec's after a switch of
   * group). Only for a spec that states parameters or a group.
   */
  async parameterStatus(db: ResolvedDatabase): Promise<ParameterStatus | undefined> {
    if (!db.parameters && !db.parameterGroup) return undefined;
    const read = await this.steps.run('readParameterStatus', () =>
      quick.readParameterStatus(namesOf(db)),
    );
    const known = this.carried.pendingReboot ?? [];
    const pendingReboot =
      read.applyStatus !== 'pending-reboot'
        ? []
        : known.length > 0
          ? [...known]
          : Object.keys(db.parameters ?? {});
    this.carried = { ...this.carried, pendingReboot };
    return {
      group: read.group ?? db.parameterGroup ?? '',
      ...(pendingReboot.length > 0 ? { pendingReboot } : {}),
    };
  }

  /**
   * Applies what the spec states and the credentials to the instance; waits again only if
   * something changed (or where it answers is not known). `managedTags`: the user tags rdsflow
   * set before (only those are removed when the spec drops them; tags other tools set stay).
   */
  async converge(
    db: ResolvedDatabase,
    at: Reached | undefined,
    managedTags: string[],
  ): Promise<Reached> {
    const converged = await this.steps.run('modifyDbInstance', () =>
      polling.modifyDbInstance(db, managedTags),
    );
    if (!converged.changed && at) return at;
    return await this.steps.run('waitUntilAvailable', () =>
      polling.waitUntilAvailable(namesOf(db)),
    );
  }

  async publish(db: ResolvedDatabase, at: Reached): Promise<void> {
    const { endpoint } = at;
    this.carried = { ...this.carried, endpoint };
    const parameters = await this.parameterStatus(db);
    const secret = await this.steps.run('writeDbSecret', () => local.writeDbSecret(db, endpoint));
    // a provisioning publishes for the first time: a cancel from here removes what it wrote
    if (this.input.stage === 'provision') this.created.consul = true;
    const consul = await this.steps.run('publishToConsul', () =>
      local.publishToConsul(db, endpoint),
    );
    await this.progress.report('Available', availableMessage(db, endpoint, parameters), {
      reason: 'Available',
      endpoint,
      vaultPath: secret.vaultPath,
      consulKey: consul.consulKey,
      observedGeneration: db.generation,
      ...(parameters ? { parameters } : {}),
      ...(db.source ? { restoredFrom: db.source.snapshot } : {}),
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
    await this.progress.waitInLine(
      () =>
        this.deleteRequested ||
        this.orphanRequested ||
        this.generation > applied ||
        this.retryRequested,
    );
    return this.continueTo('modify');
  }

  async modify(): Promise<never> {
    const before = this.carried.applied;
    let db = await this.validate();
    if (this.needsApproval(db)) {
      db = await this.awaitApproval(db, () => this.validate());
      if (this.deleteRequested || this.orphanRequested) return this.continueTo('delete');
    }
    await this.progress.report(
      'Modifying',
      `applying generation ${db.generation} to ${db.dbInstanceIdentifier}`,
    );
    // a secret lost from Vault is generated again here; converging resets the instance to it
    await this.steps.run('ensureMasterPassword', () => local.ensureMasterPassword(db));
    db = await this.ensureParameters(db, Object.keys(before?.parameters ?? {}));
    const { endpoint, instanceArn } = this.carried;
    const at = endpoint ? { endpoint, ...(instanceArn ? { arn: instanceArn } : {}) } : undefined;
    // RDS changes an instance only when it is available; the activity waits for that
    const reached = await this.converge(db, at, Object.keys(before?.tags ?? {}));
    await this.publish(db, reached);
    return this.continueTo('serve', {
      applied: db,
      appliedGeneration: db.generation,
      endpoint: reached.endpoint,
      ...(reached.arn ? { instanceArn: reached.arn } : {}),
    });
  }

  /**
   * A delete request: proven first by reading the object back (only a deletionTimestamp
   * proves it; gone means orphaned), then the instance per policy, the entries, the finalizer.
   */
  async delete(): Promise<DatabaseWorkflowResult> {
    const proof = await this.steps.run('readObject', () => proving.readObject(this.identity));
    if (proof.state === 'gone') return this.orphan(true);
    if (proof.state === 'present') {
      await refuse(
        this.identity,
        'delete',
        'the object is not being deleted (no deletionTimestamp)',
      );
      this.deleteRequested = false;
      return this.continueTo(this.carried.applied ? 'serve' : 'provision');
    }
    this.latest = { ...proof.object, ...(this.cluster ? { cluster: this.cluster } : {}) };
    const names = this.names ?? (await this.namesForCleanup());
    const policy = this.deletionPolicy();
    await this.progress.report('Deleting', `deleting per policy ${policy}`);
    const removed = await deleteInstance(this.steps, this.progress, {
      names,
      policy,
      ...(this.carried.instanceArn ? { expectedArn: this.carried.instanceArn } : {}),
    });
    // the object vanished right before the destructive call: nothing was deleted
    if (removed.instance === 'released') return this.orphan(true);
    // a switch to Retain that arrived after the instance's deletion began still keeps the
    // credentials (they open a restore of the final snapshot)
    if (mostProtective(removed.policy, this.deletionPolicy()) === 'Retain') {
      await this.steps.run('retainDbSecret', () => quick.retainDbSecret(names));
    } else {
      await this.steps.run('deleteDbSecret', () => quick.deleteDbSecret(names));
    }
    await this.steps.run('removeFromConsul', () => quick.removeFromConsul(names));
    await this.progress.report('Deleting', 'database removed; releasing the finalizer');
    await this.steps.run('releaseFinalizer', () => quick.releaseFinalizer(names.ref));
    await condition(allHandlersFinished);
    return {
      outcome: 'deleted',
      deletionPolicy: removed.policy,
      ...(removed.snapshot ? { snapshot: removed.snapshot } : {}),
      ...(removed.instance ? { instance: removed.instance } : {}),
    };
  }

  /**
   * The object vanished without a delete: keep everything, mark it released, say how to return.
   * Proven again first, whatever led here (a stage input, a carried request): an object that is
   * there after all is served again, one being deleted is deleted.
   */
  async orphan(proven = false): Promise<DatabaseWorkflowResult> {
    if (!proven) {
      const proof = await this.steps.run('readObject', () => proving.readObject(this.identity));
      if (proof.state === 'deleting') return this.delete();
      if (proof.state === 'present') {
        log.warn('the object is there after all: nothing is orphaned');
        this.orphanRequested = false;
        return this.continueTo(this.carried.applied ? 'serve' : 'provision');
      }
    }
    const names = this.names ?? (await this.namesForCleanup());
    const result = await orphan(this.steps, names);
    await condition(allHandlersFinished);
    return result;
  }

  async namesForCleanup(): Promise<DatabaseNames> {
    const result = await this.steps.run('validateSpec', () => local.validateSpec(this.latest));
    const names = result.ok ? result.database : result.names;
    if (!names)
      throw new StepFailed(
        'validateSpec',
        FAILURE.invalidSpec,
        'the object identity is malformed; nothing to delete',
      );
    return names;
  }

  /**
   * The newest spec's policy (even when the rest of it is invalid), else the one applied; under
   * approval, never less protective than the approved one in effect: an unapproved edit to a
   * weaker policy does not weaken the delete that follows it.
   */
  deletionPolicy(): DeletionPolicy {
    const applied = this.carried.applied;
    const newest =
      deletionPolicyOf(this.latest.spec) ?? applied?.deletionPolicy ?? SPEC_DEFAULTS.deletionPolicy;
    return applied?.requireApproval ? mostProtective(newest, applied.deletionPolicy) : newest;
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
   * Phase Failed: wait for a person. A retry, a new generation, a proven delete or orphaning
   * starts the right stage again; a failed delete waits for a retry or a new generation
   * (re-running it at once would storm).
   */
  async failed(error: StepFailed): Promise<never> {
    const failedGeneration = this.generation;
    const { stage } = this.input;
    const takingApart = stage === 'delete' || stage === 'orphan';
    this.progress.lastError = error.message;
    await this.progress.report('Failed', error.message, { reason: error.reason });
    this.progress.step = 'awaitFix';
    await this.progress.waitInLine(
      () =>
        this.retryRequested ||
        this.generation > failedGeneration ||
        (!takingApart && (this.deleteRequested || this.orphanRequested)),
    );
    if (takingApart) return this.continueTo(stage);
    return this.continueTo(this.carried.applied ? 'modify' : 'provision');
  }

  async run(): Promise<DatabaseWorkflowResult> {
    switch (this.input.stage) {
      case 'provision':
        return await this.provision();
      case 'serve':
        return await this.serve();
      case 'modify':
        return await this.modify();
      case 'delete':
        return await this.delete();
      case 'orphan':
        return await this.orphan();
    }
  }
}

export async function databaseWorkflow(
  input: DatabaseWorkflowInput,
): Promise<DatabaseWorkflowResult> {
  const flow = new DatabaseFlow(input);
  flow.install();
  assertIdMatches(flow.identity);
  const takingApart = input.stage === 'delete' || input.stage === 'orphan';
  // a deletion or an orphaning, once proven, is finished whatever is asked: a cancel would
  // leave the object held by its finalizer, or the instance half released
  if (takingApart) refuseCancel(flow.identity, flow.progress);
  let inFailed = false;
  const story = async () => {
    try {
      return await flow.run();
    } catch (error: unknown) {
      if (!(error instanceof StepFailed)) throw error;
      inFailed = true;
      return await flow.failed(error);
    }
  };
  try {
    return takingApart ? await CancellationScope.nonCancellable(story) : await story();
  } catch (error: unknown) {
    // a cancel (in phase Failed too) rolls back what this run created and ends Cancelled
    if (isCancellation(error) && !takingApart) {
      log.info('cancelled', { inFailed });
      await CancellationScope.nonCancellable(() => flow.rollback());
    }
    throw error;
  }
}
