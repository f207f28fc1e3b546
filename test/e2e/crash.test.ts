// Crash safety on the dev server: the worker process is SIGKILLed at the worst moments — right
// after the CreateDBInstance call reached RDS, and in the middle of publishing to Vault — and a
// new worker takes over. Each time the database ends Available with exactly one RDS instance
// and one Vault secret.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal, vaultClient } from '../../config/clients.js';
import { createDatabase, startProvisioning, waitForPhase } from '../support/database.js';
import { config, uniqueName } from '../support/env.js';
import { instancesOf } from '../support/rds.js';
import { startHookProxy, type HookProxy } from '../support/hook-proxy.js';
import { startWorker, type AppProcess } from '../support/processes.js';

const vault = vaultClient(config.vault);

async function secretNames(): Promise<string[]> {
  const listed = (await vault.list('secret/metadata/rdsflow/default/')) as {
    data: { keys: string[] };
  };
  return listed.data.keys;
}

// the two crashes are independent (own task queue, object and trap proxy): they run side by side
describe('crash safety of the real worker', { concurrency: true }, () => {
  let client: Client;
  let rdsProxy: HookProxy;
  let vaultProxy: HookProxy;
  const workers: AppProcess[] = [];

  before(async () => {
    client = await connectTemporal(config.temporal);
    rdsProxy = await startHookProxy(config.aws.rdsEndpoint ?? '');
    vaultProxy = await startHookProxy(config.vault.address);
  });

  after(async () => {
    for (const w of workers) await w.kill().catch(() => {});
    await rdsProxy?.close();
    await vaultProxy?.close();
    await client?.connection.close();
  });

  /** A worker whose RDS and Vault traffic passes through the trap proxies. */
  async function worker(taskQueue: string): Promise<AppProcess> {
    const w = await startWorker(taskQueue, {
      AWS_ENDPOINT_URL_RDS: rdsProxy.url,
      VAULT_ADDR: vaultProxy.url,
    });
    workers.push(w);
    return w;
  }

  async function crashAndRecover(
    trapOn: HookProxy,
    trap: (method: string, url: string, body: string, name: string) => boolean,
  ) {
    const taskQueue = uniqueName('crash');
    const name = uniqueName('crash');
    let killed = false;
    const first = await worker(taskQueue);
    trapOn.arm(
      (method, url, body) => trap(method, url, body, name),
      () => {
        killed = true;
        first.child.kill('SIGKILL');
      },
    );
    const object = await createDatabase(name, { engine: 'postgres', deletionPolicy: 'Delete' });
    await startProvisioning(client, taskQueue, object);
    const deadline = Date.now() + 60_000;
    while (!killed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(killed, 'the trap never sprang');
    const second = await worker(taskQueue);
    // the killed attempt is retried once its start-to-close timeout (1 minute) runs out
    const available = await waitForPhase(name, 'Available', 150_000, () => second.output());
    assert.equal((await instancesOf(object.metadata.uid)).length, 1);
    assert.equal((await secretNames()).filter((k) => k === name).length, 1);
    const secret = (
      (await vault.read(`secret/data/rdsflow/default/${name}`)) as {
        data: { data: Record<string, string> };
      }
    ).data.data;
    assert.equal(secret['host'], available.status?.endpoint?.host);
    await second.stop();
  }

  it('recovers from a crash right after the create call reached RDS: one instance, not two', async () => {
    await crashAndRecover(
      rdsProxy,
      (_method, _url, body, name) =>
        body.includes('Action=CreateDBInstance') && body.includes(name),
    );
  });

  it('recovers from a crash while publishing the secret: one instance, one secret', async () => {
    await crashAndRecover(
      vaultProxy,
      (method, url, body, name) =>
        method !== 'GET' &&
        url.includes(`/secret/data/rdsflow/default/${name}`) &&
        body.includes('"host"'),
    );
  });
});
