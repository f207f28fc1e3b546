// A loopback HTTP proxy that forwards everything to `target`, except that the first request
// matching `trap` is forwarded (so its effect happens) and then answered never: `onTrap` runs
// instead, e.g. to kill the worker that sent it, the worst moment for a crash.
import { createServer, request } from 'node:http';

export interface Trap {
  (method: string, url: string, body: string): boolean;
}

export interface HookProxy {
  readonly url: string;
  /** set a trap for the next matching request */
  arm(trap: Trap, onTrap: () => void): void;
  close(): Promise<void>;
}

export async function startHookProxy(target: string): Promise<HookProxy> {
  const upstream = new URL(target);
  let armed: { trap: Trap; onTrap: () => void } | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const hit = armed && armed.trap(req.method ?? 'GET', req.url ?? '/', body.toString());
      const onTrap = hit ? armed?.onTrap : undefined;
      if (hit) armed = undefined;
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (up) => {
          const out: Buffer[] = [];
          up.on('data', (c: Buffer) => out.push(c));
          up.on('end', () => {
            if (onTrap) {
              onTrap();
              return; // the caller never hears back
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(out));
          });
        },
      );
      forward.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    arm: (trap, onTrap) => (armed = { trap, onTrap }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
