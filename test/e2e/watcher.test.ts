// The acceptance path, with nothing started by hand: infra, the worker and two watchers running
// (least-privilege service accounts), `kubectl apply -f deploy/samples/orders.yaml` → Available;
// a spec change → applied once; `kubectl delete` → the instance snapshotted and gone from moto,
// the Vault and Consul entries removed, then the object gone.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DescribeDBInstancesCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import type { Client } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { consulClient, connectTemporal, rdsClient, vaultClient } from '../../config/clients.js';
import type { DatabaseObject } from '../../contracts/database.js';
import { getObject, waitForPhase } from '../support/database.js';
import { config, eventually, uniqueName, workflowIdOf } from '../support/env.js';
import { kubectl, patchDatabase } from '../support/kubectl.js';
import { startWatcher, startWorker, type AppProcess } from '../support/processes.js';
import { LABEL } from '../support/watched.js';
import { instancesOf } from '../support/rds.js';

const rds = rdsClient(config.aws);
const vault = vaultClient(config.vault);
const consul = consulClient(config.consul);
const sample = fileURLToPath(new URL('../../deploy/samples/orders.yaml', import.meta.url));

describe('kubectl apply → Available → kubectl delete, through the watcher', () => {
  const id = uniqueName('accept');
  const name = `orders-${id}`;
  const processes: AppProcess[] = [];
  let client: Client;

  before(async () => {
    client = await connectTemporal(config.temporal);
    processes.push(await startWorker(id));
    for (let i = 0; i < 2; i++) {
      processes.push(await startWatcher({ taskQueue: id, selector: `${LABEL}=${id}` }));
    }
  });

  after(async () => {
    for (const p of processes) await p.stop();
    await client.connection.close();
    consul.destroy();
  });

  it('provisions the sample, applies a change once, and deletes per policy', async () => {
    // the sample as a user would apply it, renamed and labelled for this test
    const manifest = parse(readFileSync(sample, 'utf8')) as DatabaseObject;
    manifest.metadata.name = name;
    manifest.metadata.labels = { [LABEL]: id };
    await kubectl(['apply', '-f', '-'], stringify(manifest));

    const logs = () => processes.map((p) => p.output()).join('\n');
    const available = await waitForPhase(name, 'Available', 90_000, logs);
    const status = available.status ?? {};
    const identifier = status.dbInstanceIdentifier ?? '';
    assert.equal(status.workflowId, await workflowIdOf(available.metadata));
    const instances = await instancesOf(available.metadata.uid);
    assert.equal(instances.length, 1, 'one instance, though two watchers saw the object');
    assert.ok(await vault.read(`secret/data/rdsflow/default/${name}`));
    // the Temporal UI's filter finds it by the custom search attributes, phase kept current
    const found = await eventually('found by search attributes', async () => {
      const ids: string[] = [];
      for await (const w of client.workflow.list({
        query: `DatabaseNamespace = 'default' AND DatabaseName = '${name}' AND DatabaseEngine = 'postgres' AND DatabasePhase = 'Available'`,
      }))
        ids.push(w.workflowId);
      return ids.length > 0 ? ids : undefined;
    });
    assert.deepEqual([...new Set(found)], [await workflowIdOf(available.metadata)]);
    const described = await client.workflow
      .getHandle(await workflowIdOf(available.metadata))
      .describe();
    assert.deepEqual(described.memo, { database: `default/${name}`, engine: 'postgres' });
    assert.equal((await consul.kv.get(`rdsflow/default/${name}/engine`))?.Value, 'postgres');

    await patchDatabase(name, { storageGiB: 30 });
    await eventually(
      'generation 2 applied',
      async () => {
        const object = await getObject(name);
        return object?.status?.phase === 'Available' && object.status.observedGeneration === 2
          ? object
          : undefined;
      },
      60_000,
    );
    const instance = (
      await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }))
    ).DBInstances?.[0];
    assert.equal(instance?.AllocatedStorage, 30);
    // one modify run for the one change, though each watcher may have signalled it
    const stages: string[] = [];
    for await (const run of client.workflow.list({
      query: `WorkflowId = '${await workflowIdOf(available.metadata)}'`,
    })) {
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const payload =
        history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const input = client.options.loadedDataConverter.payloadConverter.fromPayload<{
        stage: string;
      }>(payload ?? {});
      stages.push(input.stage);
    }
    assert.equal(stages.filter((s) => s === 'modify').length, 1, stages.join(','));
    assert.equal(stages.filter((s) => s === 'provision').length, 1, stages.join(','));

    await kubectl(['delete', 'databases.rdsflow.io', name, '--wait=false']);
    await eventually(
      'the object to disappear',
      async () => ((await getObject(name)) ? undefined : true),
      90_000,
    );
    await assert.rejects(
      rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })),
      /DBInstanceNotFound/,
    );
    const snapshots = await rds.send(
      new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: identifier, SnapshotType: 'manual' }),
    );
    // NOTE: moto also keeps an `automated` snapshot from creation; the final one is manual
    assert.equal(snapshots.DBSnapshots?.length, 1, 'deletionPolicy Snapshot left a final snapshot');
    await assert.rejects(
      vault.read(`secret/data/rdsflow/default/${name}`),
      (e: unknown) => (e as { response?: { statusCode?: number } }).response?.statusCode === 404,
    );
    assert.equal(await consul.kv.get(`rdsflow/default/${name}/host`), undefined);
  });
});
