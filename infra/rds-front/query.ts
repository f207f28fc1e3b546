// The RDS Query API as the front reads and writes it: a form-encoded call in, XML out. moto's
// answers are rewritten in place (a status, an endpoint), so the XML is handled as text by the
// few patterns below rather than parsed and printed again.
import { type IncomingHttpHeaders } from 'node:http';
import { type Answer } from '../forward.js';

/** Whose account and which region a call is made in, from its signature's credential scope. */
export interface Scope {
  readonly accessKeyId: string;
  readonly region: string;
}

/** One call of the Query API: its action, its parameters and the instance it is about. */
export interface RdsCall {
  readonly action: string;
  readonly params: URLSearchParams;
  /** lower-cased, as RDS compares identifiers; '' when the call names no instance */
  readonly identifier: string;
  readonly scope: Scope;
}

export function parseCall(body: Buffer, headers: IncomingHttpHeaders = {}): RdsCall {
  const params = new URLSearchParams(body.toString());
  const action = params.get('Action') ?? '';
  return { action, params, identifier: identifierOf(params), scope: scopeOf(headers) };
}

/**
 * NOTE: moto keeps each region (and each account, told by the access key an assumed role was
 * given) apart by the credential scope of the signature, so the front's own calls about a call
 * (the instance before it, a KMS key, subnets) carry the caller's.
 */
function scopeOf(headers: IncomingHttpHeaders): Scope {
  const auth = headers.authorization ?? '';
  const m = /Credential=([^/,\s]+)\/[^/]+\/([^/]+)\//.exec(auth);
  return { accessKeyId: m?.[1] ?? 'front', region: m?.[2] ?? 'us-east-1' };
}

/** The values of a Query API list (`Name.member.1`, `Name.member.2`, ... or `Name.1`, ...). */
export function listParam(params: URLSearchParams, name: string): string[] {
  const prefix = new RegExp(`^${name}\\.(?:[A-Za-z]+\\.)?\\d+$`);
  return [...params].filter(([k]) => prefix.test(k)).map(([, v]) => v);
}

/**
 * The members of a Query API list of structures (`Parameters.Parameter.1.ParameterName`, ...),
 * in order, each as its fields.
 */
export function structListParam(params: URLSearchParams, name: string): Record<string, string>[] {
  const members = new Map<number, Record<string, string>>();
  const member = new RegExp(`^${name}\\.(?:[A-Za-z]+\\.)?(\\d+)\\.([A-Za-z]+)$`);
  for (const [key, value] of params) {
    const m = member.exec(key);
    if (!m) continue;
    const n = Number(m[1]);
    members.set(n, { ...members.get(n), [m[2] ?? '']: value });
  }
  return [...members.entries()].sort(([a], [b]) => a - b).map(([, fields]) => fields);
}

/** The identifier a request is about: a parameter, or the ARN of a tag call. */
function identifierOf(params: URLSearchParams): string {
  const id = params.get('DBInstanceIdentifier');
  if (id) return id.toLowerCase();
  const arn = params.get('ResourceName') ?? '';
  return /:db:([^:]+)$/.exec(arn)?.[1]?.toLowerCase() ?? '';
}

const NS = 'http://rds.amazonaws.com/doc/2014-10-31/';
const INSTANCE = /<DBInstance>[\s\S]*?<\/DBInstance>/g;
const STATUS = /<DBInstanceStatus>[^<]*<\/DBInstanceStatus>/;

/** The text of the first element `name` in `xml`. */
export function field(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

export function tagsIn(block: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const m of block.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)) {
    tags[m[1] ?? ''] = m[2] ?? '';
  }
  return tags;
}

/** The `<DBInstance>` blocks of an answer. */
export function blocksOf(xml: string): string[] {
  return [...xml.matchAll(INSTANCE)].map((m) => m[0]);
}

/** Every `<DBInstance>` block of an answer replaced by what `show` makes of it. */
export function mapBlocks(xml: string, show: (block: string) => string): string {
  return xml.replace(INSTANCE, (block) => show(block));
}

/** A DescribeDBInstances answer with `blocks` added to its list. */
export function appendBlocks(xml: string, blocks: readonly string[]): string {
  // moto writes an empty list as `<DBInstances/>`
  const list = xml.includes('<DBInstances/>') ? '<DBInstances/>' : '</DBInstances>';
  const open = list === '<DBInstances/>' ? '<DBInstances>' : '';
  return xml.replace(list, `${open}${blocks.join('')}</DBInstances>`);
}

export function withStatus(block: string, status: string): string {
  return block.replace(STATUS, `<DBInstanceStatus>${status}</DBInstanceStatus>`);
}

export function withoutEndpoint(block: string): string {
  return block.replace(/<Endpoint>[\s\S]*?<\/Endpoint>/, '');
}

function xmlAnswer(status: number, xml: string): Answer {
  return { status, headers: { 'content-type': 'text/xml' }, body: Buffer.from(xml) };
}

/** Text made safe to stand between XML tags. */
export function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The answer of `action` made by the front itself, `result` inside its Result element. */
export function queryAnswer(action: string, result: string): Answer {
  return xmlAnswer(
    200,
    `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>rdsflow-front</RequestId></ResponseMetadata></${action}Response>`,
  );
}

/** An AWS error as RDS answers it. */
export function errorAnswer(status: number, code: string, message: string): Answer {
  return xmlAnswer(
    status,
    `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlText(message)}</Message></Error><RequestId>rdsflow-front</RequestId></ErrorResponse>`,
  );
}

/** A DescribeDBInstances answer made by the front itself (for instances moto has forgotten). */
export function describeAnswer(blocks: readonly string[]): Answer {
  return queryAnswer('DescribeDBInstances', `<DBInstances>${blocks.join('')}</DBInstances>`);
}

/** `ok` for an accepted call, else the error code of the answer. */
export function outcomeOf(answer: Answer): string {
  if (answer.status === 200) return 'ok';
  return field(answer.body.toString(), 'Code') ?? `HTTP ${answer.status}`;
}

/** The answer with its body replaced (the headers' length is set again when it is sent). */
export function rewritten(answer: Answer, text: string): Answer {
  return { ...answer, body: Buffer.from(text) };
}
