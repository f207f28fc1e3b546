// rdsflow's own small HTTP layer for every Kubernetes call, resting on documented surfaces only:
// - credentials and TLS material come from `KubeConfig.applyToHTTPSOptions`, client-node's public
//   method for callers that make their own requests (bearer token, client certificate, CA, TLS
//   server name, impersonation), asked again for every request so rotated credentials are used;
// - requests go out through Node's `http(s).request` on one keep-alive agent per process: Node's
//   `Agent` keeps a pool per set of connection and TLS options (`agent.getName`), so every call to
//   the same apiserver with the same credentials reuses a connection (a TCP connect and a TLS
//   handshake saved per call, on both sides);
// - each call has its own deadline, an AbortSignal covering connect, response headers and body
//   (for a watch: until its headers arrive): a server that accepts and never answers fails the
//   call with a KubeTimeoutError, counted by `onTimeout` and retried by its caller.
// The generated API clients send through it (`createConfiguration({ httpApi })`, kube/bounded.ts),
// and so does the watch: nothing depends on how client-node builds or sends its own requests.
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import {
  ResponseContext,
  SelfDecodingBody,
  type KubeConfig,
  type PromiseHttpLibrary,
  type RequestContext,
} from '@kubernetes/client-node';

/** How long TCP waits on an idle kept connection before it probes the peer (as client-go). */
const TCP_KEEPALIVE_MS = 30_000;

/**
 * The connections a process keeps open to its apiserver, shared by all of its Kubernetes
 * clients and watches; `close()` when the process stops.
 */
export class KubeConnections {
  readonly https = new HttpsAgent({ keepAlive: true, keepAliveMsecs: TCP_KEEPALIVE_MS });
  readonly http = new HttpAgent({ keepAlive: true, keepAliveMsecs: TCP_KEEPALIVE_MS });

  close(): void {
    this.https.destroy();
    this.http.destroy();
  }
}

export interface KubeBounds {
  /** connect, response headers and body of one call (for a watch: until its headers arrive) */
  readonly timeoutMs: number;
  /** told of each call that ran out of time (e.g. `list databases`), to count it in metrics */
  readonly onTimeout?: (call: string) => void;
  /** the connections to share (a process's clients and watches); a set of its own if not given */
  readonly connections?: KubeConnections;
}

/** A Kubernetes call that did not answer within its limit. */
export class KubeTimeoutError extends Error {
  override name = 'KubeTimeoutError';
  constructor(
    readonly call: string,
    readonly timeoutMs: number,
  ) {
    super(`Kubernetes ${call}: no answer within ${timeoutMs / 1_000}s`);
  }
}

