// Errors are classified once, here, at the activity edge, into the one set of failure kinds
// (contracts/failures.ts) whatever the adapter: what a retry cannot fix becomes a non-retryable
// failure whose message ends with the advice for its kind; throttling, 5xx and connection
// errors stay retryable with a jittered delay so that many workers do not retry in lockstep; an
// error no adapter knows (a TypeError: a bug) is retried BUG_ATTEMPTS times, then fails for good
// with its stack in the worker's log, never in the status.
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

/** Attempts of one activity that an unclassified error (a bug) gets before it fails for good. */
export const BUG_ATTEMPTS = 3;

/** AWS error names that refuse the worker's credentials: IAM, STS, KMS. */
const AWS_PERMISSION =
  /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|NotAuthorized|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|IncompleteSignature|InvalidSignatureException|MissingAuthenticationToken|ExpiredToken|ExpiredTokenException|CredentialsProviderError|KMSKeyNotAccessibleFault)$/;

/** AWS account quotas (throttling is not one: it is transient). */
const AWS_QUOTA = /QuotaExceeded/;

/** RDS refuses the request in the instance's state: a person must look. */
const AWS_CONFLICT = /^InvalidDBInstanceState(Fault)?$/;

const THROTTLED = /thrott|RequestLimitExceeded|TooManyRequests|SlowDown/i;

/** Errors without an HTTP status that still say "the server was not reached in time". */
const NOT_REACHED = /Timeout|Abort|FetchError|TimeoutError/;

/** Node's codes for a connection refused, reset, timed out or unresolved (ECONNREFUSED, ...). */
const CONNECTION_CODE = /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/;

interface ErrorLike {
  name?: string;
  code?: unknown;
  message?: string;
  stack?: unknown;
  statusCode?: number;
  $metadata?: { httpStatusCode?: number };
  response?: { statusCode?: number; body?: unknown };
  /** client-node's ApiException: the Status the apiserver answered */
  body?: unknown;
  isTimeout?: boolean;
  cause?: unknown;
}

function asErrorLike(error: unknown): ErrorLike {
  if (typeof error === 'object' && error !== null) return error;
  return { message: String(error) };
}

/** The HTTP status of an answer, whichever client shaped it (AWS SDK, node-vault, papi, client-node). */
export function httpStatusOf(error: unknown): number | undefined {
  const e = asErrorLike(error);
  const status =
    e.$metadata?.httpStatusCode ??
    e.response?.statusCode ??
    e.statusCode ??
    (typeof e.code === 'number' ? e.code : undefined);
  return typeof status === 'number' && status > 0 ? status : undefined;
}

/** A connection refused, reset or timed out, anywhere in the cause chain. */
function notReached(e: ErrorLike, depth = 0): boolean {
  if (typeof e.code === 'string' && CONNECTION_CODE.test(e.code)) return true;
  if (e.isTimeout === true || NOT_REACHED.test(e.name ?? '')) return true;
  // node's fetch rejects every network failure so, whatever its cause says (even "bad port")
  if (e.name === 'TypeError' && e.message === 'fetch failed') return true;
  return depth < 4 && e.cause !== undefined && notReached(asErrorLike(e.cause), depth + 1);
}

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
  // a SyntaxError from JSON.parse quotes its input, which may be a secret: name only
  const quotesNoData = /^(TypeError|ReferenceError|RangeError)$/.test(name);
  return quotesNoData && e.message ? `${name}: ${e.message.split('\n')[0]}` : name;
}

/**
 * An error no adapter knows: retryable for the first BUG_ATTEMPTS - 1 attempts (it may be a
 * race), then a non-retryable Bug. Its stack goes to the worker's log, not to the status.
 */
export function bug(
  step: string,
  error: unknown,
  attempt: number,
  said?: string,
): ApplicationFailure {
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

interface Verdict {
  readonly type: FailureType;
  /** what the system did, in a few words (`{}` stands for the system) */
  readonly what: string;
}

const UNAVAILABLE: Verdict = { type: FAILURE.transient, what: '{} unavailable' };
const REFUSED: Verdict = {
  type: FAILURE.permissionDenied,
  what: "{} refused the worker's credentials",
};

/** How an HTTP answer with this status reads, for each system (after names and throttling). */
function byStatus(system: System | 'rdsflow', status: number, name: string): Verdict {
  if (status === 401 || status === 403) return REFUSED;
  if (status >= 500 || status === 408) return UNAVAILABLE;
  switch (system) {
    case 'AWS':
      // any other 4xx: the request is wrong in a way we did not foresee; do not hammer RDS
      return AWS_CONFLICT.test(name)
        ? { type: FAILURE.conflict, what: "RDS refused it in the instance's state" }
        : { type: FAILURE.invalidSpec, what: 'RDS rejected the request' };
    case 'Vault':
    case 'Consul':
      return { type: FAILURE.storeRejected, what: '{} refused the request' };
    default:
      // Kubernetes: a bare 404 (a CRD version not served yet), 409 or 410 passes; others are ours
      return status === 404 || status === 409 || status === 410
        ? UNAVAILABLE
        : { type: FAILURE.bug, what: `{} refused the request (HTTP ${status})` };
  }
}

/** The failure type an error reads as, raised by `system`. */
export function verdictOf(system: System | 'rdsflow', error: unknown): Verdict {
  const e = asErrorLike(error);
  const name = e.name ?? 'Error';
  const status = httpStatusOf(error);
  const by = system === 'AWS' ? 'RDS' : system;
  if (THROTTLED.test(name) || status === 429)
    return { type: FAILURE.transient, what: `throttled by ${by}` };
  if (system === 'AWS' && AWS_PERMISSION.test(name)) return REFUSED;
  if (system === 'AWS' && AWS_QUOTA.test(name))
    return { type: FAILURE.quotaExceeded, what: 'an AWS account quota is reached' };
  if (status !== undefined) return byStatus(system, status, name);
  if (notReached(e))
    return system === 'AWS' ? { ...UNAVAILABLE, what: 'RDS unavailable' } : UNAVAILABLE;
  return { type: FAILURE.bug, what: '{} failed' };
}

/** A Kubernetes Status's own message (client-node's ApiException carries it as its body). */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  const message = (parsed as { kind?: string; message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : undefined;
}

/** What the system said: its error name and message, or a store's own error lines. */
function detailOf(system: System | 'rdsflow', e: ErrorLike): string {
  const status = httpStatusOf(e);
  const http = status !== undefined && system !== 'AWS' ? `HTTP ${status}: ` : '';
  const body = e.response?.body as { errors?: unknown[] } | undefined;
  const errors = Array.isArray(body?.errors) ? body.errors.map(String).join('; ') : '';
  const said =
    errors ||
    statusMessage(e.body) ||
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
export function classifyError(
  system: System | 'rdsflow',
  step: string,
  error: unknown,
  attempt: number,
): Error {
  if (error instanceof TemporalFailure) return error;
  const verdict = verdictOf(system, error);
  const { type } = verdict;
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
