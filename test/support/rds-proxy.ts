// A loopback proxy in front of moto that adds what moto lacks: a `creating` phase of a chosen
// length after CreateDBInstance, and throttling faults. It counts DescribeDBInstances calls.
import { createServer, type Server } from 'node:http';
import { forward, readBody } from '../../infra/forward.js';

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

function errorXml(code: string): string {
  return `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>injected ${code}</Message></Error><RequestId>rdsflow-proxy</RequestId></ErrorResponse>`;
}

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
    void (async () => {
      const body = await readBody(req);
      const params = new URLSearchParams(body.toString());
      const action = params.get('Action');
      const id = params.get('DBInstanceIdentifier') ?? '';
      const injected =
        proxy.throttleNext > 0 ? { code: 'Throttling', status: 400 } : proxy.errorNext.shift();
      if (proxy.throttleNext > 0) proxy.throttleNext--;
      if (injected) {
        res.writeHead(injected.status, { 'content-type': 'text/xml' });
        res.end(errorXml(injected.code));
        return;
      }
      if (action === 'CreateDBInstance') createdAt.set(id, Date.now());
      if (action === 'DescribeDBInstances') proxy.describeCalls++;
      try {
        const answer = await forward(upstream, req, body);
        const text =
          action === 'DescribeDBInstances'
            ? rewriteDescribe(answer.body.toString(), id)
            : answer.body.toString();
        const headers = { ...answer.headers };
        delete headers['content-length'];
        res.writeHead(answer.status, headers);
        res.end(text);
      } catch {
        res.writeHead(502);
        res.end();
      }
    })();
  });

  /** Makes moto's answer say what a real RDS would: creating for a while, or a forced status. */
  function rewriteDescribe(text: string, id: string): string {
    const forced = proxy.forceStatus.get(id);
    if (forced)
      return text.replace(
        /<DBInstanceStatus>[^<]*<\/DBInstanceStatus>/g,
        `<DBInstanceStatus>${forced}</DBInstanceStatus>`,
      );
    const created = createdAt.get(id);
    if (created === undefined) return text;
    if (Date.now() - created < proxy.creatingMs) {
      return text
        .replace(
          /<DBInstanceStatus>available<\/DBInstanceStatus>/g,
          '<DBInstanceStatus>creating</DBInstanceStatus>',
        )
        .replace(/<Endpoint>[\s\S]*?<\/Endpoint>/g, '');
    }
    if (!proxy.availableAt.has(id)) proxy.availableAt.set(id, created + proxy.creatingMs);
    return text;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  Object.assign(proxy, {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
  });
  return proxy;
}
