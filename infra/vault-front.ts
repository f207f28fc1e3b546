// The local stack's Vault as rdsflow sees it: OpenBao behind a loopback front that forwards every
// call and journals each KV v2 write or removal under rdsflow/ (data, metadata, delete, undelete,
// destroy) with the secret's owner just before it, read from OpenBao itself, and the workflow
// that made it (the headers the worker adds). Every master password written under rdsflow/ is
// kept as a SHA-256 in a ledger, never in plain text, so the suite can look for it in workflow
// histories after the secret is gone.
//
// Why a front rather than OpenBao's audit device: the device logs each request and its answer
// with every value HMAC'd, and nothing of the secret before the call; the owner at that moment
// would have to be rebuilt by replaying every write since the server started through a model of
// KV v2 (versions, check-and-set, soft deletes, metadata replaced wholesale). And OpenBao 2.7
// enables audit devices only from its configuration file. The front reads the owner instead.
import { createHash } from 'node:crypto';
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

/** The KV v2 endpoints under a mount, by their first path segment. */
type KvEndpoint = 'data' | 'metadata' | 'delete' | 'undelete' | 'destroy';
const ENDPOINTS: ReadonlySet<string> = new Set([
  'data',
  'metadata',
  'delete',
  'undelete',
  'destroy',
]);
const MUTATING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PREFIX = 'rdsflow/';

/** The secret's ownership marks and versions just before a call, as OpenBao had them. */
export interface VaultSecretState {
  /** metadata exists at the path */
  readonly exists: boolean;
  /** custom metadata `rdsflow-uid` */
  readonly owner?: string;
  readonly credentialId?: string;
  readonly retained?: boolean;
  readonly version: number;
  /** the current version holds data (not soft-deleted, not destroyed) */
  readonly live: boolean;
}

/** One mutating KV v2 call under rdsflow/, as the front saw it. */
export interface VaultJournalEntry extends Attribution {
  readonly seq: number;
  /** when the front received the call (ms since epoch), before it read the secret */
  readonly at: number;
  readonly method: string;
  readonly mount: string;
  readonly endpoint: KvEndpoint;
  /** below the mount and the endpoint: `rdsflow/<namespace>/<name>` */
  readonly path: string;
  /** `remove`: a delete, soft delete or destroy; `write`: anything else */
  readonly effect: 'write' | 'remove';
  /** the secret just before the call; `unreadable` when the front could not read it */
  readonly before: VaultSecretState | { readonly unreadable: string };
  /** the ownership marks a metadata write sets (KV v2 replaces custom metadata wholesale) */
  readonly marks?: {
    readonly owner?: string;
    readonly credentialId?: string;
    readonly retained?: boolean;
  };
  /** a data write carried a `password` field (its hash is in the password ledger) */
  readonly password?: boolean;
  readonly status: number;
  /** `ok` for a 2xx answer, else `HTTP <status>` */
  readonly outcome: string;
}

/** A master password written under rdsflow/: its SHA-256, never itself. */
export interface PasswordRecord extends Attribution {
  readonly seq: number;
  readonly at: number;
  readonly path: string;
  /** hex SHA-256 of the UTF-8 password */
  readonly sha256: string;
  readonly length: number;
}

interface Metadata {
  data?: {
    custom_metadata?: Record<string, string> | null;
    current_version?: number;
    versions?: Record<string, { deletion_time?: string; destroyed?: boolean }>;
  };
}

interface Target {
  readonly mount: string;
  readonly endpoint: KvEndpoint;
  readonly path: string;
}

/** The KV v2 call a request is, when it is one under rdsflow/ of a known mount. */
function targetOf(req: IncomingMessage, mounts: readonly string[]): Target | undefined {
  if (!MUTATING.has(req.method ?? '')) return undefined;
  const pathname = new URL(req.url ?? '/', 'http://front').pathname;
  const segments = decodeURIComponent(pathname).split('/').filter(Boolean);
  const [version, mount = '', endpoint = '', ...rest] = segments;
  if (version !== 'v1' || !mounts.includes(mount) || !ENDPOINTS.has(endpoint)) return undefined;
  const path = rest.join('/');
  if (!`${path}/`.startsWith(PREFIX)) return undefined;
  return { mount, endpoint: endpoint as KvEndpoint, path };
}

function effectOf(method: string, endpoint: KvEndpoint): 'write' | 'remove' {
  if (endpoint === 'delete' || endpoint === 'destroy') return 'remove';
  return method === 'DELETE' ? 'remove' : 'write';
}

