// Errors are classified once, here, at the activity edge, into the one set of failure kinds
// (contracts/failures.ts) whatever the adapter: what a retry cannot fix becomes a non-retryable
// failure whose message ends with the advice for its kind; throttling, 5xx and connection
// errors stay retryable with a jittered delay so that many workers do not retry in lockstep; an
// error no adapter knows (a TypeError: a bug) is tried BUG_ATTEMPTS times, then fails for good
// with its stack in the worker's log, never in the status. How an error reads (which kind) is
// runtime/failure-type.ts; here it becomes the Temporal failure the workflow sees.
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import {
  ADVICE,
  FAILURE,
  FAILURE_KIND,
  PERMISSION_ADVICE,
  type FailureType,
  type System,
} from '../contracts/failures.js';
import {
  asErrorLike,
  httpStatusOf,
  kubeStatusOf,
  verdictOf,
  type ErrorLike,
} from '../runtime/failure-type.js';

/** Attempts of one activity that an unclassified error (a bug) gets before it fails for good. */
export const BUG_ATTEMPTS = 3;

/** A delay of `baseMs · 2^(attempt-1)`, capped, with full jitter. */
export function jitteredDelayMs(attempt: number, baseMs = 1_000, capMs = 60_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(baseMs / 2, Math.round(Math.random() * ceiling));
}

export function transient(message: string, attempt: number, cause?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type: FAILURE.transient,
    nonRetryable: false,
    nextRetryDelay: jitteredDelayMs(attempt),
    ...(cause instanceof Error ? { cause } : {}),
  });
}

/** The types a person must act on: every type but the retried ones. */
export type TerminalType = Exclude<
  FailureType,
  'Transient' | 'Bug' | 'Timeout' | 'NotYetAvailable'
>;

/**
 * A failure no retry fixes: the database goes to Failed with this type and message, followed
 * by what to do about it: the advice of its kind, unless the case has its own.
 */
export function terminal(
  type: TerminalType,
  message: string,
  details?: Record<string, unknown>,
  advice: string = ADVICE[FAILURE_KIND[type]],
): ApplicationFailure {
  return ApplicationFailure.create({
    message: `${message.replace(/\.?$/, '.')} ${advice}`,
    type,
    nonRetryable: true,
    details: details ? [details] : [],
  });
}

/** The words a message may show of an error: its name, and a message free of data. */
function safeDetail(e: ErrorLike): string {
  const name = e.name ?? 'Error';
  // a SyntaxError from JSON.parse quotes its input, which may be a secret: name only; so do
  // Node's argument checks (ERR_INVALID_ARG_TYPE: "Received type string ('…')"): their code only
  if (typeof e.code === 'string' && e.code.startsWith('ERR_')) return `${name} ${e.code}`;
  // (a TypeError may quote too: undici's invalid header value quotes the header, a token)
  const quotesNoData = /^(ReferenceError|RangeError)$/.test(name);
  return quotesNoData && e.message ? `${name}: ${e.message.split('\n')[0]}` : name;
}

/**
 * An error no adapter knows: retryable for the first BUG_ATTEMPTS - 1 attempts (it may be a
 * race), then a non-retryable Bug. Its stack goes to the worker's log, not to the status.
 */
function bug(step: string, error: unknown, attempt: number, said?: string): ApplicationFailure {
  const e = asErrorLike(error);
  const detail = said || safeDetail(e);
  const stack = typeof e.stack === 'string' ? e.stack.split('\n').slice(1).join('\n') : undefined;
  const final = attempt >= BUG_ATTEMPTS;
  const line = { step, attempt, final, error: detail, stack };
  if (final) log.error('unclassified error (a bug): failing the step', line);
  else log.warn('unclassified error (a bug?): trying again', line);
  const message = final
    ? `${step}: internal error (${detail}), ${attempt} attempts. ${ADVICE.bug}`
    : `${step}: internal error (${detail}); trying again`;
  return ApplicationFailure.create({
    message,
    type: FAILURE.bug,
    nonRetryable: final,
    ...(final ? {} : { nextRetryDelay: jitteredDelayMs(attempt) }),
  });
}

/** What the system said: its error name and message, or a store's own error lines. */
function detailOf(system: System | 'rdsflow', e: ErrorLike): string {
  const status = httpStatusOf(e);
  const http = status !== undefined && system !== 'AWS' ? `HTTP ${status}: ` : '';
  const body = e.response?.body as { errors?: unknown[] } | undefined;
  const errors = Array.isArray(body?.errors) ? body.errors.map(String).join('; ') : '';
  const said =
    errors ||
    kubeStatusOf(e.body)?.message ||
    (e.message ?? '').split('\n')[0] ||
    (typeof e.code === 'string' ? e.code : 'unknown error');
  const text = system === 'AWS' ? `${e.name ?? 'Error'}: ${said}` : `${http}${said}`;
  return text.replace(/\.$/, '');
}

function adviceFor(system: System | 'rdsflow', type: FailureType): string {
  const kind = FAILURE_KIND[type];
  if (kind === 'permission' && system !== 'rdsflow') return PERMISSION_ADVICE[system];
  return ADVICE[kind];
}

/**
 * The failure to throw for an error `system` raised during `step` (attempt: the activity's).
 * A failure already classified (an ApplicationFailure, a cancellation) passes unchanged.
 */
/**
 * From this attempt on, a usually passing cause (`Verdict.persisting`) is no longer retried. A
 * quick call (5 attempts) never gets there: its step is retried by the workflow, visibly in the
 * status; a long wait, retried by the server without a word, does.
 */
export const PERSISTING_ATTEMPTS = 8;

export function classifyError(
  system: System | 'rdsflow',
  step: string,
  error: unknown,
  attempt: number,
): Error {
  if (error instanceof TemporalFailure) return error;
  const verdict = verdictOf(system, error);
  // a usually passing cause that persists is what it then is: a person must look
  const type =
    verdict.persisting && attempt >= PERSISTING_ATTEMPTS ? verdict.persisting : verdict.type;
  const what = verdict.what.replace('{}', system);
  if (type === FAILURE.bug)
    return bug(step, error, attempt, httpStatusOf(error) === undefined ? undefined : what);
  const said = detailOf(system, asErrorLike(error));
  const message = `${step}: ${what}: ${said}`;
  if (type === FAILURE.transient) return transient(message, attempt, error);
  const details = {
    system,
    ...(system === 'AWS' ? { awsError: asErrorLike(error).name ?? 'Error' } : {}),
    ...(httpStatusOf(error) !== undefined ? { httpStatus: httpStatusOf(error) } : {}),
  };
  return terminal(type as TerminalType, message, details, adviceFor(system, type));
}
