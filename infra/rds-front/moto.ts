// moto behind the front: the calls it forwards, and the few it makes of its own (of RDS, and of
// the KMS and EC2 moto serves beside it, to check what a call names as RDS would).
import { type IncomingMessage } from 'node:http';
import { forward, type Answer } from '../forward.js';
import { blocksOf, field, type Scope } from './query.js';

/** A request as sent on to moto (its body may be another than the caller's). */
export type Request = Pick<IncomingMessage, 'url' | 'method' | 'headers'>;

const DEFAULT_SCOPE: Scope = { accessKeyId: 'front', region: 'us-east-1' };

/** moto routes by the credential scope of the signature; it checks nothing else. */
function auth(scope: Scope, service: string): string {
  return `AWS4-HMAC-SHA256 Credential=${scope.accessKeyId}/20260101/${scope.region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

/** A KMS or EC2 answer: its HTTP status and body. */
export interface Reply {
  readonly status: number;
  readonly text: string;
}

export class Moto {
  constructor(private readonly upstream: URL) {}

  /** The caller's request, as it came. */
  forward(req: Request, body: Buffer): Promise<Answer> {
    return forward(this.upstream, req, body);
  }

  /** One RDS call of the front's own, in the caller's account and region. */
  call(params: Record<string, string>, scope: Scope = DEFAULT_SCOPE): Promise<Answer> {
    return this.#send(scope, 'rds', { Version: '2014-10-31', ...params });
  }

  /** One EC2 call (Query API), in the caller's account and region. */
  async ec2(params: Record<string, string>, scope: Scope): Promise<Reply> {
    const answer = await this.#send(scope, 'ec2', { Version: '2016-11-15', ...params });
    return { status: answer.status, text: answer.body.toString() };
  }

  /** One KMS call (JSON API), in the caller's account and region. */
  async kms(target: string, input: Record<string, unknown>, scope: Scope): Promise<Reply> {
    const body = Buffer.from(JSON.stringify(input));
    const headers = {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `TrentService.${target}`,
      authorization: auth(scope, 'kms'),
      'content-length': String(body.length),
    };
    const answer = await forward(this.upstream, { url: '/', method: 'POST', headers }, body);
    return { status: answer.status, text: answer.body.toString() };
  }

  #send(scope: Scope, service: string, params: Record<string, string>): Promise<Answer> {
    const body = Buffer.from(new URLSearchParams(params).toString());
    const headers = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: auth(scope, service),
      'content-length': String(body.length),
    };
    return forward(this.upstream, { url: '/', method: 'POST', headers }, body);
  }

  /** moto's view of one instance: its XML block, or undefined when it has none. */
  async instance(id: string, scope?: Scope): Promise<string | undefined> {
    const answer = await this.call(
      { Action: 'DescribeDBInstances', DBInstanceIdentifier: id },
      scope,
    );
    return answer.status === 200 ? blocksOf(answer.body.toString())[0] : undefined;
  }

  /** Every instance moto has in the caller's account and region (all pages). */
  async instances(scope: Scope): Promise<string[]> {
    const all: string[] = [];
    let marker: string | undefined;
    do {
      const params = { Action: 'DescribeDBInstances', ...(marker ? { Marker: marker } : {}) };
      const text = (await this.call(params, scope)).body.toString();
      all.push(...blocksOf(text));
      marker = field(text, 'Marker');
    } while (marker);
    return all;
  }

  /**
   * NOTE: moto names an instance's automated snapshot `rds:<id>-<minute>` and keeps it after the
   * instance is gone, so creating an identifier again within the minute fails with
   * DBSnapshotAlreadyExists, which real RDS never answers to a create. The stale automated
   * snapshot is removed and the create sent once more.
   */
  async create(req: Request, body: Buffer, scope?: Scope): Promise<Answer> {
    const answer = await this.forward(req, body);
    const text = answer.body.toString();
    const stale = /identifier (rds:[^ ]+) already exists/.exec(text)?.[1];
    if (answer.status !== 400 || field(text, 'Code') !== 'DBSnapshotAlreadyExists' || !stale)
      return answer;
    await this.call({ Action: 'DeleteDBSnapshot', DBSnapshotIdentifier: stale }, scope);
    return this.forward(req, body);
  }
}
