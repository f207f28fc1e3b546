// Composition root of the `rdsflow` command: parse the arguments, build only the clients the
// command needs, run it, and turn every failure into a message that says what to do and an
// exit code a script can rely on (see HELP).
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { kubeClientConfig, lazyTemporal } from '../config/clients.js';
import { ConfigError, loadConfig, type TemporalConfig } from '../config/config.js';
import {
  API_GROUP,
  API_VERSION,
  PLURAL,
  type DatabaseObject,
  type PendingApproval,
} from '../contracts/database.js';
import { refFromWorkflowId, workflowIdFor } from '../contracts/names.js';
import {
  approveSignal,
  deleteSignal,
  retrySignal,
  specChangedSignal,
  statusQuery,
  type LiveStatus,
} from '../contracts/workflow.js';
import { boundedApiClient } from '../kube/bounded.js';
import { describeView, historyView, listView, progressLine, type WorkflowView } from './format.js';
import { timeline, type RunHistory } from './timeline.js';

export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  noDatabase: 3,
  noWorkflow: 4,
  temporalUnreachable: 5,
  kubeUnreachable: 6,
  endedBadly: 7,
} as const;

export const HELP: Record<string, string> = {
  '': `rdsflow — operate the databases rdsflow provisions

usage: rdsflow <command> [arguments] [--json] [--help]

commands:
  list                          Databases with phase, engine, endpoint (-n NAMESPACE, -A all)
  describe <ref> [--watch]      the object's status and its workflow's live status
  history <ref>                 step timeline of every run: step, attempts, duration, errors
  approve <ref> [--watch]       show the generation waiting for approval, and approve it
  cancel <ref> [--watch]        cancel its workflow: roll back this run, phase Cancelled
                                (--yes for an Available database)
  retry <ref> [--watch]         re-run a Failed database's step now
  signal <ref> <signal> [json]  send a workflow signal: approve, retry, delete, specChanged
                                (delete: --yes unless the Database is being deleted)

<ref> is <namespace>/<name>, looked up in Kubernetes, or a workflow ID
database/<namespace>/<name>/<uid>, which needs only Temporal.

environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, KUBECONFIG, RDSFLOW_TEMPORAL_UI

exit codes: 0 done; 1 failed; 2 bad usage, or a destructive command without --yes; 3 no such
  Database; 4 no workflow for it (yet); 5 Temporal unreachable; 6 Kubernetes unreachable;
  7 --watch saw it end Failed or Cancelled
`,
  list: `usage: rdsflow list [-n NAMESPACE | -A] [--json]

Lists Database objects (from Kubernetes) with phase, engine, endpoint, age and last message.
`,
  describe: `usage: rdsflow describe <ref> [--watch] [--json]

Shows the object's status (phase, endpoint, where the secret is) and the live status of its
workflow (stage, step, attempt, last error), with a Temporal UI link. --watch follows phase and
step until the database is Available, Failed or Cancelled (--json: one JSON line per change).
`,
  history: `usage: rdsflow history <ref> [--json]

Every run of the database's workflow (provision, serve, modify, delete) with its steps:
attempts, duration, outcome and the last error, and the signals it received.
`,
  approve: `usage: rdsflow approve <ref> [--watch] [--json]

Shows what waits for approval (generation, engine, class, storage, Multi-AZ, deletion policy)
and approves exactly that generation, with your user name. A spec changed meanwhile waits for
an approval of its own. Exit 1 when nothing waits for approval.
`,
  cancel: `usage: rdsflow cancel <ref> [--yes] [--watch] [--json]

Cancels the workflow: what the current run created is rolled back per deletionPolicy (an
instance it adopted is never deleted) and the object ends with phase Cancelled. A later spec
change starts it again. An Available database needs --yes: rdsflow stops acting on it.
`,
  retry: `usage: rdsflow retry <ref> [--watch] [--json]

Sends the retry signal: a Failed database re-runs the failed stage now.
`,
  signal: `usage: rdsflow signal <ref> <signal> [json] [--yes] [--json]

Sends any of the workflow's signals: approve '{"generation":N,"by":"me"}', retry, delete,
specChanged ('<DatabaseSnapshot JSON>'). delete on a Database that is not being deleted removes
its instance per deletionPolicy and releases the finalizer: it needs --yes (kubectl delete is the
usual way). The same as: temporal workflow signal --workflow-id <id> --name <signal> --input <json>
`,
};

