// A realistic RDS in front of moto. moto is instant and permissive; real RDS is neither. This
// loopback front forwards the RDS Query API to moto and adds what real RDS does:
// - instances go `creating` (no endpoint) → `backing-up` → `available`, a change goes
//   `modifying` (a password reset `resetting-master-credentials`), a delete `deleting`, each for
//   a configurable time; a deleting instance keeps its identifier until it is gone;
// - refusals where RDS gives them: InvalidDBInstanceState for a change while not available, a
//   delete of an instance already being deleted, a final snapshot while creating (or in any
//   state RDS cannot snapshot from); DBInstanceAlreadyExists for an identifier still deleting;
// - injected faults (throttling, 5xx, any AWS error) and forced statuses;
// - a journal of every mutating call, with the instance's status and tags just before it and
//   the workflow that asked (the `x-rdsflow-workflow-id` header the worker adds), so a test can
//   audit every destructive call rdsflow made.
// It runs in-process for a test, or as a server of the local stack (infra/rds-front-main.ts)
// controlled over /_front/ (see frontClient).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { appendFileSync } from 'node:fs';
import { forward, readBody } from './forward.js';

export interface Timings {
  readonly creatingMs: number;
  readonly backingUpMs: number;
  readonly modifyingMs: number;
  readonly deletingMs: number;
}

export const INSTANT: Timings = { creatingMs: 0, backingUpMs: 0, modifyingMs: 0, deletingMs: 0 };

/** One mutating call as the front saw it. */
export interface JournalEntry {
  readonly seq: number;
  readonly at: number;
  readonly action: string;
  readonly identifier: string;
  /** the workflow whose activity made the call (the worker sets the header), if any */
  readonly workflowId?: string;
  readonly runId?: string;
  /** the instance just before the call, as RDS would have shown it; absent if there was none */
  readonly statusBefore?: string;
  readonly tagsBefore?: Readonly<Record<string, string>>;
  /** the request's parameters, the master password replaced by *** */
  readonly params: Readonly<Record<string, string>>;
  /** `ok`, or the error code RDS (or the front) answered */
  readonly outcome: string;
}

export interface Fault {
  /** only this action (e.g. CreateDBInstance); any when absent */
  readonly action?: string;
  /** only identifiers starting with this; any when absent */
  readonly match?: string;
  /** answer with this AWS error; without it the call goes ahead (after `delayMs`) */
  readonly code?: string;
  readonly status?: number;
  /** hold the call this long before handling it (a create that lands late) */
  readonly delayMs?: number;
  /** how many calls it answers (1 by default) */
  readonly count?: number;
}

export interface FrontControl {
  setTimings(timings: Partial<Timings>, match?: string): Promise<void>;
  fault(fault: Fault): Promise<void>;
  /** report this status for the identifier whatever happens; undefined lifts it */
  forceStatus(identifier: string, status: string | undefined): Promise<void>;
  journal(): Promise<JournalEntry[]>;
  /** DescribeDBInstances calls answered so far */
  describeCalls(): Promise<number>;
  /** when the front first showed the instance `available` (ms since epoch) */
  availableAt(identifier: string): Promise<number | undefined>;
}

export interface RdsFront extends FrontControl {
  readonly url: string;
  close(): Promise<void>;
}

const MUTATING = new Set([
  'CreateDBInstance',
  'ModifyDBInstance',
  'DeleteDBInstance',
  'AddTagsToResource',
  'RemoveTagsFromResource',
  'RebootDBInstance',
  'CreateDBSnapshot',
]);

/** Where a final snapshot can be taken from (DeleteDBInstance refuses it elsewhere). */
const SNAPSHOT_FROM = new Set(['available', 'stopped', 'storage-full']);
/** Deletable only with SkipFinalSnapshot (DeleteDBInstance reference). */
const SKIP_ONLY = new Set(['failed', 'incompatible-restore', 'incompatible-network']);

// moto routes by the credential scope of the signature; it checks nothing else
const MOTO_AUTH =
  'AWS4-HMAC-SHA256 Credential=front/20260101/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=0';

interface Life {
  phase: string;
  until: number;
  readonly timings: Timings;
  /** a deleting instance as it was shown last: moto has already forgotten it */
  ghost?: string;
}

function errorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>rdsflow-front</RequestId></ErrorResponse>`;
}

function describeXml(blocks: string): string {
  return `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances>${blocks}</DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>rdsflow-front</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`;
}

const field = (xml: string, name: string) =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

function tagsIn(block: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const m of block.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)) {
    tags[m[1] ?? ''] = m[2] ?? '';
  }
  return tags;
}

function blocksOf(xml: string): string[] {
  return [...xml.matchAll(/<DBInstance>[\s\S]*?<\/DBInstance>/g)].map((m) => m[0]);
}

/** The identifier a request is about: a parameter, or the ARN of a tag call. */
function identifierOf(params: URLSearchParams): string {
  const id = params.get('DBInstanceIdentifier');
  if (id) return id.toLowerCase();
  const arn = params.get('ResourceName') ?? '';
  return /:db:([^:]+)$/.exec(arn)?.[1]?.toLowerCase() ?? '';
}

export async function startRdsFront(options: {
  readonly target: string;
  readonly host?: string;
  readonly port?: number;
  readonly timings?: Partial<Timings>;
  /** also append every journal entry to this file, one JSON line each */
  readonly journalFile?: string;
}): Promise<RdsFront> {
  const upstream = new URL(options.target);
  let defaults: Timings = { ...INSTANT, ...options.timings };
  const byPrefix: { match: string; timings: Timings }[] = [];
  const lives = new Map<string, Life>();
  const forced = new Map<string, string>();
  const faults: (Fault & { left: number })[] = [];
  const journal: JournalEntry[] = [];
  const availableAt = new Map<string, number>();
  let describeCalls = 0;

  const timingsFor = (id: string): Timings =>
    byPrefix.find((t) => id.startsWith(t.match))?.timings ?? defaults;

  /** The phase the front shows now; advances creating → backing-up → available, and so on. */
  function phaseOf(id: string): string | undefined {
    const life = lives.get(id);
    if (!life) return undefined;
    const now = Date.now();
    while (now >= life.until) {
      if (life.phase === 'creating') {
        life.phase = 'backing-up';
        life.until += life.timings.backingUpMs;
      } else if (life.phase === 'deleting') {
        lives.delete(id);
        return undefined;
      } else {
        life.phase = 'available';
        life.until = Number.POSITIVE_INFINITY;
      }
    }
    return life.phase;
  }

  /** One call of the front's own to moto. */
  function motoCall(params: Record<string, string>) {
    const body = Buffer.from(new URLSearchParams({ Version: '2014-10-31', ...params }).toString());
    return forward(
      upstream,
      {
        url: '/',
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          authorization: MOTO_AUTH,
          'content-length': String(body.length),
        },
      },
      body,
    );
  }

  /** moto's view of one instance: its XML block, or undefined when it has none. */
  async function motoInstance(id: string): Promise<string | undefined> {
    const answer = await motoCall({ Action: 'DescribeDBInstances', DBInstanceIdentifier: id });
    return answer.status === 200 ? blocksOf(answer.body.toString())[0] : undefined;
  }

  /**
   * NOTE: moto names an instance's automated snapshot `rds:<id>-<minute>` and keeps it after the
   * instance is gone, so creating an identifier again within the minute fails with
   * DBSnapshotAlreadyExists, which real RDS never answers to a create. The stale automated
   * snapshot is removed and the create sent once more.
   */
  async function forwardCreate(req: IncomingMessage, body: Buffer) {
    const answer = await forward(upstream, req, body);
    const text = answer.body.toString();
    const stale = /identifier (rds:[^ ]+) already exists/.exec(text)?.[1];
    if (answer.status !== 400 || field(text, 'Code') !== 'DBSnapshotAlreadyExists' || !stale)
      return answer;
    await motoCall({ Action: 'DeleteDBSnapshot', DBSnapshotIdentifier: stale });
    return forward(upstream, req, body);
  }

  /** An instance's XML block as RDS would show it now. */
  function shown(block: string): string {
    const id = (field(block, 'DBInstanceIdentifier') ?? '').toLowerCase();
    const status = forced.get(id) ?? phaseOf(id);
    if (status === undefined) {
      if (!availableAt.has(id) && field(block, 'DBInstanceStatus') === 'available')
        availableAt.set(id, Date.now());
      return block;
    }
    if (status === 'available' && !availableAt.has(id)) availableAt.set(id, Date.now());
    const withStatus = block.replace(
      /<DBInstanceStatus>[^<]*<\/DBInstanceStatus>/,
      `<DBInstanceStatus>${status}</DBInstanceStatus>`,
    );
    // NOTE: RDS has no endpoint for an instance until its creation is done
    return status === 'creating'
      ? withStatus.replace(/<Endpoint>[\s\S]*?<\/Endpoint>/, '')
      : withStatus;
  }

  /** The instance now: status and tags as RDS would show them, from moto or a ghost. */
  async function current(id: string): Promise<{ status: string; block: string } | undefined> {
    if (!id) return undefined;
    const block =
      (await motoInstance(id)) ?? (phaseOf(id) === 'deleting' ? lives.get(id)?.ghost : undefined);
    if (!block) return undefined;
    const view = shown(block);
    return { status: field(view, 'DBInstanceStatus') ?? 'unknown', block: view };
  }

  /** What real RDS would refuse that moto accepts; undefined when RDS would go ahead. */
  function refusal(
    action: string,
    params: URLSearchParams,
    id: string,
    status: string | undefined,
  ): { code: string; message: string } | undefined {
    if (action === 'CreateDBInstance' && phaseOf(id) === 'deleting') {
      return {
        code: 'DBInstanceAlreadyExists',
        message: `DB instance ${id} is still being deleted`,
      };
    }
    if (status === undefined) return undefined;
    if (action === 'ModifyDBInstance' && status !== 'available') {
      return {
        code: 'InvalidDBInstanceState',
        message: `Database instance is not in available state (it is ${status}).`,
      };
    }
    if (action === 'DeleteDBInstance') {
      if (status === 'deleting')
        return {
          code: 'InvalidDBInstanceState',
          message: `Instance ${id} is already being deleted.`,
        };
      const snapshot = params.get('SkipFinalSnapshot') !== 'true';
      if (snapshot && SKIP_ONLY.has(status)) {
        return {
          code: 'InvalidDBInstanceState',
          message: `Instance ${id} is ${status}: it can only be deleted with SkipFinalSnapshot.`,
        };
      }
      if (snapshot && !SNAPSHOT_FROM.has(status)) {
        return {
          code: 'InvalidDBInstanceState',
          message: `Instance is currently ${status} - a final snapshot cannot be taken.`,
        };
      }
    }
    return undefined;
  }

  function takeFault(action: string, id: string): Fault | undefined {
    const index = faults.findIndex(
      (f) =>
        f.left > 0 &&
        (f.action === undefined || f.action === action) &&
        (f.match === undefined || id.startsWith(f.match)),
    );
    const fault = faults[index];
    if (!fault) return undefined;
    fault.left--;
    if (fault.left === 0) faults.splice(index, 1);
    return fault;
  }

  function record(entry: Omit<JournalEntry, 'seq' | 'at'>): void {
    const full: JournalEntry = { seq: journal.length + 1, at: Date.now(), ...entry };
    journal.push(full);
    if (options.journalFile) appendFileSync(options.journalFile, `${JSON.stringify(full)}\n`);
  }

  /** Moves the front's lifecycle on after moto accepted a mutating call. */
  function afterAccepted(action: string, params: URLSearchParams, id: string, before?: string) {
    const timings = timingsFor(id);
    const now = Date.now();
    if (action === 'CreateDBInstance') {
      availableAt.delete(id);
      lives.set(id, { phase: 'creating', until: now + timings.creatingMs, timings });
    } else if (action === 'ModifyDBInstance') {
      const phase = params.has('MasterUserPassword') ? 'resetting-master-credentials' : 'modifying';
      lives.set(id, { phase, until: now + timings.modifyingMs, timings });
    } else if (action === 'DeleteDBInstance' && before) {
      const ghost = before.replace(
        /<DBInstanceStatus>[^<]*<\/DBInstanceStatus>/,
        '<DBInstanceStatus>deleting</DBInstanceStatus>',
      );
      lives.set(id, { phase: 'deleting', until: now + timings.deletingMs, timings, ghost });
    }
  }

  async function rds(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const params = new URLSearchParams(body.toString());
    const action = params.get('Action') ?? '';
    const id = identifierOf(params);
    const reply = (status: number, xml: string) => {
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(xml);
    };
    const mutating = MUTATING.has(action);
    const before = mutating ? await current(id) : undefined;
    const header = (name: string) => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const journalEntry = (outcome: string) => {
      const redacted = Object.fromEntries(
        [...params].map(([k, v]) => [k, k === 'MasterUserPassword' ? '***' : v]),
      );
      const workflowId = header('x-rdsflow-workflow-id');
      const runId = header('x-rdsflow-run-id');
      record({
        action,
        identifier: id,
        ...(workflowId ? { workflowId } : {}),
        ...(runId ? { runId } : {}),
        ...(before ? { statusBefore: before.status, tagsBefore: tagsIn(before.block) } : {}),
        params: redacted,
        outcome,
      });
    };

    const fault = takeFault(action, id);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    const refused = fault?.code
      ? { code: fault.code, message: `injected ${fault.code}`, status: fault.status ?? 400 }
      : mutating
        ? refusal(action, params, id, before?.status)
        : undefined;
    if (refused) {
      if (mutating) journalEntry(refused.code);
      reply('status' in refused ? refused.status : 400, errorXml(refused.code, refused.message));
      return;
    }
    if (action === 'DescribeDBInstances') describeCalls++;
    const answer =
      action === 'CreateDBInstance'
        ? await forwardCreate(req, body)
        : await forward(upstream, req, body);
    let text = answer.body.toString();
    if (action === 'DescribeDBInstances') {
      const ghosts = [...lives.entries()]
        .filter(([ghostId, life]) => life.ghost && phaseOf(ghostId) === 'deleting')
        .filter(([ghostId]) => !id || ghostId === id)
        .map(([, life]) => life.ghost ?? '');
      if (answer.status === 200) {
        text = text.replace(/<DBInstance>[\s\S]*?<\/DBInstance>/g, (block) => shown(block));
        if (!id && ghosts.length > 0)
          text = text.replace('</DBInstances>', `${ghosts.join('')}</DBInstances>`);
      } else if (id && ghosts.length > 0) {
        reply(200, describeXml(ghosts.join('')));
        return;
      }
    }
    if (mutating) {
      const code = answer.status === 200 ? 'ok' : (field(text, 'Code') ?? `HTTP ${answer.status}`);
      if (code === 'ok') {
        afterAccepted(action, params, id, before?.block);
        // the answer shows the instance as RDS would right after the call (creating, deleting)
        text = text.replace(/<DBInstance>[\s\S]*?<\/DBInstance>/g, (block) => shown(block));
      }
      journalEntry(code);
    }
    const headers = { ...answer.headers };
    delete headers['content-length'];
    res.writeHead(answer.status, headers);
    res.end(text);
  }

  const front: FrontControl = {
    setTimings: (timings, match) => {
      const merged = { ...(match ? timingsFor(match) : defaults), ...timings };
      if (match) byPrefix.unshift({ match, timings: merged });
      else defaults = merged;
      return Promise.resolve();
    },
    fault: (f) => {
      faults.push({ ...f, left: f.count ?? 1 });
      return Promise.resolve();
    },
    forceStatus: (identifier, status) => {
      if (status === undefined) forced.delete(identifier);
      else forced.set(identifier, status);
      return Promise.resolve();
    },
    journal: () => Promise.resolve([...journal]),
    describeCalls: () => Promise.resolve(describeCalls),
    availableAt: (identifier) => Promise.resolve(availableAt.get(identifier)),
  };

  async function control(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const path = new URL(req.url ?? '/', 'http://front').pathname.slice('/_front/'.length);
    const input = body.length > 0 ? (JSON.parse(body.toString()) as Record<string, unknown>) : {};
    const json = (value: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value ?? null));
    };
    switch (path) {
      case 'health':
        return json({ ok: true });
      case 'timings':
        return json(await front.setTimings(input, input['match'] as string | undefined));
      case 'fault':
        return json(await front.fault(input));
      case 'status':
        return json(
          await front.forceStatus(
            String(input['identifier']),
            input['status'] as string | undefined,
          ),
        );
      case 'journal':
        return json(await front.journal());
      case 'describe-calls':
        return json(await front.describeCalls());
      case 'available-at':
        return json(await front.availableAt(String(input['identifier'])));
      default:
        res.writeHead(404);
        res.end();
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const body = await readBody(req);
        if ((req.url ?? '').startsWith('/_front/')) await control(req, res, body);
        else await rds(req, res, body);
      } catch (error: unknown) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(error instanceof Error ? error.message : String(error));
      }
    })();
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    ...front,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Controls a front that runs elsewhere (the local stack's) over its /_front/ endpoints. */
export function frontClient(url: string): FrontControl {
  const call = async <T>(path: string, input?: unknown): Promise<T> => {
    const response = await fetch(`${url}/_front/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input ?? {}),
    });
    if (!response.ok) throw new Error(`RDS front ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    setTimings: (timings, match) => call('timings', { ...timings, ...(match ? { match } : {}) }),
    fault: (fault) => call('fault', fault),
    forceStatus: (identifier, status) => call('status', { identifier, status }),
    journal: () => call('journal'),
    describeCalls: () => call('describe-calls'),
    availableAt: async (identifier) =>
      (await call<number | null>('available-at', { identifier })) ?? undefined,
  };
}
