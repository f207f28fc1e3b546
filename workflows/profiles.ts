// The activity profiles of the database workflow: how long one call may take and how Temporal
// retries it (the first of the two retry layers; workflows/steps.ts states the design).
// Activity *types* only: the workflow never imports activity code.
import {
  ActivityCancellationType,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** Quick calls: a few fast retries inside the activity, the workflow's step loop does the rest. */
const QUICK = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
} as const;

export const quick = proxyActivities<Activities>(QUICK);

/**
 * The quick steps on the way from apply to Available (validation, the finalizer, the password,
 * the Vault and Consul writes) and every status write, as local activities: run by the worker
 * inside the workflow task that asked for them, recorded as one marker, with the same timeout
 * and retries as a quick call. Each is short and repeatable (a crash mid-call runs it again), the
 * kind Temporal runs locally; as a regular activity each cost a round trip through the server (a
 * workflow task and six events). Only the main path calls them: local activities started from
 * two coroutines at once resolve in another order on replay than they did live, so signal
 * handlers use regular activities.
 */
export const local = proxyLocalActivities<Activities>(QUICK);

/**
 * The create call: a cancel waits for its outcome instead of abandoning it, so no instance can
 * land after a rollback or a delete has looked for it (the activity does not heartbeat, so it
 * runs to its end and the workflow sees whether it created something).
 */
export const awaitedOnCancel = proxyActivities<Activities>({
  ...QUICK,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * Reading the object back (readObject): retried while the apiserver is unreachable, however long
 * that takes (a request is never decided on a guess). A failure retrying cannot cure ends it:
 * a refusal (the worker may not read the object: 401/403), an answer that is not understood
 * (a bug, after 3 attempts; a certificate or answer that stays unreadable, after 8). The delete
 * stage then ends Failed, for `rdsflow retry`; a message's read-back drops the request with a
 * line in the log, and the watcher sends it again when it restarts or the object changes.
 */
export const proving = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * Long waits: one poll window per attempt (heartbeating), then the server re-schedules after the
 * activity's own delay. Hours of creation cost one activity's worth of history.
 */
export const polling = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '2 minutes',
  scheduleToCloseTimeout: '8 hours',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 1, maximumInterval: '5 minutes' },
});
