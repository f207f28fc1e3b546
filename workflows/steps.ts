// The one retry design of the database workflow, stated once:
// 1. an activity call retries by itself as its profile says (workflows/profiles.ts): a few fast
//    attempts for quick calls; for long waits, one poll window per attempt for up to 8 hours;
// 2. a step whose activity still fails with a retryable error is tried again here, by the
//    workflow, after a backoff of 30 s doubling to 5 minutes, for as long as it takes, with the
//    object's status saying `<step>: attempt N failed, retrying: <error>`;
// 3. a non-retryable failure (a bad spec, an instance not ours, ...) ends the step: StepFailed,
//    and the database waits in phase Failed for a person (retry, a new spec, a delete); so does
//    a bug (contracts/failures.ts), which the activity retries a few times itself and never
//    hands back retryable unless its profile allowed fewer attempts: it is not retried forever.
import { isCancellation, sleep } from '@temporalio/workflow';
import { FAILURE } from '../contracts/failures.js';
import { StepFailed, describeFailure } from './failures.js';
import type { Progress } from './progress.js';

/** Backoff between workflow-level retries of a step: 30 s doubling to 5 minutes. */
function stepBackoffMs(attempt: number): number {
  return Math.min(300_000, 30_000 * 2 ** Math.max(0, attempt - 2));
}

export class StepRunner {
  constructor(private readonly progress: Progress) {}

  /** Runs one activity call as a named step, retrying transient failures with backoff. */
  async run<T>(step: string, call: () => Promise<T>): Promise<T> {
    const progress = this.progress;
    progress.step = step;
    progress.attempt = 1;
    for (;;) {
      try {
        const result = await call();
        progress.lastError = undefined;
        return result;
      } catch (error: unknown) {
        if (isCancellation(error)) throw error;
        const failure = describeFailure(error);
        progress.lastError = failure.message;
        if (!failure.retryable || failure.type === FAILURE.bug)
          throw new StepFailed(step, failure.type, failure.message);
        progress.attempt++;
        await progress.report(
          progress.phase,
          `${step}: attempt ${progress.attempt - 1} failed, retrying: ${failure.message}`,
          { reason: 'Retrying' },
        );
        await sleep(stepBackoffMs(progress.attempt));
      }
    }
  }
}
