// DEBUG=* is what an operator sets first when something is wrong, and libraries answer it on
// stderr, outside the worker's redacting logger. The built worker runs with it, provisions a
// Database to Available and deletes it; the master password (read back from OpenBao) and the
// Vault token must not appear anywhere in its output, while the debug lines themselves must
// (else DEBUG did not take effect and the test proves nothing).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal, vaultClient } from '../../config/clients.js';
import {
  createDatabase,
  getObject,
  kube,
  objectRef,
  startProvisioning,
  waitForPhase,
  signalDelete,
} from '../support/database.js';
import { config, eventually, uniqueName } from '../support/env.js';
import { startWorker, type AppProcess } from '../support/processes.js';

const vault = vaultClient(config.vault);

/** The lines of `output` that contain `secret`, for a failure message that shows the leak. */
function linesWith(output: string, secret: string): string {
  return output
    .split('\n')
    .filter((line) => line.includes(secret))
    .map((line) => line.replaceAll(secret, '<SECRET>').slice(0, 400))
    .join('\n');
}

describe('a worker run with DEBUG=*', () => {
  let worker: AppProcess;
  let client: Client;
  const taskQueue = uniqueName('debug');

  before(async () => {
    client = await connectTemporal(config.temporal);
    worker = await startWorker(taskQueue, { DEBUG: '*' });
  });

  after(async () => {
    await worker?.stop();
    await client?.connection.close();
  });

  it('prints debug lines but never the master password or the Vault token', async () => {
    const name = uniqueName('debug');
    const created = await createDatabase(name, { engine: 'postgres', deletionPolicy: 'Delete' });
    const workflowId = await startProvisioning(client, taskQueue, created);
    await waitForPhase(name, 'Available', 60_000, () => worker.output());
    const secretPath = `secret/data/rdsflow/default/${name}`;
    const password = ((await vault.read(secretPath)) as { data: { data: Record<string, string> } })
      .data.data['password'];
    assert.match(password ?? '', /^[A-Za-z0-9]{32}$/);

    // delete too: more Vault and RDS calls under DEBUG, and nothing left behind
    await kube.deleteNamespacedCustomObject({ ...objectRef, name });
    await signalDelete(client, workflowId, name);
    await eventually(
      'the object to disappear',
      async () => ((await getObject(name)) ? undefined : true),
      60_000,
    );

    const output = worker.output();
    assert.ok(
      !output.includes(password!),
      `the password is in the worker's output:\n${linesWith(output, password!)}`,
    );
    assert.ok(
      !output.includes(config.vault.token),
      `the Vault token is in the worker's output:\n${linesWith(output, config.vault.token)}`,
    );
    // and DEBUG did reach the libraries (else the checks above prove nothing): a debug line
    // names this database's secret write
    assert.match(
      output,
      new RegExp(`node-vault .*POST .*/v1/${secretPath}`),
      `no debug line for the secret's write: DEBUG did not take effect\n${output.slice(-3000)}`,
    );
  });
});
