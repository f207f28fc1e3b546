// The operational endpoints every long-running rdsflow process serves: /healthz (ready or not,
// with a JSON reason), /livez (the event loop answers) and Prometheus /metrics.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface Health {
  readonly ok: boolean;
  readonly [detail: string]: unknown;
}

export function startHttp(
  host: string,
  port: number,
  registry: Registry,
  health: () => Health,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const { ok, ...detail } = health();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...detail }));
      return;
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        })
        .catch(() => {
          res.writeHead(500);
          res.end();
        });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** `host:port` of a listening server, for the start-up log line. */
export function listening(server: Server): string {
  const address = server.address();
  return typeof address === 'object' && address
    ? `${address.address}:${address.port}`
    : String(address);
}