const SIGNALS = {
  approve: approveSignal.name,
  retry: retrySignal.name,
  delete: deleteSignal.name,
  specChanged: specChangedSignal.name,
} as const;

/** A failure the user can act on: its message says how, its code is documented. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Io {
  readonly out: (text: string) => void;
  /** errors and usage problems (stderr) */
  readonly err: (text: string) => void;
  readonly isTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
}

interface Options {
  json: boolean;
  watch: boolean;
  /** go ahead with a destructive command */
  yes: boolean;
  namespace?: string;
  all: boolean;
}

const CALL_DEADLINE_MS = 5_000;
/** a query needs a worker to answer; without one it would wait out the whole deadline */
const QUERY_DEADLINE_MS = 3_000;

class Session {
  private client: Client | undefined;
  private kubeApi: CustomObjectsApi | undefined;
  private readonly temporalConfig: TemporalConfig;

  constructor(
    private readonly io: Io,
    private readonly options: Options,
  ) {
    this.temporalConfig = loadConfig(io.env, ['temporal']).temporal;
  }

  get temporal(): Client {
    this.client ??= lazyTemporal(this.temporalConfig);
    return this.client;
  }

  get kube(): CustomObjectsApi {
    if (!this.kubeApi) {
      const config = loadConfig(this.io.env, ['kube']).kube;
      this.kubeApi = boundedApiClient(kubeClientConfig(config), CustomObjectsApi, config);
    }
    return this.kubeApi;
  }

  async close(): Promise<void> {
    await this.client?.connection.close();
  }

  /** A Temporal call, bounded, its failures explained. */
  async call<T>(
    fn: () => Promise<T>,
    workflowId?: string,
    deadlineMs = CALL_DEADLINE_MS,
  ): Promise<T> {
    try {
      return await this.temporal.connection.withDeadline(Date.now() + deadlineMs, fn);
    } catch (error: unknown) {
      if (error instanceof WorkflowNotFoundError) {
        throw new CliError(
          `no workflow ${workflowId ?? ''} in Temporal namespace ${this.temporalConfig.namespace}: ` +
            'the watcher starts one when it sees the Database; is it running (and on the same task queue)?',
          EXIT.noWorkflow,
        );
      }
      if (isUnreachable(error)) {
        throw new CliError(
          `Temporal unreachable at ${this.temporalConfig.address}: check TEMPORAL_ADDRESS ` +
            `(${firstLine(error)})`,
          EXIT.temporalUnreachable,
        );
      }
      throw error;
    }
  }

  /** The object and its workflow ID for a <ref>; the object is absent for a workflow-ID ref. */
  async resolve(ref: string): Promise<{ workflowId: string; object?: DatabaseObject }> {
    if (ref.startsWith('database/')) {
      if (!refFromWorkflowId(ref))
        throw new CliError(`not a database workflow ID: ${ref}`, EXIT.usage);
      return { workflowId: ref };
    }
    const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(ref);
    if (!match) {
      throw new CliError(
        `expected <namespace>/<name> or a workflow ID database/<ns>/<name>/<uid>, got ${JSON.stringify(ref)}`,
        EXIT.usage,
      );
    }
    const [, namespace = '', name = ''] = match;
    const object = await this.getObject(namespace, name);
    return { workflowId: workflowIdFor(object.metadata), object };
  }

