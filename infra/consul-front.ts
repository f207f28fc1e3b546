// The local stack's Consul as rdsflow sees it: the dev agent behind a loopback front that forwards
// every call and journals each change to rdsflow's entries, with their owner just before it, read
// from Consul itself, and the workflow that made it (the headers the worker adds):
// - KV writes and deletes under rdsflow/, alone or inside a transaction (/v1/txn), the owner being
//   the key `rdsflow/<namespace>/<name>/rdsflow-uid` of the folder they touch;
// - catalog registrations and deregistrations (rdsflow registers each instance as an external
//   node named like it), the owner being the `uid` meta of the services the node had.
import type { IncomingMessage } from 'node:http';
import { forward, type Answer } from './forward.js';
import {
  KeyedLocks,
  Ledger,
  attributionOf,
  readJson,
  serveFront,
  type Attribution,
  type RunningFront,
} from './store-front.js';

const PREFIX = 'rdsflow/';
const OWNER_KEY = 'rdsflow-uid';

/** One effect of a call: a call to /v1/txn may hold several. */
export type ConsulOp =
  | { readonly kind: 'kv-set' | 'kv-delete' | 'kv-delete-tree'; readonly key: string }
  | { readonly kind: 'catalog-register'; readonly node: string; readonly serviceId?: string }
  | { readonly kind: 'catalog-deregister'; readonly node: string; readonly serviceId?: string };

/** A folder `rdsflow/<namespace>/<name>` as Consul had it just before a call. */
export interface ConsulFolderState {
  /** the value of its owner key, if it has one */
  readonly owner?: string;
  /** how many keys it held, the owner key included */
  readonly keys: number;
}

/** A catalog node as Consul had it just before a call. */
export interface ConsulNodeState {
  readonly exists: boolean;
  readonly services: readonly {
    readonly id: string;
    readonly uid?: string;
    readonly namespace?: string;
    readonly name?: string;
  }[];
}

/** One journaled call, as the front saw it. */
export interface ConsulJournalEntry extends Attribution {
  readonly seq: number;
  /** when the front received the call (ms since epoch), before it read the owners */
  readonly at: number;
  readonly method: string;
  /** the endpoint: `kv`, `txn`, `catalog/register`, `catalog/deregister` */
  readonly call: string;
  readonly ops: readonly ConsulOp[];
  /** every folder the call touches, by `rdsflow/<namespace>/<name>`, just before it */
  readonly folders: Readonly<Record<string, ConsulFolderState>>;
  /** every catalog node the call touches, just before it */
  readonly nodes: Readonly<Record<string, ConsulNodeState>>;
  /** set when the front could not read what the call touches */
  readonly unreadable?: string;
  readonly status: number;
  /** `ok` for a 2xx answer, else `HTTP <status>` */
  readonly outcome: string;
}

/** `rdsflow/<namespace>/<name>` of a key under it; a shorter key names itself (a prefix). */
export function folderOf(key: string): string {
  return key.split('/').slice(0, 3).join('/');
}

const under = (key: string) => `${key}/`.startsWith(PREFIX);

/** Whether a delete-tree of `prefix` (Consul: every key starting with it) reaches into `folder`. */
export function treeTouches(prefix: string, folder: string): boolean {
  return `${folder}/`.startsWith(prefix) || prefix.startsWith(`${folder}/`);
}

/** The folders among `known` that an operation touches. */
export function foldersTouched(op: ConsulOp & { key: string }, known: readonly string[]): string[] {
  if (op.kind !== 'kv-delete-tree') return [folderOf(op.key)];
  return known.filter((f) => treeTouches(op.key, f));
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString()) as unknown;
  } catch {
    return undefined;
  }
}

const TXN_KV: Readonly<Record<string, ConsulOp['kind']>> = {
  set: 'kv-set',
  cas: 'kv-set',
  lock: 'kv-set',
  unlock: 'kv-set',
  delete: 'kv-delete',
  'delete-cas': 'kv-delete',
  'delete-tree': 'kv-delete-tree',
};

