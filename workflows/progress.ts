// What an operator sees of a database's story while it runs: the phase, the step and its
// attempt, the last error and what waits for approval (the `status` query), the object's status
// (written by an activity), the Temporal UI's current details and its phase search attribute.
import {
  isCancellation,
  log,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PendingApproval, Phase, StatusUpdate } from '../contracts/database.js';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes.js';
import type { DatabaseNames } from '../contracts/resolved.js';
import type { CarriedState, DatabaseSnapshot, LiveStatus, Stage } from '../contracts/workflow.js';
import { local } from './profiles.js';
import { describeFailure } from './failures.js';

/** Where the progress reads what it reports: the flow's current state. */
export interface ProgressSource {
  readonly stage: Stage;
  object(): DatabaseSnapshot;
  names(): DatabaseNames | undefined;
  carried(): CarriedState;
}

export class Progress {
  phase: Phase = 'Pending';
  step = 'starting';
  attempt = 1;
  lastError: string | undefined;
  message = 'accepted';
  /** what waits for approval now (live status and the object's status show it) */
  pending: PendingApproval | undefined;

  constructor(private readonly source: ProgressSource) {}

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
    const update: StatusUpdate = {
      phase,
      message,
      observedGeneration: object.metadata.generation ?? 0,
      workflowId: workflowInfo().workflowId,
      ...(names ? { dbInstanceIdentifier: names.dbInstanceIdentifier } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...extra,
    };
    try {
      await local.reportStatus(object.metadata, update, object.seen);
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
  private showPhase(phase: Phase): void {
    const shown = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase);
    if (shown === undefined || shown === phase) return;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
  }
}
