// `npm run provision -- <namespace>/<name>`: starts (or finds) the workflow of a Database that
// was applied by hand, or sends it the delete request once the object is being deleted; until
// the watcher does this on every event. Idempotent: the workflow ID
// is the object's, and an execution already running is reused.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { connectTemporal, kubeClientConfig } from '../config/clients.js';
import { loadConfig } from '../config/config.js';
import { API_GROUP, API_VERSION, PLURAL, type DatabaseObject } from '../contracts/database.js';
import { workflowIdFor } from '../contracts/names.js';
import { WORKFLOW_TYPE, deleteSignal, type DatabaseWorkflowInput } from '../contracts/workflow.js';

async function main(target: string | undefined): Promise<number> {
  const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(target ?? '');
  if (!match) {
    process.stderr.write('usage: npm run provision -- <namespace>/<name>\n');
    return 2;
  }
  const [, namespace = '', name = ''] = match;
  const config = loadConfig(process.env, ['temporal', 'kube']);
  const kube = kubeClientConfig(config.kube).makeApiClient(CustomObjectsApi);
  const object = (await kube.getNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    plural: PLURAL,
    namespace,
    name,
  })) as DatabaseObject;
  const ref = { namespace, name, uid: object.metadata.uid };
  const input: DatabaseWorkflowInput = {
    stage: object.metadata.deletionTimestamp ? 'delete' : 'provision',
    object: {
      metadata: { ...ref, generation: object.metadata.generation ?? 1 },
      spec: object.spec,
    },
  };
  const client = await connectTemporal(config.temporal);
  try {
    const options = {
      taskQueue: config.temporal.taskQueue,
      workflowId: workflowIdFor(ref),
      args: [input] as [DatabaseWorkflowInput],
    };
    // a deleted object's workflow gets the delete request, whether it runs already or not
    const handle = object.metadata.deletionTimestamp
      ? await client.workflow.signalWithStart(WORKFLOW_TYPE, {
          ...options,
          signal: deleteSignal,
          signalArgs: [],
        })
      : await client.workflow.start(WORKFLOW_TYPE, {
          ...options,
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        });
    process.stdout.write(`workflow ${handle.workflowId} (stage ${input.stage}); follow it with:\n`);
    process.stdout.write(`  kubectl get databases.rdsflow.io -n ${namespace} ${name} -w\n`);
    return 0;
  } finally {
    await client.connection.close();
  }
}

main(process.argv[2]).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    const code = (error as { code?: number }).code;
    process.stderr.write(
      code === 404
        ? `no Database ${process.argv[2] ?? ''}: apply it first\n`
        : `provision failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
