// End to end on the real servers: a Database applied through kube-apiserver, its workflow run by
// the real worker process, reaches Available against moto; the credentials are in OpenBao at
// the contract path, the endpoint in Consul, the status shows no secret and no workflow
// history holds the password. Deleting it removes the instance, the entries, then the object.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import type { Client } from '@temporalio/client';
import { consulClient, connectTemporal, rdsClient, vaultClient } from '../../config/clients.js';
import { FINALIZER } from '../../contracts/names.js';
import {
  createDatabase,
  getObject,
  historyText,
  kube,
  objectRef,
  startProvisioning,
  waitForPhase,
  signalDelete,
} from '../support/database.js';
import { config, eventually, uniqueName } from '../support/env.js';
import { startWorker, type AppProcess } from '../support/processes.js';

const rds = rdsClient(config.aws);
const vault = vaultClient(config.vault);
const consul = consulClient(config.consul);

describe('a Database applied through kube-apiserver, run by the real worker', () => {
  let worker: AppProcess;
  let client: Client;
  const taskQueue = uniqueName('e2e');

  before(async () => {
    client = await connectTemporal(config.temporal);
    worker = await startWorker(taskQueue);
  });

  after(async () => {
    // SIGTERM: a graceful stop exits 0
    assert.equal(await worker?.stop(), 0);
    await client?.connection.close();
    consul.destroy();
  });

  it('reaches Available with secrets in OpenBao, the endpoint in Consul, and no secret in sight; delete removes it all', async () => {
    const name = uniqueName('orders');
    const created = await createDatabase(name, {
      engine: 'postgres',
      deletionPolicy: 'Delete',
      tags: { team: 'shop' },
    });
    const dbRef = { namespace: 'default', name, uid: created.metadata.uid };
    const workflowId = await startProvisioning(client, taskQueue, created);
    const available = await waitForPhase(name, 'Available', 60_000, () => worker.output());
    const status = available.status!;
    assert.equal(status.secretRef?.vaultPath, `secret/rdsflow/default/${name}`);
    assert.equal(status.consulKey, `rdsflow/default/${name}`);
    assert.equal(status.workflowId, workflowId);
    assert.equal(status.observedGeneration, 1);
    assert.ok(status.endpoint?.host);
    const ready = status.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.ok(available.metadata.finalizers?.includes(FINALIZER));

    const secret = (
      (await vault.read(`secret/data/rdsflow/default/${name}`)) as {
        data: { data: Record<string, string> };
      }
    ).data.data;
    assert.deepEqual(Object.keys(secret).sort(), [
      'dbname',
      'engine',
      'host',
      'password',
      'port',
      'url',
      'username',
    ]);
    assert.equal(secret['host'], status.endpoint?.host);
    assert.equal(secret['username'], 'app');
    assert.match(secret['password'] ?? '', /^[A-Za-z0-9]{32}$/);
    assert.equal(
      secret['url'],
      `postgresql://app:${secret['password']}@${secret['host']}:${secret['port']}/${secret['dbname']}`,
    );
    const password = secret['password']!;

    assert.equal(
      (await consul.kv.get(`rdsflow/default/${name}/host`))?.Value,
      status.endpoint?.host,
    );
    assert.equal((await consul.kv.get(`rdsflow/default/${name}/engine`))?.Value, 'postgres');
    assert.equal(await consul.kv.get(`rdsflow/default/${name}/password`), undefined);
    const instance = (
      await rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: status.dbInstanceIdentifier }),
      )
    ).DBInstances?.[0];
    assert.ok(instance?.TagList?.some((t) => t.Key === 'rdsflow.io/uid' && t.Value === dbRef.uid));

    // no secret in plain sight: status, history, worker logs
    assert.ok(!JSON.stringify(available).includes(password), 'the password is in the object');
    assert.ok(
      !(await historyText(client, workflowId)).includes(password),
      'the password is in workflow history',
    );
    assert.ok(!worker.output().includes(password), 'the password is in the worker log');

    // the worker's operational endpoints saw it all
    const health = await fetch(`${worker.httpUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', worker: 'RUNNING' });
    const metrics = await (await fetch(`${worker.httpUrl}/metrics`)).text();
    assert.match(
      metrics,
      /rdsflow_activity_total\{activity="createDbInstance",outcome="completed"\} [1-9]/,
    );
    assert.match(
      metrics,
      /rdsflow_activity_duration_seconds_count\{activity="waitUntilAvailable"\} [1-9]/,
    );
    assert.ok(!metrics.includes(password));

    // delete: the finalizer holds the object until the database is gone
    await kube.deleteNamespacedCustomObject({ ...objectRef, name });
    assert.ok(
      (await getObject(name))?.metadata.deletionTimestamp,
      'the object vanished before its database',
    );
    await signalDelete(client, workflowId, name);
    await eventually(
      'the object to disappear',
      async () => ((await getObject(name)) ? undefined : true),
      60_000,
    );
    await assert.rejects(
      rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: status.dbInstanceIdentifier }),
      ),
      /DBInstanceNotFound/,
    );
    await assert.rejects(
      vault.read(`secret/data/rdsflow/default/${name}`),
      (e: unknown) => (e as { response?: { statusCode?: number } }).response?.statusCode === 404,
    );
    assert.equal(await consul.kv.get(`rdsflow/default/${name}/host`), undefined);
    assert.deepEqual(await client.workflow.getHandle(workflowId).result(), {
      outcome: 'deleted',
      deletionPolicy: 'Delete',
      instance: 'deleted',
    });
  });
});
