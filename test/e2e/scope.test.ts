// "I can't see it" is not "delete it": a Database that leaves the watcher's scope (a label no
// longer matching RDSFLOW_WATCH_SELECTOR, a namespace dropped from RDSFLOW_WATCH_NAMESPACES) is
// released, never deleted. Through kubectl with the real worker and watcher; what must survive
// is checked in moto and the apiserver, and the workflow's history shows no delete request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { kubeClientConfig } from '../../config/clients.js';
import { boundedApiClient } from '../../kube/bounded.js';
import type { DatabaseObject } from '../../contracts/database.js';
import { FINALIZER } from '../../contracts/names.js';
import { mergePatch } from '../../kube/databases.js';
import { getObject, kube, objectRef } from '../support/database.js';
import { config, eventually, uniqueName, workflowIdOf } from '../support/env.js';
import { Rdsflow } from '../support/running.js';
import { applyDatabase, labelDatabase, patchDatabase } from '../support/kubectl.js';
import { health } from '../support/processes.js';
import { instancesOf, motoInstance } from '../support/rds.js';
import { LABEL, type Watched } from '../support/watched.js';

const core = boundedApiClient(kubeClientConfig(config.kube), CoreV1Api, config.kube);

describe('an object that leaves the watcher scope is released, not deleted', () => {
  let rdsflow: Rdsflow;
  let client: Client;
  let watched: Watched;
  let logs: () => string;

  before(async () => {
    rdsflow = await Rdsflow.connect();
    ({ client, watched, logs } = rdsflow);
    await rdsflow.worker();
  });

  after(() => rdsflow.close());

  const available = (name: string, namespace = 'default', generation = 1) =>
    eventually(
      `${namespace}/${name} Available at generation ${generation}`,
      async () => {
        const o = await getObject(name, namespace);
        if (o?.status?.phase === 'Failed')
          throw new Error(`Failed: ${o.status.message}\n${logs()}`);
        return o?.status?.phase === 'Available' && o.status.observedGeneration === generation
          ? o
          : undefined;
      },
      90_000,
    );

  async function deleteSignals(object: DatabaseObject): Promise<number> {
    const history = await client.workflow
      .getHandle(await workflowIdOf(object.metadata))
      .fetchHistory();
    return (history.events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'delete',
    ).length;
  }

  it('a label change out of the selector: released, untouched; labelled back: managed again', async () => {
    const watcher = await rdsflow.watcher();
    const name = watched.name('relabel');
    await applyDatabase(
      name,
      { engine: 'postgres', deletionPolicy: 'Delete' },
      { [LABEL]: watched.id },
    );
    const first = await available(name);
    const identifier = first.status?.dbInstanceIdentifier ?? '';
    assert.ok(await motoInstance(identifier), 'the instance exists');

    await labelDatabase(name, LABEL, 'elsewhere');
    const released = await eventually(
      'the Released event',
      async () => {
        const events = await core.listNamespacedEvent({
          namespace: 'default',
          fieldSelector: `involvedObject.uid=${first.metadata.uid}`,
        });
        return events.items.find((e) => e.reason === 'Released');
      },
      30_000,
    );
    assert.equal(released.type, 'Warning');
    assert.match(
      released.message ?? '',
      /left the watcher's scope \(all namespaces, RDSFLOW_WATCH_SELECTOR=/,
    );
    assert.match(released.message ?? '', /Nothing was deleted/);
    // time for a wrong delete to have happened, then: nothing was
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal((await motoInstance(identifier))?.DBInstanceStatus, 'available');
    const still = await getObject(name);
    assert.equal(still?.metadata.uid, first.metadata.uid);
    assert.ok(still?.metadata.finalizers?.includes(FINALIZER), 'the finalizer was released');
    assert.equal(still?.metadata.deletionTimestamp, undefined);
    assert.equal(await deleteSignals(first), 0, 'a delete was requested');
    assert.match(watcher.output(), /object left the watcher scope; released, nothing deleted/);

    // back in scope: managed again, by the same workflow, on the same instance
    await labelDatabase(name, LABEL, watched.id);
    await patchDatabase(name, { storageGiB: 30 });
    await available(name, 'default', 2);
    assert.equal((await instancesOf(first.metadata.uid)).length, 1);
    assert.equal((await motoInstance(identifier))?.AllocatedStorage, 30);
    assert.equal(await deleteSignals(first), 0);
  });

  it('a namespace dropped from RDSFLOW_WATCH_NAMESPACES, then a restart: nothing deleted', async () => {
    const namespace = uniqueName('scope');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const before = await rdsflow.watcher({ RDSFLOW_WATCH_NAMESPACES: namespace });
    const name = 'orders';
    await applyDatabase(
      name,
      { engine: 'postgres', deletionPolicy: 'Delete' },
      { [LABEL]: watched.id },
      namespace,
    );
    const first = await available(name, namespace);
    const identifier = first.status?.dbInstanceIdentifier ?? '';
    await before.stop();

    const after = await rdsflow.watcher({ RDSFLOW_WATCH_NAMESPACES: 'default' });
    await eventually('the new watcher ready', async () =>
      (await health(after)).status === 200 ? true : undefined,
    );
    // it checks the running workflows it did not list: this one's object is there
    await eventually('the orphan check', () =>
      /running workflows checked against their objects/.test(after.output()) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal((await motoInstance(identifier))?.DBInstanceStatus, 'available');
    const still = await getObject(name, namespace);
    assert.equal(still?.metadata.uid, first.metadata.uid);
    assert.equal(still?.metadata.deletionTimestamp, undefined);
    assert.equal(await deleteSignals(first), 0, 'a delete was requested');
    assert.match(after.output(), /outside this watcher's scope; left as it is/);

    // clean up what this test made outside the fixture's namespace
    await kube.patchNamespacedCustomObject(
      { ...objectRef, namespace, name, body: { metadata: { finalizers: null } } },
      mergePatch,
    );
    await client.workflow.getHandle(await workflowIdOf(first.metadata)).terminate('test cleanup');
    await core.deleteNamespace({ name: namespace });
  });
});
