// Helpers for end-to-end tests: Database objects through the real apiserver, their workflows on
// the real Temporal server.
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { kubeClientConfig } from '../../config/clients.js';
import { boundedApiClient } from '../../kube/bounded.js';
import {
  API_GROUP,
  API_VERSION,
  PLURAL,
  type DatabaseObject,
  type DatabaseSpec,
  type Phase,
} from '../../contracts/database.js';
import { taskQueueFor, workflowIdFor } from '../../contracts/names.js';
import { getDatabase, viewOf } from '../../kube/databases.js';
import {
  WORKFLOW_TYPE,
  deleteSignal,
  type DatabaseWorkflowInput,
} from '../../contracts/workflow.js';
import { TEST_LABEL, config, eventually, stackCluster } from './env.js';

export const kube = boundedApiClient(kubeClientConfig(config.kube), CustomObjectsApi, config.kube);
export const objectRef = {
  group: API_GROUP,
  version: API_VERSION,
  namespace: 'default',
  plural: PLURAL,
} as const;

export async function createDatabase(
  name: string,
  spec: DatabaseSpec,
  labels?: Record<string, string>,
): Promise<DatabaseObject> {
  return (await kube.createNamespacedCustomObject({
    ...objectRef,
    body: {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: 'Database',
      metadata: { name, labels: { [TEST_LABEL]: 'true', ...labels } },
      spec,
    },
  })) as DatabaseObject;
}

export function getObject(
  name: string,
  namespace = 'default',
): Promise<DatabaseObject | undefined> {
  return getDatabase(kube, namespace, name);
}

/** Starts the object's workflow by hand (the watcher's job once it exists); returns its ID. */
export async function startProvisioning(
  client: Client,
  taskQueue: string,
  object: DatabaseObject,
): Promise<string> {
  const ref = {
    namespace: object.metadata.namespace,
    name: object.metadata.name,
    uid: object.metadata.uid,
  };
  const cluster = await stackCluster();
  const workflowId = workflowIdFor(ref, cluster);
  const input: DatabaseWorkflowInput = {
    stage: 'provision',
    object: {
      metadata: { ...ref, generation: object.metadata.generation ?? 1 },
      spec: object.spec,
      cluster,
    },
  };
  await client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: taskQueueFor(taskQueue, cluster),
    workflowId,
    args: [input],
  });
  return workflowId;
}

/**
 * Tells the object's workflow it is being deleted, as the watcher would: the signal names the
 * object as the apiserver has it now (the workflow reads it back before it believes it).
 */
export async function signalDelete(client: Client, workflowId: string, name: string) {
  const object = await getObject(name);
  if (!object) throw new Error(`${name} is gone already`);
  const cluster = await stackCluster();
  await client.workflow.getHandle(workflowId).signal(deleteSignal, {
    ...viewOf(object),
    cluster,
  });
}

export async function waitForPhase(
  name: string,
  phase: Phase,
  timeoutMs = 60_000,
  diagnostics = () => '',
): Promise<DatabaseObject> {
  return eventually(
    `phase ${phase} of ${name}`,
    async () => {
      const object = await getObject(name);
      const now = object?.status?.phase;
      if (now === 'Failed' && phase !== 'Failed')
        throw new Error(`Failed: ${object?.status?.message ?? ''}\n${diagnostics()}`);
      return now === phase ? object : undefined;
    },
    timeoutMs,
  );
}

/** Every event of every run of the workflow, as text. */
export async function historyText(client: Client, workflowId: string): Promise<string> {
  const texts: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    texts.push(JSON.stringify(history));
  }
  return texts.join('\n');
}
