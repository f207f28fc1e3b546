// The HTTP transport of the Vault client: node's fetch, and one debug line per request that
// names its method, path and status, never a header or a body.
//
// Why not node-vault's own: under DEBUG=* (or DEBUG=node-vault), node-vault 0.12 prints every
// request body through the `debug` package ("write %o to %s", and the bare body in its
// client.request), and a KV write carries the master password; its transport, axios, goes
// through follow-redirects, which prints each request's options under DEBUG=follow-redirects,
// the X-Vault-Token header among them. node-vault takes both its debug function and its
// transport from its options, so vaultClient replaces them where the client is built: the fence
// holds whatever DEBUG says, in the bundled worker as under tsx, and does not depend on which
// copy of `debug` a module resolves.
import { createRequire } from 'node:module';

/** One request as node-vault 0.12's client.request hands it to its transport. */
interface VaultRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers?: Record<string, string>;
  /** the body of a write */
  readonly json?: unknown;
}

/** What node-vault's handleVaultResponse reads back. */
interface VaultResponse {
  readonly statusCode: number;
  readonly body: unknown;
  readonly request: { readonly path: string };
}

type Debug = (format: string, ...args: unknown[]) => void;

/** node-vault's option `request-promise`: it calls defaults() once and then the result. */
export interface VaultTransport {
  defaults(): (request: VaultRequest) => Promise<VaultResponse>;
}

/**
 * The `debug` of node-vault's own namespace, loaded the way node-vault loads it, so that
 * DEBUG=node-vault still shows the Vault calls, now without what they carry.
 */
function nodeVaultDebug(): Debug {
  const requireAsNodeVault = createRequire(import.meta.resolve('node-vault'));
  return (requireAsNodeVault('debug') as (namespace: string) => Debug)('node-vault');
}

/** Vault answers JSON, or nothing (204); anything else is kept as text for the error. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** fetch says only "fetch failed": name the cause (connection refused, a TLS error, ...). */
function unreachable(error: unknown): Error {
  const cause = (error as { cause?: { message?: string; code?: string } }).cause;
  return Object.assign(new Error(cause?.message ?? String(error), { cause: error }), {
    code: cause?.code,
  });
}

/** How long one Vault call may take, answer read included: a hung server fails the call. */
export const VAULT_CALL_TIMEOUT_MS = 30_000;

async function send(
  debug: Debug,
  request: VaultRequest,
  timeoutMs: number,
): Promise<VaultResponse> {
  const path = new URL(request.uri).pathname;
  const headers = new Headers(request.headers);
  const body =
    typeof request.json === 'object' && request.json !== null
      ? JSON.stringify(request.json)
      : undefined;
  if (body !== undefined && !headers.has('content-type'))
    headers.set('content-type', 'application/json');
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.uri, { method: request.method, headers, body, signal });
    text = await response.text();
  } catch (error: unknown) {
    const failure = unreachable(error);
    debug('%s %s failed: %s', request.method, path, failure.message);
    throw failure;
  }
  debug('%s %s %d', request.method, path, response.status);
  return { statusCode: response.status, body: parsed(text), request: { path } };
}

/**
 * The transport for node-vault's `request-promise` option. VAULT_SKIP_VERIFY, which node-vault
 * passes on to axios, has no effect here: trust a private CA with NODE_EXTRA_CA_CERTS instead.
 */
export function vaultTransport(timeoutMs = VAULT_CALL_TIMEOUT_MS): VaultTransport {
  const debug = nodeVaultDebug();
  return { defaults: () => (request) => send(debug, request, timeoutMs) };
}
