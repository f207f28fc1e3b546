// Outages the worker rides out with no person involved:
// - Vault while the worker publishes: OpenBao answers 503 to the secret's writes for a while (a
//   proxy in front of the real server). The activity retries with jittered backoff and the
//   database still ends Available with its secret.
// - the apiserver, partitioned from the worker (a proxy that stops answering) at the moment
//   Available is written: the write is dropped after its retries, and the serving workflow
//   writes it again once the apiserver answers, so the object does not stay Provisioning.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal, vaultClient } from '../../config/clients.js';
import { createDatabase, getObject, startProvisioning, waitForPhase } from '../support/database.js';
import { config, eventually, uniqueName } from '../support/env.js';
import { startHookProxy, type HookProxy } from '../support/hook-proxy.js';
import { apiserverProxy, kubeconfigFor, type PartitionableProxy } from '../support/kube-proxy.js';
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

describe('an apiserver partition while Available is written', () => {
  let client: Client;
  let proxy: PartitionableProxy;
  let worker: AppProcess;
  const taskQueue = uniqueName('partition');

  before(async () => {
    client = await connectTemporal(config.temporal);
    const base = process.env['RDSFLOW_WORKER_KUBECONFIG'] ?? process.env['KUBECONFIG'] ?? '';
    proxy = await apiserverProxy(base);
    worker = await startWorker(taskQueue, {
      KUBECONFIG: kubeconfigFor(base, proxy.url),
      RDSFLOW_KUBE_TIMEOUT: '1s',
    });
  });

  after(async () => {
    await worker?.stop();
    await proxy?.close();
    await client?.connection.close();
  });

  it('leaves the status wrong only until the apiserver answers again', async () => {
    const name = uniqueName('partition');
    proxy.partitionAt(
      (method, url, body) =>
        method !== 'GET' && url.includes(`/databases/${name}/status`) && body.includes('Available'),
    );
    const object = await createDatabase(name, { engine: 'postgres', deletionPolicy: 'Delete' });
    await startProvisioning(client, taskQueue, object);
    // the write's retries run out while the worker cannot reach the apiserver
    await eventually(
      'the Available write dropped',
      () => Promise.resolve(/status not written/.test(worker.output()) || undefined),
      90_000,
    );
    const meanwhile = await getObject(name);
    assert.equal(meanwhile?.status?.phase, 'Provisioning');
    proxy.heal();
    const available = await waitForPhase(name, 'Available', 60_000, () => worker.output());
    // what the worker knew when the write was dropped: where the instance answers
    assert.ok(available.status?.endpoint?.host, JSON.stringify(available.status));
    assert.ok((available.status?.endpoint?.port ?? 0) > 0);
    assert.equal(available.status?.observedGeneration, object.metadata.generation);
    assert.match(worker.output(), /writing the status that was not written/);
  });
});
