// A loopback proxy in front of moto that adds what moto lacks: a `creating` phase of a chosen
// length after CreateDBInstance, and throttling faults. It counts DescribeDBInstances calls.
import { createServer, request, type Server } from 'node:http';

export interface RdsProxy {
  readonly url: string;
  /** instances stay `creating` (no endpoint) this long after their create call */
  creatingMs: number;
  /** answer this many next requests with a Throttling error */
  throttleNext: number;
  /** answer the next requests with these AWS errors, in order */
  readonly errorNext: { code: string; status: number }[];
  describeCalls: number;
  /** report this DBInstanceStatus for an identifier, whatever moto says */
  readonly forceStatus: Map<string, string>;
  /** when each instance turned available in the proxy's eyes, by identifier */
  readonly availableAt: Map<string, number>;
  close(): Promise<void>;
}

const THROTTLED = `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>rdsflow-proxy</RequestId></ErrorResponse>`;

export async function startRdsProxy(target: string): Promise<RdsProxy> {
  const createdAt = new Map<string, number>();
  const upstream = new URL(target);
  const proxy: RdsProxy = {
    url: '',
    creatingMs: 0,
    throttleNext: 0,
    errorNext: [],
    describeCalls: 0,
    availableAt: new Map(),
    forceStatus: new Map(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const params = new URLSearchParams(body.toString());
      const action = params.get('Action');
      const id = params.get('DBInstanceIdentifier') ?? '';
      if (proxy.throttleNext > 0) {
        proxy.throttleNext--;
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(THROTTLED);
        return;
      }
      const injected = proxy.errorNext.shift();
      if (injected) {
        res.writeHead(injected.status, { 'content-type': 'text/xml' });
        res.end(
          THROTTLED.replace('Throttling', injected.code).replace(
            'Rate exceeded',
            `injected ${injected.code}`,
          ),
        );
        return;
      }
      if (action === 'CreateDBInstance') createdAt.set(id, Date.now());
      if (action === 'DescribeDBInstances') proxy.describeCalls++;
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
            let text = Buffer.concat(out).toString();
            const created = createdAt.get(id);
            const forced = proxy.forceStatus.get(id);
            if (action === 'DescribeDBInstances' && forced) {
              text = text.replace(
                /<DBInstanceStatus>[^<]*<\/DBInstanceStatus>/g,
                `<DBInstanceStatus>${forced}</DBInstanceStatus>`,
              );
            } else if (action === 'DescribeDBInstances' && created !== undefined) {
              if (Date.now() - created < proxy.creatingMs) {
                text = text
                  .replace(
                    /<DBInstanceStatus>available<\/DBInstanceStatus>/g,
                    '<DBInstanceStatus>creating</DBInstanceStatus>',
                  )
                  .replace(/<Endpoint>[\s\S]*?<\/Endpoint>/g, '');
              } else if (!proxy.availableAt.has(id)) {
                proxy.availableAt.set(id, created + proxy.creatingMs);
              }
            }
            const headers = { ...up.headers };
            delete headers['content-length'];
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(text);
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  Object.assign(proxy, {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
  });
  return proxy;
}
