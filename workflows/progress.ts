// What an operator sees of a database's story while it runs: the phase, the step and its
// attempt, the last error and what waits for approval (the `status` query), the object's status
// (written by an activity), the Temporal UI's current details and its phase search attribute.
import {
  condition,
  isCancellation,
  log,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PendingApproval, Phase, StatusUpdate } from '../contracts/database.js';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes.js';
import type { DatabaseNames } from '../contracts/resolved.js';
import type { CarriedState, ObjectView, LiveStatus, Stage } from '../contracts/workflow.js';
import { local } from './profiles.js';
import { describeFailure } from './failures.js';

/** Where the progress reads what it reports: the flow's current state. */
export interface ProgressSource {
  readonly stage: Stage;
  object(): ObjectView;
  names(): DatabaseNames | undefined;
  carried(): CarriedState;
}

/** A dropped status write is tried again after this long, then at doubling intervals. */
const REWRITE_FIRST_MS = 5_000;
const REWRITE_MAX_MS = 5 * 60_000;
/** ... this many times (over ~1.7 h), then hourly: each try is 6 events of history */
const REWRITE_ATTEMPTS = 24;
const REWRITE_SLOW_MS = 60 * 60_000;

export class Progress {
  phase: Phase = 'Pending';
  step = 'starting';
  attempt = 1;
  lastError: string | undefined;
  message = 'accepted';
  /** what waits for approval now (live status and the object's status show it) */
  pending: PendingApproval | undefined;
  /**
   * The newest status that could not be written to the object (its write failed after all its
   * retries, e.g. the apiserver unreachable): written again while the workflow waits
   * (`waitInLine`), carried to the next run until then. A later write that lands replaces it.
   */
  unwritten: StatusUpdate | undefined;

  constructor(private readonly source: ProgressSource) {
    this.unwritten = source.carried().unwrittenStatus;
  }

  live(): LiveStatus {
    const carried = this.source.carried();
    return {
      phase: this.phase,
      stage: this.source.stage,
      step: this.step,
      attempt: this.attempt,
      message: this.message,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(carried.endpoint ? { endpoint: carried.endpoint } : {}),
      ...(carried.appliedGeneration !== undefined
        ? { observedGeneration: carried.appliedGeneration }
        : {}),
      ...(this.pending ? { awaitingApproval: this.pending } : {}),
    };
  }

  /** Shows phase and message in the live status and the UI, without writing the object. */
  show(phase: Phase, message: string): void {
    this.showPhase(phase);
    this.phase = phase;
    this.message = message;
    // the UI's "current details": not a command, so free of replay concerns
    setCurrentDetails(`**${phase}**: ${message}`);
  }

  /** Writes status to the object; a failure to report never stops the database's story. */
  async report(phase: Phase, message: string, extra: Partial<StatusUpdate> = {}): Promise<void> {
    this.show(phase, message);
    const object = this.source.object();
    const names = this.source.names();
    const endpoint = this.source.carried().endpoint;
    await this.write({
      phase,
      message,
      observedGeneration: object.metadata.generation ?? 0,
      workflowId: workflowInfo().workflowId,
      ...(names ? { dbInstanceIdentifier: names.dbInstanceIdentifier } : {}),
      ...(names?.aws
        ? { class: { name: names.aws.className, generation: names.aws.classGeneration } }
        : {}),
      ...(endpoint ? { endpoint } : {}),
      ...extra,
    });
  }

  /**
   * Waits until `done`, first bringing the object's status in line with what the workflow
   * knows: a status write that was dropped is written again, after 5 s, then at doubling
   * intervals up to 5 minutes, hourly after REWRITE_ATTEMPTS tries, until it lands. Only the
   * main path calls it (status writes are local activities, which must not run from two
   * coroutines at once).
   */
  async waitInLine(done: () => boolean): Promise<void> {
    let delayMs = REWRITE_FIRST_MS;
    for (let attempt = 1; this.unwritten && !done(); attempt++) {
      if (await condition(done, delayMs)) return;
      const update = this.unwritten;
      log.info('writing the status that was not written', { phase: update.phase, attempt });
      await this.write({ ...update, rewrite: true });
      // a write refused for good (RBAC lost) is tried hourly once the first tries are spent:
      // the object is never left wrong for good, and the history grows ~150 events a day
      if (attempt === REWRITE_ATTEMPTS && this.unwritten)
        log.warn('status still not written; trying hourly from now on', { phase: update.phase });
      delayMs =
        attempt >= REWRITE_ATTEMPTS ? REWRITE_SLOW_MS : Math.min(delayMs * 2, REWRITE_MAX_MS);
    }
    await condition(done);
  }

  private async write(update: StatusUpdate): Promise<void> {
    const object = this.source.object();
    try {
      await local.reportStatus(object.metadata, update, object.version);
      this.unwritten = undefined;
    } catch (error: unknown) {
      if (isCancellation(error)) throw error;
      this.unwritten = update;
      log.warn('status not written', {
        phase: update.phase,
        error: describeFailure(error).message,
      });
    }
  }

  /**
   * Keeps the DatabasePhase search attribute current, so the UI can filter by phase. Only when
   * the starter set the attributes (they are registered on this Temporal namespace): upserting
   * an unregistered one would fail every workflow task.
   */
  private showPhase(phase: Phase): void {
    const shown = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase);
    if (shown === undefined || shown === phase) return;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
  }
}