type TxnItem = Record<string, Record<string, unknown> | undefined>;

/** The effects of one operation of a transaction; checks and reads have none. */
function txnOp(item: TxnItem): ConsulOp[] {
  const text = (o: Record<string, unknown> | undefined, k: string) =>
    typeof o?.[k] === 'string' ? o[k] : '';
  const { KV: kv, Node: node, Service: service } = item;
  const kind = TXN_KV[text(kv, 'Verb')];
  if (kind && under(text(kv, 'Key'))) return [{ kind, key: text(kv, 'Key') } as ConsulOp];
  const catalog = node ?? service;
  if (!catalog) return [];
  const remove = text(catalog, 'Verb').startsWith('delete');
  const target = (node ? node['Node'] : service?.['Node']) as Record<string, unknown> | string;
  const name = typeof target === 'string' ? target : text(target, 'Node');
  const serviceId = service ? text(service['Service'] as Record<string, unknown>, 'ID') : '';
  return [
    {
      kind: remove ? 'catalog-deregister' : 'catalog-register',
      node: name,
      ...(serviceId ? { serviceId } : {}),
    },
  ];
}

function kvOps(method: string, key: string, query: URLSearchParams): ConsulOp[] | undefined {
  if (!under(key)) return undefined;
  if (method === 'PUT') return [{ kind: 'kv-set', key }];
  return [{ kind: query.has('recurse') ? 'kv-delete-tree' : 'kv-delete', key }];
}

function txnOps(body: Buffer): ConsulOp[] | undefined {
  const items = parse(body);
  const ops = Array.isArray(items) ? (items as TxnItem[]).flatMap(txnOp) : [];
  return ops.length > 0 ? ops : undefined;
}

function catalogOps(path: string, body: Buffer): ConsulOp[] {
  const b = (parse(body) ?? {}) as {
    Node?: string;
    Service?: { ID?: string };
    ServiceID?: string;
  };
  const serviceId = b.Service?.ID ?? b.ServiceID;
  const kind = path.endsWith('/register') ? 'catalog-register' : 'catalog-deregister';
  return [{ kind, node: b.Node ?? '', ...(serviceId ? { serviceId } : {}) }];
}

const CATALOG = new Set(['/v1/catalog/register', '/v1/catalog/deregister']);

/** What a call does to rdsflow's entries; undefined for a call the front only forwards. */
export function opsOf(method: string, url: string, body: Buffer): ConsulOp[] | undefined {
  const parsed = new URL(url, 'http://front');
  const path = decodeURIComponent(parsed.pathname);
  if (path.startsWith('/v1/kv/') && (method === 'PUT' || method === 'DELETE'))
    return kvOps(method, path.slice('/v1/kv/'.length), parsed.searchParams);
  if (method !== 'PUT') return undefined;
  if (path === '/v1/txn') return txnOps(body);
  return CATALOG.has(path) ? catalogOps(path, body) : undefined;
}

function callOf(url: string): string {
  const path = new URL(url, 'http://front').pathname;
  return path.startsWith('/v1/kv/') ? 'kv' : path.slice('/v1/'.length);
}

interface KvEntry {
  Key?: string;
  Value?: string | null;
}

interface NodeServices {
  Services?: Record<string, { ID?: string; Meta?: Record<string, string> | null }> | null;
}

export interface ConsulFront extends RunningFront {
  journal(): ConsulJournalEntry[];
}

type Before = Pick<ConsulJournalEntry, 'folders' | 'nodes' | 'unreadable'>;

/** What a call touches, read from Consul itself with the caller's token. */
class ConsulReader {
  constructor(
    private readonly upstream: URL,
    private readonly headers: Record<string, string>,
  ) {}

  /** Every folder a delete-tree of `prefix` reaches: Consul deletes every key starting with it. */
  async foldersUnder(prefix: string): Promise<string[]> {
    const keys = await readJson<string[]>(this.upstream, `/v1/kv/${prefix}?keys`, this.headers);
    const found = (keys ?? []).map(folderOf);
    // a folder named by the prefix is recorded even when empty: the delete was aimed at it
    const named = prefix.split('/').filter(Boolean).length >= 3 ? [folderOf(prefix)] : [];
    return [...new Set([...named, ...found])];
  }

