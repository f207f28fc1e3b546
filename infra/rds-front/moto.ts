// moto behind the front: the calls it forwards, and the few it makes of its own.
import { type IncomingMessage } from 'node:http';
import { forward, type Answer } from '../forward.js';
import { blocksOf, field } from './query.js';

// moto routes by the credential scope of the signature; it checks nothing else
const MOTO_AUTH =
  'AWS4-HMAC-SHA256 Credential=front/20260101/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=0';

export class Moto {
  constructor(private readonly upstream: URL) {}

  /** The caller's request, as it came. */
  forward(req: IncomingMessage, body: Buffer): Promise<Answer> {
    return forward(this.upstream, req, body);
  }

  /** One call of the front's own. */
  call(params: Record<string, string>): Promise<Answer> {
    const body = Buffer.from(new URLSearchParams({ Version: '2014-10-31', ...params }).toString());
    const headers = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: MOTO_AUTH,
      'content-length': String(body.length),
    };
    return forward(this.upstream, { url: '/', method: 'POST', headers }, body);
  }

  /** moto's view of one instance: its XML block, or undefined when it has none. */
  async instance(id: string): Promise<string | undefined> {
    const answer = await this.call({ Action: 'DescribeDBInstances', DBInstanceIdentifier: id });
    return answer.status === 200 ? blocksOf(answer.body.toString())[0] : undefined;
  }

  /**
   * NOTE: moto names an instance's automated snapshot `rds:<id>-<minute>` and keeps it after the
   * instance is gone, so creating an identifier again within the minute fails with
   * DBSnapshotAlreadyExists, which real RDS never answers to a create. The stale automated
   * snapshot is removed and the create sent once more.
   */
  async create(req: IncomingMessage, body: Buffer): Promise<Answer> {
    const answer = await this.forward(req, body);
    const text = answer.body.toString();
    const stale = /identifier (rds:[^ ]+) already exists/.exec(text)?.[1];
    if (answer.status !== 400 || field(text, 'Code') !== 'DBSnapshotAlreadyExists' || !stale)
      return answer;
    await this.call({ Action: 'DeleteDBSnapshot', DBSnapshotIdentifier: stale });
    return this.forward(req, body);
  }
}
