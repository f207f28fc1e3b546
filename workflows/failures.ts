// How the workflow reads an activity's failure: retryable or not, its type and message.
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

/** A step that cannot succeed by retrying: the database goes to phase Failed. */
export class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

export interface Failure {
  readonly retryable: boolean;
  readonly type: string;
  readonly message: string;
}

export function describeFailure(error: unknown): Failure {
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
