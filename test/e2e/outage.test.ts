// A Vault outage while the worker publishes: OpenBao answers 503 to the secret's writes for a
// while (a proxy in front of the real server). The activity retries with jittered backoff and
// the database still ends Available with its secret, no person involved.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal, vaultClient } from '../../config/clients.js';
import { createDatabase, startProvisioning, waitForPhase } from '../support/database.js';
import { config, uniqueName } from '../support/env.js';
import { startHookProxy, type HookProxy } from '../support/hook-proxy.js';
import { startWorker, type AppProcess } from '../support/processes.js';

describe('a Vault outage during publish', () => {
  let client: Client;
  let vaultProxy: HookProxy;
  let worker: AppProcess;
  const taskQueue = uniqueName('outage');

  before(async () => {
    client = await connectTemporal(config.temporal);
    vaultProxy = await startHookProxy(config.vault.address);
    worker = await startWorker(taskQueue, { VAULT_ADDR: vaultProxy.url });
  });

  after(async () => {
    await worker?.stop();
    await vaultProxy?.close();
    await client?.connection.close();
  });

  it('is ridden out by retries and the database becomes Available', async () => {
    const name = uniqueName('outage');
    vaultProxy.outage(
      (method, url, body) =>
        method !== 'GET' && url.includes(`/rdsflow/default/${name}`) && body.includes('"host"'),
      3,
      503,
    );
    const object = await createDatabase(name, { engine: 'mysql', deletionPolicy: 'Delete' });
    await startProvisioning(client, taskQueue, object);
    const available = await waitForPhase(name, 'Available', 90_000, () => worker.output());
    assert.equal(vaultProxy.refused(), 3);
    const secret = (
      (await vaultClient(config.vault).read(`secret/data/rdsflow/default/${name}`)) as {
        data: { data: Record<string, string> };
      }
    ).data.data;
    assert.equal(secret['host'], available.status?.endpoint?.host);
    assert.match(worker.output(), /writeDbSecret: Vault unavailable/);
  });
});
