// Loopback-only networking helpers for the local stack: port choice and health probes.
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: LOOPBACK, exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

async function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** Who listens on a loopback port, for a message a person can act on. */
export function portHolder(port: number): string {
  try {
    const out = execFileSync('ss', ['-H', '-ltnp', `sport = :${port}`], { encoding: 'utf8' });
    const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    return match ? `${match[1]} (pid ${match[2]})` : 'another process';
  } catch {
    return 'another process';
  }
}

/**
 * The preferred port when it is free and not already handed out in this run, otherwise a free
 * ephemeral one; `note` says why the preferred port was not used.
 */
export async function choosePort(
  preferred: number,
  taken: Set<number>,
): Promise<{ port: number; note?: string }> {
  if (!taken.has(preferred) && (await isPortFree(preferred))) {
    taken.add(preferred);
    return { port: preferred };
  }
  const port = await freePort(taken);
  return { port, note: `port ${preferred} is held by ${portHolder(preferred)}; using ${port}` };
}

/**
 * A free ephemeral loopback port not already handed out in this run (it joins `taken`): for
 * servers that must keep off the stack's preferred ports, such as a test's second cluster.
 */
export async function freePort(taken: Set<number>): Promise<number> {
  let port = await ephemeralPort();
  while (taken.has(port)) port = await ephemeralPort();
  taken.add(port);
  return port;
}

export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

/** GET with a short timeout; resolves with status and body, rejects on connection errors. */
export function httpGet(
  url: string,
  options: { ca?: string | Buffer; token?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'GET',
        ca: options.ca,
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
        timeout: options.timeoutMs ?? 2_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.once('timeout', () =>
      req.destroy(new Error(`timed out after ${options.timeoutMs ?? 2_000}ms`)),
    );
    req.once('error', reject);
    req.end();
  });
}

/** `undefined` when healthy, else a short reason. */
export type Probe = () => Promise<string | undefined>;

export function httpProbe(
  url: string,
  accept: (r: HttpResult) => boolean,
  options?: { ca?: string | Buffer; token?: string },
): Probe {
  return async () => {
    try {
      const result = await httpGet(url, options);
      return accept(result)
        ? undefined
        : `${url} answered ${result.status} ${result.body.slice(0, 120)}`;
    } catch (error: unknown) {
      return `${url}: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
}
