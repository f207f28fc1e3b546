// A CLI session: the clients a command needs, built on first use; the lookups every command
// shares (a <ref> to its object and workflow, the live status, the runs); and the failures the
// user can act on, each with a message that says what to do and a documented exit code.
import { ApiException, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { kubeClientConfig, lazyTemporal } from '../config/control-clients.js';
import { loadConfig, type TemporalConfig } from '../config/config.js';
import type { DatabaseObject, PendingApproval } from '../contracts/database.js';
import { refFromWorkflowId, workflowIdFor } from '../contracts/names.js';
import {
  statusQuery,
  type DatabaseWorkflowResult,
  type LiveStatus,
} from '../contracts/workflow.js';
import { boundedApiClient } from '../kube/bounded.js';
import { ClusterIdentityError, clusterIdentity } from '../kube/cluster.js';
import { getDatabase, listDatabases } from '../kube/databases.js';
import type { WorkflowView } from './format.js';
import { EXIT } from './help.js';
import type { RunHistory } from './timeline.js';

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

export interface Options {
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

export class Session {
  private client: Client | undefined;
  private kubeApi: CustomObjectsApi | undefined;
  private clusterId: Promise<string> | undefined;
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

  /**
   * The cluster these objects live in (RDSFLOW_CLUSTER_ID, else the kube-system namespace's
   * UID): part of every workflow ID, as the watcher and the worker derive it.
   */
  cluster(): Promise<string> {
    this.clusterId ??= (async () => {
      const config = loadConfig(this.io.env, ['kube']).kube;
      const core = boundedApiClient(kubeClientConfig(config), CoreV1Api, config);
      try {
        return await clusterIdentity(core, config.clusterId);
      } catch (error: unknown) {
        if (error instanceof ClusterIdentityError) throw new CliError(error.message, EXIT.error);
        throw kubeFailure(error);
      }
    })();
    return this.clusterId;
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
        throw new CliError(
          `not a database workflow ID: ${ref} (one reads database/<namespace>/<name>/<uid>@<cluster>; or name the Database as <namespace>/<name>)`,
          EXIT.usage,
        );
      return { workflowId: ref };
    }
    const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(ref);
    if (!match) {
      throw new CliError(
        `expected <namespace>/<name> or a workflow ID database/<ns>/<name>/<uid>@<cluster>, got ${JSON.stringify(ref)}`,
        EXIT.usage,
      );
    }
    const [, namespace = '', name = ''] = match;
    const object = await this.getObject(namespace, name);
    return { workflowId: workflowIdFor(object.metadata, await this.cluster()), object };
  }

  async getObject(namespace: string, name: string): Promise<DatabaseObject> {
    const what = `${namespace}/${name}`;
    let object: DatabaseObject | undefined;
    try {
      object = await getDatabase(this.kube, namespace, name);
    } catch (error: unknown) {
      throw kubeFailure(error, what);
    }
    if (!object) throw noDatabase(what);
    return object;
  }

  async listObjects(): Promise<DatabaseObject[]> {
    try {
      return await listDatabases(
        this.kube,
        this.options.all ? undefined : (this.options.namespace ?? 'default'),
      );
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
    const result = status === 'COMPLETED' ? await this.result(workflowId) : undefined;
    const ui = this.uiUrl(workflowId, runId);
    return {
      workflowId,
      runId,
      status,
      ...(live ? { live } : {}),
      ...(result ? { result } : {}),
      ...(ui ? { uiUrl: ui } : {}),
    };
  }

  /** A completed workflow's result (a deletion's outcome), or undefined when it cannot be read. */
  async result(workflowId: string): Promise<DatabaseWorkflowResult | undefined> {
    try {
      const handle = this.handle(workflowId) as WorkflowHandle<
        () => Promise<DatabaseWorkflowResult>
      >;
      return await this.call(() => handle.result(), workflowId);
    } catch {
      // the describe before said COMPLETED: a result that cannot be read is only not shown
      return undefined;
    }
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

export function firstLine(error: unknown): string {
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

function noDatabase(what: string): CliError {
  const [namespace = 'default'] = what.split('/');
  return new CliError(
    `no Database ${what}: see \`kubectl get databases -n ${namespace}\`, or pass the workflow ID`,
    EXIT.noDatabase,
  );
}

export function kubeFailure(error: unknown, what?: string): CliError {
  if (error instanceof ApiException && error.code === 404) return noDatabase(what ?? '');
  if (error instanceof ApiException) {
    return new CliError(`Kubernetes refused: HTTP ${error.code} ${firstLine(error)}`, EXIT.error);
  }
  return new CliError(
    `Kubernetes unreachable: check KUBECONFIG, or pass the workflow ID database/<ns>/<name>/<uid>@<cluster> (${firstLine(error)})`,
    EXIT.kubeUnreachable,
  );
}
