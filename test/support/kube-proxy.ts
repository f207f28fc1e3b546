// Loopback stand-ins for an unreachable apiserver, the one kind of fake the watcher tests may
// use (a hung connection cannot be made with the real apiserver):
// - a server that accepts connections and never answers (or answers lists only);
// - a plain-HTTP proxy to the real apiserver that can be partitioned: from then on it forwards
//   nothing and answers nothing, as a network partition would.
// - a TCP proxy to the real apiserver (TLS passes through, end to end) that counts the
//   connections it accepts, and can go silent: open connections stop forwarding (a peer gone
//   without a word), and new ones are accepted and never answered until it resumes.
// Each comes with a kubeconfig that points a watcher at it, as the watcher's service account.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';

interface KubeconfigFile {
  clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { user: { token: string } }[];
}

/** A kubeconfig like `base` (its user's token), pointing at `server` over plain HTTP. */
export function kubeconfigFor(base: string, server: string): string {
  const parsed = parse(readFileSync(base, 'utf8')) as KubeconfigFile;
  const token = parsed.users[0]?.user.token ?? '';
  const path = join(tmpdir(), `rdsflow-kubeconfig-${randomBytes(4).toString('hex')}`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'default' } }],
    'current-context': 'x',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}

export interface Standin {
  readonly url: string;
  /** requests received, by kind: list, watch, lease, other */
  readonly received: Record<string, number>;
  close(): Promise<void>;
}

function kindOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  if (url.includes('/leases')) return 'lease';
  if (url.includes('watch=true')) return 'watch';
  return req.method === 'GET' ? 'list' : 'other';
}

async function listen(server: Server, sockets: Set<Socket>): Promise<string> {
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/**
 * Accepts every request and never answers it, except the kinds in `answer` (a list gets an
 * empty one): a hung connect as far as the client can tell.
 */
export async function silentApiserver(answer: readonly string[] = []): Promise<Standin> {
  const received: Record<string, number> = {};
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const kind = kindOf(req);
    received[kind] = (received[kind] ?? 0) + 1;
    if (!answer.includes(kind)) return; // never a byte
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'List', items: [], metadata: { resourceVersion: '7' } }));
  });
  return { url: await listen(server, sockets), received, close: closer(server, sockets) };
}

export interface PartitionableProxy extends Standin {
  /** from now on: nothing forwarded, nothing answered, open streams fall silent */
  partition(): void;
  /** partition at the first request `trap` matches (that request is not forwarded) */
  partitionAt(trap: (method: string, url: string, body: string) => boolean): void;
  /** requests are forwarded again (streams silenced by the partition stay silent) */
  heal(): void;
}

/** A plain-HTTP proxy to the real apiserver (TLS, trusting the stack's CA). */
export async function apiserverProxy(kubeconfig: string): Promise<PartitionableProxy> {
  const parsed = parse(readFileSync(kubeconfig, 'utf8')) as KubeconfigFile;
  const upstream = new URL(parsed.clusters[0]?.cluster.server ?? '');
  const ca = Buffer.from(parsed.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64');
  const received: Record<string, number> = {};
  const sockets = new Set<Socket>();
  let cut = false;
  const streams = new Set<{ res: ServerResponse; up: IncomingMessage }>();
  let trap: ((method: string, url: string, body: string) => boolean) | undefined;
  const forwardTo = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstream.host },
        ca,
      },
      (up) => {
        if (cut) return;
        res.writeHead(up.statusCode ?? 502, up.headers);
        const stream = { res, up };
        streams.add(stream);
        up.pipe(res);
        up.on('end', () => streams.delete(stream));
      },
    );
    out.on('error', () => res.destroy());
    out.end(body);
  };
  const server = createServer((req, res) => {
    const kind = kindOf(req);
    received[kind] = (received[kind] ?? 0) + 1;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (trap?.(req.method ?? 'GET', req.url ?? '/', body.toString())) {
        trap = undefined;
        cut = true;
      }
      if (!cut) forwardTo(req, res, body);
    });
  });
  const closeServer = closer(server, sockets);
  return {
    url: await listen(server, sockets),
    received,
    partition() {
      cut = true;
      // open streams (watches) fall silent: no close, no reset, no more bytes
      for (const { up, res } of streams) up.unpipe(res);
    },
    partitionAt(match) {
      trap = match;
    },
    heal() {
      cut = false;
    },
    async close() {
      // the upstream side of silenced streams too: a watch would otherwise hold the process
      for (const { up } of streams) up.destroy();
      await closeServer();
    },
  };
}

export interface TcpProxy {
  /** the apiserver's URL, by way of the proxy (https://127.0.0.1:<port>) */
  readonly url: string;
  /** TCP connections accepted so far */
  accepted(): number;
  /**
   * From now on: open connections forward nothing more (no close, no reset), and new ones are
   * accepted and never answered, until `resume()`.
   */
  silence(): void;
  /** new connections are forwarded again (silenced ones stay silent) */
  resume(): void;
  close(): Promise<void>;
}

/** A TCP proxy to `upstream` (an https URL): the client's TLS session ends at the apiserver. */
export async function tcpProxy(upstream: string): Promise<TcpProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  const open = new Set<{ client: Socket; server: Socket }>();
  let accepted = 0;
  let silent = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createTcpServer((client) => {
    accepted++;
    track(client);
    if (silent) return; // accepted, never a byte back
    const upstreamSocket = connect(Number(target.port || 443), target.hostname);
    track(upstreamSocket);
    const pair = { client, server: upstreamSocket };
    open.add(pair);
    client.pipe(upstreamSocket);
    upstreamSocket.pipe(client);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstreamSocket.destroy();
    };
    client.on('close', end);
    upstreamSocket.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    accepted: () => accepted,
    silence() {
      silent = true;
      for (const { client, server: up } of open) {
        client.unpipe(up);
        up.unpipe(client);
        client.pause();
        up.pause();
      }
    },
    resume() {
      silent = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A kubeconfig like `kc` (its CA and credentials), pointed at `server` (a TcpProxy's URL). */
export function kubeConfigVia(kc: KubeConfig, server: string): KubeConfig {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster || !user) throw new Error('the kubeconfig has no current cluster or user');
  const via = new KubeConfig();
  via.loadFromClusterAndUser({ ...cluster, server }, user);
  return via;
}