  async getObject(namespace: string, name: string): Promise<DatabaseObject> {
    try {
      return (await this.kube.getNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        plural: PLURAL,
        namespace,
        name,
      })) as DatabaseObject;
    } catch (error: unknown) {
      throw kubeFailure(error, `${namespace}/${name}`);
    }
  }

  async listObjects(): Promise<DatabaseObject[]> {
    const base = { group: API_GROUP, version: API_VERSION, plural: PLURAL };
    try {
      const list = (
        this.options.all
          ? await this.kube.listClusterCustomObject(base)
          : await this.kube.listNamespacedCustomObject({
              ...base,
              namespace: this.options.namespace ?? 'default',
            })
      ) as { items: DatabaseObject[] };
      return list.items;
    } catch (error: unknown) {
      throw kubeFailure(error);
    }
  }

  handle(workflowId: string): WorkflowHandle {
    return this.temporal.workflow.getHandle(workflowId);
  }

  uiUrl(workflowId: string, runId: string): string | undefined {
    const base = this.temporalConfig.uiUrl;
    const namespace = encodeURIComponent(this.temporalConfig.namespace);
    return base
      ? `${base}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`
      : undefined;
  }

  async workflowView(workflowId: string): Promise<WorkflowView | undefined> {
    let status: string;
    let runId: string;
    try {
      const description = await this.call(() => this.handle(workflowId).describe(), workflowId);
      status = description.status.name;
      runId = description.runId;
    } catch (error: unknown) {
      if (error instanceof CliError && error.code === EXIT.noWorkflow) return undefined;
      throw error;
    }
    const live = status === 'RUNNING' ? await this.live(workflowId) : undefined;
    const ui = this.uiUrl(workflowId, runId);
    return { workflowId, runId, status, ...(live ? { live } : {}), ...(ui ? { uiUrl: ui } : {}) };
  }

  /** The live status query, or undefined when no worker answers in time. */
  async live(workflowId: string): Promise<LiveStatus | undefined> {
    try {
      return await this.call(
        () => this.handle(workflowId).query(statusQuery),
        workflowId,
        QUERY_DEADLINE_MS,
      );
    } catch {
      // no worker answered in time (or Temporal is away: the describe that follows says so)
      return undefined;
    }
  }

  /** What waits for approval: the workflow's live view first, else the object's status. */
  async pendingApproval(
    workflowId: string,
    object: DatabaseObject | undefined,
  ): Promise<PendingApproval | undefined> {
    const live = await this.live(workflowId);
    if (live) return live.awaitingApproval;
    // no worker answered: the status says what the workflow last asked; the signal checks it
    if (object) return object.status?.pendingApproval;
    await this.call(() => this.handle(workflowId).describe(), workflowId);
    return undefined;
  }

  /** Cancelling an Available database stops rdsflow acting on it: only with --yes. */
  async guardCancel(
    ref: string,
    workflowId: string,
    object: DatabaseObject | undefined,
  ): Promise<void> {
    if (this.options.yes) return;
    const phase = object?.status?.phase ?? (await this.live(workflowId))?.phase;
    if (phase !== 'Available') return;
    throw new CliError(
      `${ref} is Available: cancelling its workflow leaves the instance as it is but stops ` +
        'rdsflow acting on it (phase Cancelled until its spec changes). Re-run with --yes to go ahead.',
      EXIT.usage,
    );
  }

  async runs(workflowId: string): Promise<RunHistory[]> {
    const runs: RunHistory[] = [];
    const ids: string[] = [];
    await this.call(async () => {
      for await (const execution of this.temporal.workflow.list({
        query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'`,
      })) {
        ids.push(execution.runId);
      }
    });
    if (ids.length === 0) {
      // visibility can lag a fresh start; the chain's latest run is still there
      await this.call(() => this.handle(workflowId).describe(), workflowId);
    }
    for (const runId of ids) {
      const history = await this.call(() =>
        this.temporal.workflow.getHandle(workflowId, runId).fetchHistory(),
      );
      runs.push({ runId, history });
    }
    return runs;
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

function isUnreachable(error: unknown): boolean {
  const text = `${firstLine(error)} ${firstLine((error as { cause?: unknown }).cause)}`;
  const code =
    (error as { code?: unknown }).code ?? (error as { cause?: { code?: unknown } }).cause?.code;
  return (
    code === 14 || code === 4 || /UNAVAILABLE|DEADLINE|deadline|ECONNREFUSED|connect/i.test(text)
  );
}

function kubeFailure(error: unknown, what?: string): CliError {
  if (error instanceof ApiException && error.code === 404) {
    const [namespace = 'default'] = (what ?? '').split('/');
    return new CliError(
      `no Database ${what ?? ''}: see \`kubectl get databases -n ${namespace}\`, or pass the workflow ID`,
      EXIT.noDatabase,
    );
  }
  if (error instanceof ApiException) {
    return new CliError(`Kubernetes refused: HTTP ${error.code} ${firstLine(error)}`, EXIT.error);
  }
  return new CliError(
    `Kubernetes unreachable: check KUBECONFIG, or pass the workflow ID database/<ns>/<name>/<uid> (${firstLine(error)})`,
    EXIT.kubeUnreachable,
  );
}

function approvalLine(p: PendingApproval): string {
  return (
    `approving generation ${p.generation}: ${p.engine}${p.engineVersion ? ` ${p.engineVersion}` : ''} ` +
    `${p.instanceClass}, ${p.storageGiB} GiB, Multi-AZ ${p.multiAZ ? 'yes' : 'no'}, ` +
    `deletionPolicy ${p.deletionPolicy}`
  );
}

/**
 * A delete signal to the workflow of a Database nobody deleted removes its instance (per
 * policy) and releases the finalizer: only with --yes.
 */
function guardDelete(ref: string, object: DatabaseObject | undefined, options: Options): void {
  if (options.yes || object?.metadata.deletionTimestamp) return;
  const what = object
    ? `${ref} is not being deleted: the delete signal would delete RDS instance ` +
      `${object.status?.dbInstanceIdentifier ?? '(its instance)'} per deletionPolicy ` +
      `${object.spec.deletionPolicy ?? 'Snapshot'} and release the finalizer, leaving the object`
    : `cannot tell whether the Database of ${ref} is being deleted (no Kubernetes lookup by ` +
      'workflow ID); the delete signal deletes its instance per deletionPolicy';
  throw new CliError(
    `${what}. \`kubectl delete database\` is the usual way; re-run with --yes to go ahead.`,
    EXIT.usage,
  );
}

const FINAL_PHASES = new Set(['Available', 'Failed', 'Cancelled']);

/** --watch: follows the live status until a final phase (or the workflow closes). */
async function follow(
  session: Session,
  io: Io,
  options: Options,
  workflowId: string,
): Promise<number> {
  const started = io.now();
  let last = '';
  let settledStage = '';
  for (;;) {
    const live = await session.live(workflowId);
    if (!live) {
      const view = await session.workflowView(workflowId);
      if (view && view.status !== 'RUNNING') {
        if (!options.json && io.isTTY) io.out('\n');
        io.out(
          options.json
            ? `${JSON.stringify({ workflowId, status: view.status })}\n`
            : `workflow ${view.status}\n`,
        );
        return view.status === 'COMPLETED' ? EXIT.ok : EXIT.endedBadly;
      }
    } else {
      const line = options.json ? JSON.stringify(live) : progressLine(live, io.now() - started);
      const key = JSON.stringify({ ...live, message: live.message });
      if (key !== last) {
        last = key;
        if (options.json) io.out(`${line}\n`);
        else if (io.isTTY) io.out(`\r\x1b[K${line}`);
        else io.out(`${line}\n`);
      } else if (!options.json && io.isTTY) {
        io.out(`\r\x1b[K${line}`);
      }
      // Available in the serve stage (not a phase left over from an earlier run) is final
      const final =
        FINAL_PHASES.has(live.phase) && (live.phase !== 'Available' || live.stage === 'serve');
      if (final && live.stage === settledStage) {
        if (!options.json && io.isTTY) io.out('\n');
        return live.phase === 'Available' ? EXIT.ok : EXIT.endedBadly;
      }
      settledStage = final ? live.stage : '';
    }
    await sleep(500);
  }
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        watch: { type: 'boolean', short: 'w', default: false },
        yes: { type: 'boolean', short: 'y', default: false },
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error: unknown) {
    io.err(`${firstLine(error)}\n\n${HELP[''] ?? ''}`);
    return EXIT.usage;
  }
  const [command = '', ...rest] = parsed.positionals;
  const { values } = parsed;
  if (values.help || command === 'help' || command === '') {
    const topic = command === 'help' ? (rest[0] ?? '') : command;
    io.out(HELP[topic] ?? HELP[''] ?? '');
    return command === '' && !values.help ? EXIT.usage : EXIT.ok;
  }
  if (!(command in HELP)) {
    io.err(`unknown command ${JSON.stringify(command)}\n\n${HELP[''] ?? ''}`);
    return EXIT.usage;
  }
  const options: Options = {
    json: values.json,
    watch: values.watch,
    yes: values.yes,
    all: values['all-namespaces'],
    ...(values.namespace ? { namespace: values.namespace } : {}),
  };
  const needs = command === 'list' ? 0 : command === 'signal' ? 2 : 1;
  if (rest.length < needs || rest.length > (command === 'signal' ? 3 : needs)) {
    io.err(HELP[command] ?? '');
    return EXIT.usage;
  }
  const session = new Session(io, options);
  // --watch --json prints JSON lines (the acknowledgement, then one per change)
  const print = (human: string, json: unknown) =>
    io.out(options.json ? `${JSON.stringify(json, null, options.watch ? undefined : 2)}\n` : human);
  try {
    if (command === 'list') {
      const objects = await session.listObjects();
      print(
        listView(objects, io.now()),
        objects.map((o) => ({ metadata: o.metadata, spec: o.spec, status: o.status ?? {} })),
      );
      return EXIT.ok;
    }
    const { workflowId, object } = await session.resolve(rest[0] ?? '');
    switch (command) {
      case 'describe': {
        if (options.watch) return await follow(session, io, options, workflowId);
        const workflow = await session.workflowView(workflowId);
        if (!object && !workflow) {
          throw new CliError(
            `no workflow ${workflowId}: it has never run in this Temporal namespace`,
            EXIT.noWorkflow,
          );
        }
        print(describeView(object, workflow), {
          object: object ?? null,
          workflow: workflow ?? null,
        });
        return EXIT.ok;
      }
      case 'history': {
        const entries = timeline(await session.runs(workflowId));
        print(historyView(workflowId, entries), { workflowId, entries });
        return EXIT.ok;
      }
      case 'approve': {
        const pending = await session.pendingApproval(workflowId, object);
        if (!pending) {
          throw new CliError(
            `${rest[0] ?? ''} is not waiting for approval (phase ${object?.status?.phase ?? 'unknown'})`,
            EXIT.error,
          );
        }
        await session.call(
          () =>
            session
              .handle(workflowId)
              .signal(approveSignal, { by: userInfo().username, generation: pending.generation }),
          workflowId,
        );
        print(`${approvalLine(pending)}\napproved: ${workflowId}\n`, {
          workflowId,
          approve: true,
          approved: pending,
        });
        return options.watch ? await follow(session, io, options, workflowId) : EXIT.ok;
      }
      case 'retry':
      case 'cancel': {
        const handle = session.handle(workflowId);
        if (command === 'retry') {
          await session.call(() => handle.signal(retrySignal), workflowId);
        } else {
          await session.guardCancel(rest[0] ?? '', workflowId, object);
          await session.call(() => handle.cancel(), workflowId);
        }
        const done = { cancel: 'cancellation requested', retry: 'retry requested' }[command];
        print(`${done}: ${workflowId}\n`, { workflowId, [command]: true });
        return options.watch ? await follow(session, io, options, workflowId) : EXIT.ok;
      }
      case 'signal': {
        const name = rest[1] ?? '';
        if (!(name in SIGNALS)) {
          throw new CliError(
            `unknown signal ${JSON.stringify(name)}: one of ${Object.keys(SIGNALS).join(', ')}`,
            EXIT.usage,
          );
        }
        let args: unknown[] = [];
        if (rest[2] !== undefined) {
          try {
            args = [JSON.parse(rest[2]) as unknown];
          } catch (error: unknown) {
            throw new CliError(
              `the signal's argument is not JSON: ${firstLine(error)}`,
              EXIT.usage,
            );
          }
        }
        if (name === 'delete') guardDelete(rest[0] ?? '', object, options);
        await session.call(() => session.handle(workflowId).signal(name, ...args), workflowId);
        print(`signalled ${name}: ${workflowId}\n`, { workflowId, signal: name });
        return EXIT.ok;
      }
    }
    return EXIT.usage;
  } catch (error: unknown) {
    if (error instanceof CliError) {
      // --json: a script reads the error from stdout; people read it on stderr
      if (options.json) io.out(`${JSON.stringify({ error: error.message, code: error.code })}\n`);
      else io.err(`rdsflow: ${error.message}\n`);
      return error.code;
    }
    if (error instanceof ConfigError) {
      io.err(`rdsflow: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  } finally {
    await session.close();
  }
}
