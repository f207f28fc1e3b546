// Errors are classified once, here, at the activity edge: what a retry cannot fix becomes a
// non-retryable failure with a clear type; throttling, 5xx and connection errors stay retryable
// with a jittered delay so that many workers do not retry in lockstep.
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE } from '../contracts/workflow.js';

/** AWS error names that say the request itself is wrong: retrying changes nothing. */
const AWS_TERMINAL = new Set([
  'InvalidParameterValue',
  'InvalidParameterValueException',
  'InvalidParameterCombination',
  'InvalidParameterCombinationException',
  'MissingParameter',
  'ValidationError',
  'StorageQuotaExceeded',
  'StorageQuotaExceededFault',
  'InstanceQuotaExceeded',
  'InstanceQuotaExceededFault',
  'InsufficientDBInstanceCapacity',
  'InsufficientDBInstanceCapacityFault',
  'DBParameterGroupNotFound',
  'DBParameterGroupNotFoundFault',
  'DBSubnetGroupNotFoundFault',
  'DBSecurityGroupNotFound',
  'OptionGroupNotFoundFault',
  'StorageTypeNotSupported',
  'StorageTypeNotSupportedFault',
  'KMSKeyNotAccessibleFault',
  'AuthorizationNotFound',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'AccessDenied',
  'AccessDeniedException',
]);

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);

interface ErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  response?: { statusCode?: number; body?: unknown };
  cause?: unknown;
}

function asErrorLike(error: unknown): ErrorLike {
  if (typeof error === 'object' && error !== null) return error;
  return { message: String(error) };
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

export function terminal(
  type: string,
  message: string,
  details?: Record<string, unknown>,
): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: true,
    details: details ? [details] : [],
  });
}

function isConnectionError(e: ErrorLike): boolean {
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  const cause = e.cause ? asErrorLike(e.cause) : undefined;
  return cause !== undefined && cause.code !== undefined && CONNECTION_CODES.has(cause.code);
}

/** Classifies an AWS SDK error raised by `step`. Returns the failure to throw. */
export function classifyAwsError(
  step: string,
  error: unknown,
  attempt: number,
): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const e = asErrorLike(error);
  const name = e.name ?? 'Error';
  const rejected = () =>
    terminal(
      FAILURE.invalidSpec,
      `${step}: RDS rejected the request: ${name}: ${e.message ?? ''}`.trim(),
      { awsError: name },
    );
  if (AWS_TERMINAL.has(name)) return rejected();
  const status = e.$metadata?.httpStatusCode;
  const throttled = /thrott|RequestLimitExceeded|TooManyRequests|SlowDown/i.test(name);
  if (
    throttled ||
    isConnectionError(e) ||
    status === undefined ||
    status >= 500 ||
    status === 429
  ) {
    return transient(
      `${step}: ${throttled ? 'throttled by RDS' : 'RDS unavailable'}: ${name}: ${e.message ?? ''}`,
      attempt,
      error,
    );
  }
  // any other 4xx: the request is wrong in a way we did not foresee; do not hammer RDS with it
  return rejected();
}

/**
 * Classifies an error from Vault (node-vault) or Consul: connection errors, 5xx and 429 are
 * transient; a 4xx means the request or the credentials are wrong.
 */
export function classifyStoreError(
  store: 'Vault' | 'Consul',
  step: string,
  error: unknown,
  attempt: number,
): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const e = asErrorLike(error);
  const status = e.response?.statusCode ?? (e as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500 && status !== 429 && status !== 408) {
    return terminal(
      FAILURE.storeRejected,
      `${step}: ${store} refused the request (HTTP ${status}): ${storeDetail(e)}`,
    );
  }
  return transient(`${step}: ${store} unavailable: ${storeDetail(e)}`, attempt, error);
}

function storeDetail(e: ErrorLike): string {
  const body = e.response?.body as { errors?: unknown[] } | undefined;
  const errors = Array.isArray(body?.errors) ? body.errors.map(String).join('; ') : undefined;
  return errors && errors.length > 0 ? errors : (e.message ?? e.code ?? 'unknown error');
}