/** A watch the apiserver answered with another status than 200 (e.g. 410: resourceVersion too old). */
export class KubeWatchStatusError extends Error {
  override name = 'KubeWatchStatusError';
  constructor(
    readonly statusCode: number,
    body: string,
  ) {
    super(`watch refused: HTTP ${statusCode} ${body.slice(0, 200)}`.trim());
  }
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

/**
 * A call in the apiserver's own words (its audit log's verb and resource): `list databases`,
 * `watch databases`, `patch databases/status`, `get leases`, `create events`, `get namespaces`.
 */
export function callName(method: string, url: URL): string {
  const parts = url.pathname.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : parts;
  const namespaced = rest[0] === 'namespaces' && rest.length >= 3;
  const [resource = url.pathname, name, subresource] = namespaced ? rest.slice(2) : rest;
  const verb = verbOf(method, name !== undefined, url.searchParams.get('watch') === 'true');
  return `${verb} ${resource}${subresource ? `/${subresource}` : ''}`;
}

function headersOf(response: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function readAll(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function bodyOf(request: RequestContext): string | undefined {
  const body = request.getBody();
  if (body === undefined || typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  throw new Error('Kubernetes request: a multipart body is not supported');
}

interface Outgoing {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
}

/** Kubernetes requests from one kubeconfig, bounded in time, over the shared connections. */
export class KubeHttp implements PromiseHttpLibrary {
  private readonly connections: KubeConnections;

  constructor(
    private readonly kc: KubeConfig,
    private readonly bounds: KubeBounds,
  ) {
    this.connections = bounds.connections ?? new KubeConnections();
  }

  /** One API call (the generated clients' `httpApi`): the whole answer within the limit. */
  async send(request: RequestContext): Promise<ResponseContext> {
    const url = new URL(request.getUrl());
    const method = request.getHttpMethod().toString();
    const outgoing = { method, url, headers: request.getHeaders(), body: bodyOf(request) };
    return this.bounded(callName(method, url), request.getSignal(), async (signal) => {
      const response = await this.open(outgoing, signal);
      const body = await readAll(response);
      return new ResponseContext(
        response.statusCode ?? 0,
        headersOf(response),
        new SelfDecodingBody(Promise.resolve(body)),
      );
    });
  }

  /**
   * Starts a watch of `path`: events go to `onEvent` until the server ends the stream, the
   * returned controller aborts or `signal` does; then `done` is told, once (null for an end the
   * server chose). Resolves once the response headers came, which must be within the limit, or
   * the watch failed (`done` says how).
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
    signal: AbortSignal,
  ): Promise<AbortController> {
    const url = this.urlOf(path, { ...query, watch: true });
    const controller = new AbortController();
    let told = false;
    const finish = (error: unknown) => {
      if (told) return;
      told = true;
      controller.abort();
      done(error);
    };
    const stop = AbortSignal.any([controller.signal, signal]);
    try {
      const response = await this.bounded(callName('GET', url), stop, async (s) => {
        const opened = await this.open({ method: 'GET', url, headers: {} }, s);
        if (opened.statusCode === 200) return opened;
        // a refusal (410: the version is too old) is read within the limit too
        const body = await readAll(opened);
        throw new KubeWatchStatusError(opened.statusCode ?? 0, body.toString('utf8'));
      });
      // a watch holds its connection for minutes: TCP probes the peer while it is quiet
      response.socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      stream(response, onEvent, finish);
    } catch (error: unknown) {
      finish(error);
    }
    return controller;
  }

  private urlOf(path: string, query: Record<string, string | number | boolean | undefined>): URL {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  /** Runs `work` under the call's deadline: past it, the work is aborted and fails as timed out. */
  private async bounded<T>(
    call: string,
    outer: AbortSignal | undefined,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.bounds.timeoutMs);
    try {
      return await work(outer ? AbortSignal.any([deadline.signal, outer]) : deadline.signal);
    } catch (error: unknown) {
      if (!deadline.signal.aborted) throw error;
      this.bounds.onTimeout?.(call);
      throw new KubeTimeoutError(call, this.bounds.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends the request; resolves with the response once its headers came. */
  private async open(outgoing: Outgoing, signal: AbortSignal): Promise<IncomingMessage> {
    const options = await this.optionsFor(outgoing);
    const send = outgoing.url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = send(outgoing.url, { ...options, signal }, resolve);
      request.on('error', reject);
      request.end(outgoing.body);
    });
  }

  /** The kubeconfig's credentials and TLS material for one request, on the shared agent. */
  private async optionsFor(outgoing: Outgoing): Promise<RequestOptions> {
    const headers: OutgoingHttpHeaders = { ...outgoing.headers };
    if (outgoing.body !== undefined) headers['content-length'] = Buffer.byteLength(outgoing.body);
    const options: RequestOptions = { method: outgoing.method, headers };
    await this.kc.applyToHTTPSOptions(options);
    // applyToHTTPSOptions also makes an agent for this one request: a proxy's is kept (it knows
    // the way), any other gives way to the shared keep-alive one, which is told the same TLS
    // options with each request
    if (!this.kc.getCurrentCluster()?.proxyUrl) {
      options.agent =
        outgoing.url.protocol === 'http:' ? this.connections.http : this.connections.https;
    }
    return options;
  }
}

/** Hands each line of a watch stream to `onEvent`; `finish` when the stream ends or fails. */
function stream(
  response: IncomingMessage,
  onEvent: (type: string, object: unknown) => void,
  finish: (error: unknown) => void,
): void {
  response.on('error', finish);
  const lines = createInterface({ input: response, crlfDelay: Infinity });
  lines.on('error', finish); // the response's own error, passed on
  lines.on('line', (line) => {
    let event: { type?: unknown; object?: unknown };
    try {
      event = JSON.parse(line) as { type?: unknown; object?: unknown };
    } catch {
      return; // not an event (a partial line cut by the end of the stream)
    }
    if (typeof event.type === 'string') onEvent(event.type, event.object);
  });
  lines.on('close', () => finish(null));
}
