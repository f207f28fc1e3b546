// What kind of failure an error is, whichever client raised it (the AWS SDK, node-vault,
// Consul's papi, client-node): the one reading of error shapes, for the worker's activities
// (activities/errors.ts turns it into a Temporal failure with advice) and the watcher (which
// retries what is transient). Pure: no SDK imports, no I/O.
import { FAILURE, type FailureType, type System } from '../contracts/failures.js';

/** AWS error names that refuse the worker's credentials: IAM, STS, KMS. */
const AWS_PERMISSION =
  /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|NotAuthorized|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|IncompleteSignature|InvalidSignatureException|MissingAuthenticationToken|ExpiredToken|ExpiredTokenException|KMSKeyNotAccessibleFault)$/;

/**
 * The SDK could not obtain credentials at all (IMDS, the pod-identity agent or STS did not answer
 * in time): no AWS service refused anything, and the next attempt usually gets them.
 */
const AWS_NO_CREDENTIALS = /^(CredentialsProviderError|ProviderError|TokenProviderError)$/;

/** AWS account quotas (throttling is not one: it is transient). */
const AWS_QUOTA = /QuotaExceeded/;

/** RDS refuses the request in the instance's state: a person must look. */
const AWS_CONFLICT = /^InvalidDBInstanceState(Fault)?$/;

const THROTTLED = /thrott|RequestLimitExceeded|TooManyRequests|SlowDown/i;

/** Errors without an HTTP status that still say "the server was not reached in time". */
const NOT_REACHED = /Timeout|Abort|FetchError|TimeoutError/;

/** Node's codes for a connection refused, reset, timed out or unresolved (ECONNREFUSED, ...). */
const CONNECTION_CODE = /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/;

/**
 * A server reached but not understood: a TLS handshake or certificate that failed (a
 * certificate rotating, a proxy in the way) or an HTTP answer that could not be parsed.
 */
const WIRE_CODE =
  /^(ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z_]+|CERT_[A-Z_]+|UNABLE_TO_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|HOSTNAME_MISMATCH|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|ERROR_IN_CERT_[A-Z_]+|HPE_[A-Z_]+)$/;

/** A wire failure anywhere in the cause chain. */
function notUnderstood(e: ErrorLike, depth = 0): boolean {
  if (typeof e.code === 'string' && WIRE_CODE.test(e.code)) return true;
  return depth < 4 && e.cause !== undefined && notUnderstood(asErrorLike(e.cause), depth + 1);
}

export interface ErrorLike {
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

export function asErrorLike(error: unknown): ErrorLike {
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

/** The Status the apiserver answered (client-node's ApiException carries it as its body). */
export function kubeStatusOf(body: unknown): { reason?: string; message?: string } | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  const status = parsed as { kind?: unknown; reason?: unknown; message?: unknown } | null;
  if (status?.kind !== 'Status') return undefined;
  return {
    ...(typeof status.reason === 'string' ? { reason: status.reason } : {}),
    ...(typeof status.message === 'string' ? { message: status.message } : {}),
  };
}

export interface Verdict {
  readonly type: FailureType;
  /** what the system did, in a few words (`{}` stands for the system) */
  readonly what: string;
  /**
   * Transient for a few attempts only, then this type: a cause that usually passes (a
   * credentials endpoint slow, a certificate rotating) but, persisting, is a setup to fix,
   * which a long wait's silent retries must not hide for hours.
   */
  readonly persisting?: FailureType;
}

const UNAVAILABLE: Verdict = { type: FAILURE.transient, what: '{} unavailable' };
const REFUSED: Verdict = {
  type: FAILURE.permissionDenied,
  what: "{} refused the worker's credentials",
};

/**
 * Kubernetes: a 404 whose Status says NotFound names a thing that is not there (the object, its
 * namespace): a conflict; a bare 404 (a CRD version not served yet), a 409 or a 410 passes;
 * any other 4xx refuses a request rdsflow made wrong: a bug.
 */
function byKubeStatus(status: number, body: unknown): Verdict {
  if (status === 404 && kubeStatusOf(body)?.reason === 'NotFound')
    return { type: FAILURE.conflict, what: '{} found no such object' };
  if (status === 404 || status === 409 || status === 410) return UNAVAILABLE;
  return { type: FAILURE.bug, what: `{} refused the request (HTTP ${status})` };
}

/** How an HTTP answer with this status reads, for each system (after names and throttling). */
function byStatus(
  system: System | 'rdsflow',
  status: number,
  name: string,
  body: unknown,
): Verdict {
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
      return byKubeStatus(status, body);
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
  if (system === 'AWS' && AWS_NO_CREDENTIALS.test(name))
    return {
      type: FAILURE.transient,
      what: 'no AWS credentials could be obtained',
      persisting: FAILURE.permissionDenied,
    };
  if (system === 'AWS' && AWS_PERMISSION.test(name)) return REFUSED;
  if (system === 'AWS' && AWS_QUOTA.test(name))
    return { type: FAILURE.quotaExceeded, what: 'an AWS account quota is reached' };
  if (status !== undefined) return byStatus(system, status, name, e.body);
  if (notUnderstood(e))
    return {
      type: FAILURE.transient,
      what: '{} not understood on the wire',
      persisting: FAILURE.bug,
    };
  if (notReached(e))
    return system === 'AWS' ? { ...UNAVAILABLE, what: 'RDS unavailable' } : UNAVAILABLE;
  return { type: FAILURE.bug, what: '{} failed' };
}
