// A fixture for watcher tests: Database objects labelled for one test (the watcher under test
// selects only them), a task queue of its own (no worker: workflows stay at their start, so
// their histories show exactly the starts and signals the watcher made), and a cleanup that
// releases finalizers, deletes the objects and terminates the workflows.
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { kubeClientConfig } from '../../config/clients.js';
import { boundedApiClient } from '../../kube/bounded.js';
import { API_GROUP, API_VERSION, type DatabaseObject } from '../../contracts/database.js';
import { taskQueueFor, workflowIdFor } from '../../contracts/names.js';
import { listDatabases, mergePatch } from '../../kube/databases.js';
import { kube, objectRef } from './database.js';
import { TEST_LABEL, config, stackCluster, uniqueName } from './env.js';

export const LABEL = TEST_LABEL;
export const NO_SPEC = Symbol('no spec');
const core = boundedApiClient(kubeClientConfig(config.kube), CoreV1Api, config.kube);

export interface SignalReceived {
  readonly name: string;
  readonly generation?: number;
}

export interface WorkflowRecord {
  readonly workflowId: string;
  readonly runs: number;
  readonly status: string;
  readonly startGeneration: number | undefined;
  readonly startStage: string | undefined;
  readonly signals: SignalReceived[];
}

export class Watched {
  readonly id = uniqueName('w');
  /** what the test's worker and watcher are given (RDSFLOW_TASK_QUEUE) */
  readonly taskQueue = this.id;
  readonly selector = `${LABEL}=${this.id}`;
  /** where their workflows run: the stack cluster's queue of that name */
  readonly clusterQueue: string;

  private constructor(
    readonly client: Client,
    readonly cluster: string,
  ) {
    this.clusterQueue = taskQueueFor(this.taskQueue, cluster);
  }

  static async create(client: Client): Promise<Watched> {
    return new Watched(client, await stackCluster());
  }

  name(suffix: string): string {
    return `${this.id}-${suffix}`;
  }

  /** Creates a labelled object; `NO_SPEC` leaves the spec out altogether. */
  async create(suffix: string, spec: unknown = { engine: 'postgres' }): Promise<DatabaseObject> {
    return (await kube.createNamespacedCustomObject({
      ...objectRef,
      body: {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: 'Database',
        metadata: { name: this.name(suffix), labels: { [LABEL]: this.id } },
        ...(spec === NO_SPEC ? {} : { spec }),
      },
    })) as DatabaseObject;
  }

  async patchSpec(suffix: string, spec: Record<string, unknown>): Promise<DatabaseObject> {
    return (await kube.patchNamespacedCustomObject(
      { ...objectRef, name: this.name(suffix), body: { spec } },
      mergePatch,
    )) as DatabaseObject;
  }

  async patchStatus(suffix: string, status: Record<string, unknown>): Promise<void> {
    await kube.patchNamespacedCustomObjectStatus(
      { ...objectRef, name: this.name(suffix), body: { status } },
      mergePatch,
    );
  }

  async remove(suffix: string): Promise<void> {
    await kube.deleteNamespacedCustomObject({ ...objectRef, name: this.name(suffix) });
  }

  async releaseFinalizers(suffix: string): Promise<void> {
    await kube.patchNamespacedCustomObject(
      { ...objectRef, name: this.name(suffix), body: { metadata: { finalizers: null } } },
      mergePatch,
    );
  }

  objects(): Promise<DatabaseObject[]> {
    return listDatabases(kube, 'default', this.selector);
  }

  /** Every workflow on this test's task queue: its runs, start input and signals. */
  async workflows(): Promise<Map<string, WorkflowRecord>> {
    const byId = new Map<string, { runs: string[]; status: string }>();
    for await (const execution of this.client.workflow.list({
      query: `TaskQueue = '${this.clusterQueue}'`,
    })) {
      const entry = byId.get(execution.workflowId) ?? { runs: [], status: execution.status.name };
      entry.runs.push(execution.runId);
      byId.set(execution.workflowId, entry);
    }
    const records = new Map<string, WorkflowRecord>();
    for (const [workflowId, { runs, status }] of byId) {
      const history = await this.client.workflow.getHandle(workflowId).fetchHistory();
      const events = history.events ?? [];
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      const input = this.client.options.loadedDataConverter.payloadConverter.fromPayload<{
        stage?: string;
        object?: { metadata?: { generation?: number } };
      }>(started?.input?.payloads?.[0] ?? {});
      const signals = events.flatMap((event) => {
        const attributes = event.workflowExecutionSignaledEventAttributes;
        if (!attributes) return [];
        const payload = attributes.input?.payloads?.[0];
        const arg = payload
          ? this.client.options.loadedDataConverter.payloadConverter.fromPayload<{
              metadata?: { generation?: number };
            }>(payload)
          : undefined;
        const generation = arg?.metadata?.generation;
        return [
          {
            name: attributes.signalName ?? '',
            ...(generation !== undefined ? { generation } : {}),
          },
        ];
      });
      records.set(workflowId, {
        workflowId,
        runs: runs.length,
        status,
        startGeneration: input?.object?.metadata?.generation,
        startStage: input?.stage,
        signals,
      });
    }
    return records;
  }

  workflowIdOf(object: DatabaseObject): string {
    return workflowIdFor(object.metadata, this.cluster);
  }

  async events(suffix: string): Promise<CoreV1Event[]> {
    const list = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.name=${this.name(suffix)}`,
    });
    return list.items;
  }

  /** Releases and deletes every object of this test and terminates its workflows. */
  async cleanup(): Promise<void> {
    for (const object of await this.objects()) {
      const suffix = object.metadata.name.slice(this.id.length + 1);
      await this.releaseFinalizers(suffix).catch(() => undefined);
      await this.remove(suffix).catch(() => undefined);
    }
    for await (const execution of this.client.workflow.list({
      query: `TaskQueue = '${this.clusterQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      await this.client.workflow
        .getHandle(execution.workflowId)
        .terminate('test cleanup')
        .catch(() => undefined);
    }
  }
}