function stateOf(metadata: Metadata | undefined): VaultSecretState {
  const data = metadata?.data;
  if (!data) return { exists: false, version: 0, live: false };
  const custom = data.custom_metadata ?? {};
  const version = data.current_version ?? 0;
  const current = data.versions?.[String(version)];
  return {
    exists: true,
    ...(custom['rdsflow-uid'] ? { owner: custom['rdsflow-uid'] } : {}),
    ...(custom['rdsflow-credential-id'] ? { credentialId: custom['rdsflow-credential-id'] } : {}),
    ...(custom['rdsflow-retained'] ? { retained: custom['rdsflow-retained'] === 'true' } : {}),
    version,
    live: version > 0 && !current?.destroyed && !current?.deletion_time,
  };
}

function parse(body: Buffer): Record<string, unknown> {
  try {
    const value = JSON.parse(body.toString()) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The ownership marks a metadata write sets, if it sets custom metadata at all. */
function marksOf(body: Record<string, unknown>): VaultJournalEntry['marks'] {
  const custom = body['custom_metadata'];
  if (typeof custom !== 'object' || custom === null) return undefined;
  const c = custom as Record<string, unknown>;
  const text = (key: string) => (typeof c[key] === 'string' ? c[key] : undefined);
  const owner = text('rdsflow-uid');
  const credentialId = text('rdsflow-credential-id');
  const retained = text('rdsflow-retained');
  return {
    ...(owner ? { owner } : {}),
    ...(credentialId ? { credentialId } : {}),
    ...(retained ? { retained: retained === 'true' } : {}),
  };
}

function passwordOf(body: Record<string, unknown>): string | undefined {
  const data = body['data'];
  if (typeof data !== 'object' || data === null) return undefined;
  const password = (data as Record<string, unknown>)['password'];
  return typeof password === 'string' && password !== '' ? password : undefined;
}

export interface VaultFront extends RunningFront {
  journal(): VaultJournalEntry[];
  passwords(): PasswordRecord[];
}

export async function startVaultFront(options: {
  /** OpenBao's address */
  readonly target: string;
  /** a token that may read the metadata of every secret under rdsflow/ (the dev root token) */
  readonly token: string;
  /** KV v2 mounts to watch; `secret` by default */
  readonly mounts?: readonly string[];
  readonly host?: string;
  readonly port?: number;
  readonly journalFile?: string;
  readonly passwordFile?: string;
}): Promise<VaultFront> {
  const upstream = new URL(options.target);
  const mounts = options.mounts ?? ['secret'];
  const journal = new Ledger<VaultJournalEntry>(options.journalFile);
  const passwords = new Ledger<PasswordRecord>(options.passwordFile);
  const locks = new KeyedLocks();

  async function before(target: Target): Promise<VaultJournalEntry['before']> {
    try {
      const url = `/v1/${target.mount}/metadata/${target.path}`;
      return stateOf(await readJson<Metadata>(upstream, url, { 'x-vault-token': options.token }));
    } catch (error: unknown) {
      return { unreadable: error instanceof Error ? error.message : String(error) };
    }
  }

  async function journaled(req: IncomingMessage, body: Buffer, target: Target): Promise<Answer> {
    const at = Date.now();
    const who = attributionOf(req);
    const parsed = target.endpoint === 'data' || target.endpoint === 'metadata' ? parse(body) : {};
    const password = target.endpoint === 'data' ? passwordOf(parsed) : undefined;
    if (password) {
      const sha256 = createHash('sha256').update(password, 'utf8').digest('hex');
      // every password rdsflow sends is recorded, stored or not: it existed, it may have leaked
      passwords.add({ at, path: target.path, sha256, length: password.length, ...who });
    }
    const marks = target.endpoint === 'metadata' ? marksOf(parsed) : undefined;
    const state = await before(target);
    const answer = await forward(upstream, req, body);
    journal.add({
      at,
      method: req.method ?? '',
      ...target,
      effect: effectOf(req.method ?? '', target.endpoint),
      ...who,
      before: state,
      ...(marks ? { marks } : {}),
      ...(password ? { password: true } : {}),
      status: answer.status,
      outcome: answer.status >= 200 && answer.status < 300 ? 'ok' : `HTTP ${answer.status}`,
    });
    return answer;
  }

  const front = await serveFront(options, {
    call(req, body) {
      const target = targetOf(req, mounts);
      if (!target) return Promise.resolve(undefined);
      return locks.with([`${target.mount}/${target.path}`], () => journaled(req, body, target));
    },
    control: { journal: () => journal.all(), passwords: () => passwords.all() },
  });
  return { ...front, journal: () => journal.all(), passwords: () => passwords.all() };
}
