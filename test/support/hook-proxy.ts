// A loopback HTTP proxy that forwards everything to `target`, except that the first request
// matching `trap` is forwarded (so its effect happens) and then answered never: `onTrap` runs
// instead, e.g. to kill the worker that sent it, the worst moment for a crash.
import { createServer } from 'node:http';
import { forward, readBody } from '../../infra/forward.js';

export interface Trap {
  (method: string, url: string, body: string): boolean;
}

export interface HookProxy {
  readonly url: string;
  /** set a trap for the next matching request */
  arm(trap: Trap, onTrap: () => void): void;
  /** answer the next `count` matching requests with `status` without forwarding (an outage) */
  outage(trap: Trap, count: number, status: number): void;
  /** requests answered by an outage so far */
  readonly refused: () => number;
  close(): Promise<void>;
}

export async function startHookProxy(target: string): Promise<HookProxy> {
  const upstream = new URL(target);
  let armed: { trap: Trap; onTrap: () => void } | undefined;
  let down: { trap: Trap; left: number; status: number } | undefined;
  let refused = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (
        down &&
        down.left > 0 &&
        down.trap(req.method ?? 'GET', req.url ?? '/', body.toString())
      ) {
        down.left--;
        refused++;
        res.writeHead(down.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: ['injected outage'] }));
        return;
      }
      const hit = armed?.trap(req.method ?? 'GET', req.url ?? '/', body.toString());
      const onTrap = hit ? armed?.onTrap : undefined;
      if (hit) armed = undefined;
      try {
        const answer = await forward(upstream, req, body);
        // a sprung trap: the request had its effect, the caller never hears back
        if (onTrap) return onTrap();
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      } catch {
        res.writeHead(502);
        res.end();
      }
    })();
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    arm: (trap, onTrap) => (armed = { trap, onTrap }),
    outage: (trap, left, status) => (down = { trap, left, status }),
    refused: () => refused,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