  async folderState(folder: string): Promise<ConsulFolderState> {
    const path = `/v1/kv/${folder}/?recurse`;
    const entries = await readJson<KvEntry[]>(this.upstream, path, this.headers);
    const owner = entries?.find((e) => e.Key === `${folder}/${OWNER_KEY}`)?.Value;
    return {
      ...(owner ? { owner: Buffer.from(owner, 'base64').toString() } : {}),
      keys: entries?.length ?? 0,
    };
  }

  async nodeState(node: string): Promise<ConsulNodeState> {
    const path = `/v1/catalog/node/${encodeURIComponent(node)}`;
    const found = await readJson<NodeServices | null>(this.upstream, path, this.headers);
    const services = Object.values(found?.Services ?? {}).map((s) => ({
      id: s.ID ?? '',
      ...(s.Meta?.['uid'] ? { uid: s.Meta['uid'] } : {}),
      ...(s.Meta?.['namespace'] ? { namespace: s.Meta['namespace'] } : {}),
      ...(s.Meta?.['name'] ? { name: s.Meta['name'] } : {}),
    }));
    return { exists: Boolean(found), services };
  }

  /** Every folder and node the operations touch, as Consul has them now. */
  async before(ops: readonly ConsulOp[]): Promise<Before> {
    const folders: Record<string, ConsulFolderState> = {};
    const nodes: Record<string, ConsulNodeState> = {};
    for (const op of ops) {
      if ('key' in op) {
        const touched =
          op.kind === 'kv-delete-tree' ? await this.foldersUnder(op.key) : [folderOf(op.key)];
        for (const f of touched) folders[f] ??= await this.folderState(f);
      } else {
        nodes[op.node] ??= await this.nodeState(op.node);
      }
    }
    return { folders, nodes };
  }
}

/** Forwards a call that changes rdsflow's entries, journaling it with what it touched before. */
async function journaled(
  upstream: URL,
  journal: Ledger<ConsulJournalEntry>,
  req: IncomingMessage,
  body: Buffer,
  ops: ConsulOp[],
): Promise<Answer> {
  const at = Date.now();
  const token = req.headers['x-consul-token'];
  const headers: Record<string, string> =
    typeof token === 'string' ? { 'x-consul-token': token } : {};
  let state: Before;
  try {
    state = await new ConsulReader(upstream, headers).before(ops);
  } catch (error: unknown) {
    state = {
      folders: {},
      nodes: {},
      unreadable: error instanceof Error ? error.message : String(error),
    };
  }
  const answer = await forward(upstream, req, body);
  journal.add({
    at,
    method: req.method ?? '',
    call: callOf(req.url ?? '/'),
    ...attributionOf(req),
    ops,
    ...state,
    status: answer.status,
    outcome: answer.status >= 200 && answer.status < 300 ? 'ok' : `HTTP ${answer.status}`,
  });
  return answer;
}

export async function startConsulFront(options: {
  /** the agent's HTTP address, as a URL */
  readonly target: string;
  readonly host?: string;
  readonly port?: number;
  readonly journalFile?: string;
}): Promise<ConsulFront> {
  const upstream = new URL(options.target);
  const journal = new Ledger<ConsulJournalEntry>(options.journalFile);
  const locks = new KeyedLocks();
  const front = await serveFront(options, {
    call(req, body) {
      const ops = opsOf(req.method ?? '', req.url ?? '/', body);
      if (!ops) return Promise.resolve(undefined);
      // one lock per folder (a delete of a wider prefix: the prefix) and per node
      const keys = ops.map((op) => ('key' in op ? folderOf(op.key) : `node:${op.node}`));
      return locks.with(keys, () => journaled(upstream, journal, req, body, ops));
    },
    control: { journal: () => journal.all() },
  });
  return { ...front, journal: () => journal.all() };
}
