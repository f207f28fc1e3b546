// How the workflow reads an activity's failure: retryable or not, its type and message.
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { FAILURE, failureType, type FailureType } from '../contracts/failures.js';

/** A step that cannot succeed by retrying: the database goes to phase Failed. */
export class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly reason: FailureType,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

export interface Failure {
  readonly retryable: boolean;
  /** the activity's failure type; one no adapter raises reads as a bug */
  readonly type: FailureType;
  readonly message: string;
}

export function describeFailure(error: unknown): Failure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    return {
      retryable: !cause.nonRetryable,
      type: failureType(cause.type),
      message: cause.message,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { retryable: false, type: FAILURE.timeout, message: `timed out (${cause.timeoutType})` };
  }
  return {
    retryable: true,
    type: FAILURE.transient,
    message: error instanceof Error ? error.message : String(error),
  };
}
