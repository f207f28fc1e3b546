// What the fronts of the local stack share: a loopback server that forwards every call to the
// real server, journals the mutating ones with the state of their target just before, and is
// controlled over /_front/. The journaling fronts of Vault and Consul (infra/vault-front.ts,
// infra/consul-front.ts) never answer for the server: what the caller gets is the server's own
// answer, byte for byte. The RDS front (infra/rds-front.ts) answers as RDS would where moto
// does not.
import { appendFileSync, existsSync, renameSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ATTRIBUTION_HEADERS } from '../worker/attribution.js';
import { forward, readBody, type Answer } from './forward.js';

/** Who asked: the worker names the workflow run (and activity) its calls are made for. */
export interface Attribution {
  readonly workflowId?: string;
  readonly runId?: string;
  readonly activity?: string;
}

export function attributionOf(req: Pick<IncomingMessage, 'headers'>): Attribution {
  const header = (name: string) => {
    const value = req.headers[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const workflowId = header(ATTRIBUTION_HEADERS.workflowId);
  const runId = header(ATTRIBUTION_HEADERS.runId);
  const activity = header(ATTRIBUTION_HEADERS.activity);
  return {
    ...(workflowId ? { workflowId } : {}),
    ...(runId ? { runId } : {}),
    ...(activity ? { activity } : {}),
  };
}

/** An append-only list of records, numbered, each also one JSON line in `file` if given. */
export class Ledger<T extends { readonly seq: number }> {
  readonly #entries: T[] = [];

  constructor(private readonly file?: string) {
    // one file per run of the front, like the servers' logs: the previous one stays beside it
    if (file && existsSync(file)) renameSync(file, `${file}.1`);
  }

  add(entry: Omit<T, 'seq'>): T {
    const full = { seq: this.#entries.length + 1, ...entry } as T;
    this.#entries.push(full);
    if (this.file) appendFileSync(this.file, `${JSON.stringify(full)}\n`);
    return full;
  }

  all(): T[] {
    return [...this.#entries];
  }
}

/**
 * Runs `fn` once no other call holding any of `keys` runs: the state a front reads just before a
 * call is then the state the call meets, as far as calls through the front go.
 */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async with<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)].sort();
    const waits = unique.map((k) => this.#tails.get(k) ?? Promise.resolve());
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    for (const k of unique) this.#tails.set(k, done);
    try {
      await Promise.all(waits);
      return await fn();
    } finally {
      release();
      for (const k of unique) if (this.#tails.get(k) === done) this.#tails.delete(k);
    }
  }
}

/** A GET of the front's own to the real server, answered as parsed JSON (undefined: 404). */
export async function readJson<T>(
  upstream: URL,
  path: string,
  headers: Record<string, string>,
): Promise<T | undefined> {
  const answer = await forward(upstream, { url: path, method: 'GET', headers }, Buffer.alloc(0));
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) {
    throw new Error(`GET ${path}: HTTP ${answer.status} ${answer.body.toString().slice(0, 200)}`);
  }
  const text = answer.body.toString();
  return text.trim() === '' ? undefined : (JSON.parse(text) as T);
}

export interface FrontHandlers {
  /** answers the call itself (journaling it) or returns undefined to have it forwarded as is */
  call(req: IncomingMessage, body: Buffer): Promise<Answer | undefined>;
  /** /_front/<name> endpoints beside `health`, given the JSON object posted (or {}) */
  readonly control: Readonly<Record<string, (input: Record<string, unknown>) => unknown>>;
}

export interface RunningFront {
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, answer: Answer): void {
  const headers = { ...answer.headers };
  // the body is sent whole: a chunked upstream answer must not say so
  delete headers['transfer-encoding'];
  headers['content-length'] = String(answer.body.length);
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

async function control(
  res: ServerResponse,
  path: string,
  handlers: FrontHandlers,
  body: Buffer,
): Promise<void> {
  const name = path.slice('/_front/'.length);
  const endpoint = name === 'health' ? () => ({ ok: true }) : handlers.control[name];
  if (!endpoint) {
    res.writeHead(404);
    res.end();
    return;
  }
  const input = body.length > 0 ? (JSON.parse(body.toString()) as Record<string, unknown>) : {};
  const value = (await endpoint(input)) ?? null;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

export async function serveFront(
  options: { readonly target: string; readonly host?: string; readonly port?: number },
  handlers: FrontHandlers,
): Promise<RunningFront> {
  const upstream = new URL(options.target);
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const path = new URL(req.url ?? '/', 'http://front').pathname;
        const body = await readBody(req);
        if (path.startsWith('/_front/')) return control(res, path, handlers, body);
        send(res, (await handlers.call(req, body)) ?? (await forward(upstream, req, body)));
      } catch (error: unknown) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(error instanceof Error ? error.message : String(error));
      }
    })();
  });
  server.keepAliveTimeout = 1_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Calls a front's /_front/<name> from anywhere, with `input` as its JSON object. */
export async function frontCall<T>(url: string, name: string, input: object = {}): Promise<T> {
  const response = await fetch(`${url.replace(/\/$/, '')}/_front/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (!response.ok) throw new Error(`front ${url} ${name}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** Reads a front's /_front/<name> (its journal, its password ledger) from anywhere. */
export function frontRecord<T>(url: string, name: string): Promise<T> {
  return frontCall<T>(url, name);
}
