// Trust only the object itself, end to end: kubectl, the real worker and watcher, the stack's
// realistic RDS front, moto, OpenBao, Consul and the apiserver. Absence is never a delete (a
// finalizer removed by hand and the object restored under a new UID orphans the database, which
// is taken back only through `rdsflow adopt`); an object deleted while outside the watcher's
// scope is finished by the periodic sweep; an unapproved edit never weakens the approved
// deletion policy. What must survive is proven to exist first and checked afterwards through
// the servers' own APIs; the front's journal says which calls reached RDS.
//
// Each story fails on the code before it: the watcher's sweep deleted the restored object's
// instance ("not found, or another UID" was a delete), an object deleted out of scope waited for
// a watcher restart, and the unapproved Delete policy deleted without a final snapshot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { consulClient, kubeClientConfig } from '../../config/clients.js';
import { boundedApiClient } from '../../kube/bounded.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { getObject, waitForPhase } from '../support/database.js';
import { rdsflowCli } from '../support/cli.js';
import { config, eventually, workflowIdOf } from '../support/env.js';
import { Rdsflow } from '../support/running.js';
import { vaultSecret } from '../support/stores.js';
import {
  applyDatabase,
  deleteDatabase,
  kubectl,
  labelDatabase,
  patchDatabase,
} from '../support/kubectl.js';
import type { AppProcess } from '../support/processes.js';
import { frontCalls, moto, motoInstance, stackFront, tagMap } from '../support/rds.js';
import { LABEL, type Watched } from '../support/watched.js';

const consul = consulClient(config.consul);
const core = boundedApiClient(kubeClientConfig(config.kube), CoreV1Api, config.kube);
const front = stackFront();

async function eventsOf(uid: string, reason: string) {
  const events = await core.listNamespacedEvent({
    namespace: 'default',
    fieldSelector: `involvedObject.uid=${uid},reason=${reason}`,
  });
  return events.items;
}

describe('trust only the object itself, end to end', () => {
  let rdsflow: Rdsflow;
  let client: Client;
  let watched: Watched;
  let logs: () => string;

  before(async () => {
    rdsflow = await Rdsflow.connect();
    ({ client, watched, logs } = rdsflow);
    await rdsflow.worker();
  });

  after(async () => {
    await rdsflow.close();
    consul.destroy();
  });

  const apply = (suffix: string, spec: Record<string, unknown>) =>
    applyDatabase(watched.name(suffix), { engine: 'postgres', ...spec }, { [LABEL]: watched.id });
  const phase = (suffix: string, p: Parameters<typeof waitForPhase>[1]) =>
    waitForPhase(watched.name(suffix), p, 90_000, logs);
  const gone = (suffix: string) =>
    eventually(
      `${watched.name(suffix)} to be gone`,
      async () => ((await getObject(watched.name(suffix))) ? undefined : true),
      90_000,
    );

  it('a finalizer removed by hand and the object restored: the database is orphaned, then adopted on request', async () => {
    const name = watched.name('restore');
    const identifier = rdsIdentifier('default', name);
    let watcher: AppProcess = await rdsflow.watcher();
    await apply('restore', { deletionPolicy: 'Delete' });
    const first = await phase('restore', 'Available');
    const credentials = await vaultSecret(name);
    assert.ok(credentials?.['password'], 'the credentials exist');
    assert.ok(await consul.kv.get(`rdsflow/default/${name}/host`), 'the Consul entry exists');
    assert.equal((await motoInstance(identifier))?.DBInstanceStatus, 'available');

    // with the watcher stopped: the finalizer removed by hand, the object deleted, and the
    // manifest applied again (a restore from backup: same name, a new UID)
    await watcher.stop();
    await kubectl([
      ...['patch', 'databases.rdsflow.io', name, '--type=merge'],
      ...['-p', JSON.stringify({ metadata: { finalizers: null } })],
    ]);
    await deleteDatabase(name);
    await gone('restore');
    await apply('restore', { deletionPolicy: 'Delete' });
    const restored = await eventually('the restored object', () => getObject(name), 10_000);
    assert.notEqual(restored.metadata.uid, first.metadata.uid);

    watcher = await rdsflow.watcher();
    const outcome: unknown = await client.workflow
      .getHandle(await workflowIdOf(first.metadata))
      .result();
    assert.deepEqual(outcome, {
      outcome: 'orphaned',
      deletionPolicy: 'none',
      instance: 'released',
    });
    // kept: the instance (released as Retain releases it), its credentials, its Consul entry
    const instance = await motoInstance(identifier);
    assert.equal(instance?.DBInstanceStatus, 'available');
    const tags = tagMap(instance?.TagList);
    assert.equal(tags['rdsflow.io/retained-from'], first.metadata.uid);
    assert.equal(tags['rdsflow.io/uid'], undefined);
    assert.deepEqual(await vaultSecret(name), credentials);
    assert.ok(await consul.kv.get(`rdsflow/default/${name}/host`), 'the Consul entry was removed');
    assert.deepEqual(
      (await frontCalls(identifier)).filter((e) => e.action === 'DeleteDBInstance'),
      [],
      'a delete reached the orphaned instance',
    );
    // the Warning is on the new object of the name, and says how to take the database back
    const [orphaned] = await eventually(
      'the Orphaned event',
      async () => {
        const found = await eventsOf(restored.metadata.uid, 'Orphaned');
        return found.length > 0 ? found : undefined;
      },
      30_000,
    );
    assert.equal(orphaned?.type, 'Warning');
    assert.match(orphaned?.message ?? '', new RegExp(identifier));
    assert.match(orphaned?.message ?? '', /adoptRetained|rdsflow adopt/);
    // the restored object does not take it by itself
    const refused = await phase('restore', 'Failed');
    assert.match(refused.status?.message ?? '', /adoptRetained/);
    assert.deepEqual(await vaultSecret(name), credentials);

    // taken back explicitly: `rdsflow adopt`, recording where it came from
    const adopting = await rdsflowCli(['adopt', `default/${name}`]);
    assert.equal(adopting.code, 0, adopting.stderr);
    const adopted = await eventually(
      'the adopted object Available',
      async () => {
        const o = await getObject(name);
        return o?.status?.phase === 'Available' && o.spec.adoptRetained === true ? o : undefined;
      },
      90_000,
    );
    assert.equal(adopted.status?.adoptedFrom, first.metadata.uid);
    const now = tagMap((await motoInstance(identifier))?.TagList);
    assert.equal(now['rdsflow.io/uid'], restored.metadata.uid);
    assert.equal(now['rdsflow.io/adopted-from'], first.metadata.uid);

    await deleteDatabase(name);
    await gone('restore');
    assert.equal(await motoInstance(identifier), undefined);
    await watcher.stop();
  });

  it('an object deleted while outside the scope is deleted by the periodic sweep', async () => {
    const watcher = await rdsflow.watcher({ RDSFLOW_SWEEP_INTERVAL: '1s' });
    const name = watched.name('swept');
    const identifier = rdsIdentifier('default', name);
    await apply('swept', { deletionPolicy: 'Delete' });
    const first = await phase('swept', 'Available');
    assert.ok(await motoInstance(identifier), 'the instance exists');
    await labelDatabase(name, LABEL, 'elsewhere');
    await eventually(
      'the Released event',
      async () => ((await eventsOf(first.metadata.uid, 'Released')).length > 0 ? true : undefined),
      30_000,
    );
    // deleted by its user while no watch shows it: no event will ever tell the watcher
    await deleteDatabase(name);
    await eventually(
      'the swept object gone',
      async () => ((await getObject(name)) ? undefined : true),
      60_000,
    );
    assert.equal(await motoInstance(identifier), undefined);
    assert.deepEqual(await client.workflow.getHandle(await workflowIdOf(first.metadata)).result(), {
      outcome: 'deleted',
      deletionPolicy: 'Delete',
      instance: 'deleted',
    });
    await watcher.stop();
  });

  it('an unapproved edit to a weaker policy, then a delete: the approved policy applies', async () => {
    const watcher = await rdsflow.watcher();
    const name = watched.name('floor');
    const identifier = rdsIdentifier('default', name);
    await apply('floor', { deletionPolicy: 'Snapshot', requireApproval: true });
    const waiting = await phase('floor', 'AwaitingApproval');
    const approve = await rdsflowCli(['approve', `default/${name}`]);
    assert.equal(approve.code, 0, approve.stderr);
    await phase('floor', 'Available');
    assert.equal(waiting.metadata.uid, (await getObject(name))?.metadata.uid);
    // the weaker policy is an edit nobody approved; the delete follows right away
    await patchDatabase(name, { deletionPolicy: 'Delete' });
    await phase('floor', 'AwaitingApproval');
    await deleteDatabase(name);
    await gone('floor');
    const snapshots = await moto.send(
      new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: identifier, SnapshotType: 'manual' }),
    );
    assert.equal(snapshots.DBSnapshots?.length, 1, 'no final snapshot: the weaker policy applied');
    const deletes = (await frontCalls(identifier)).filter((e) => e.action === 'DeleteDBInstance');
    assert.equal(deletes.length, 1);
    assert.equal(deletes[0]?.params['SkipFinalSnapshot'], 'false');
    await watcher.stop();
  });
  it('a cancel during a modification keeps everything of the database that was serving', async () => {
    const watcher = await rdsflow.watcher();
    const name = watched.name('modcancel');
    const identifier = rdsIdentifier('default', name);
    await apply('modcancel', { deletionPolicy: 'Delete' });
    const first = await phase('modcancel', 'Available');
    const credentials = await vaultSecret(name);
    const host = await consul.kv.get(`rdsflow/default/${name}/host`);
    assert.ok(credentials?.['password'] && host, 'the credentials and the Consul entry exist');
    // the modification takes a while: the run is still in it when cancelled
    await front.setTimings({ modifyingMs: 8_000 }, identifier);
    await patchDatabase(name, { storageGiB: 30 });
    await eventually(
      'the modification under way',
      async () =>
        (await frontCalls(identifier)).some(
          (e) => e.action === 'ModifyDBInstance' && e.outcome === 'ok',
        )
          ? true
          : undefined,
      60_000,
    );
    const cancelled = await rdsflowCli(['cancel', `default/${name}`, '--yes']);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    await phase('modcancel', 'Cancelled');
    // nothing of what served before the change was taken: checked in the servers themselves
    assert.deepEqual(await vaultSecret(name), credentials);
    assert.ok(await consul.kv.get(`rdsflow/default/${name}/host`), 'the Consul entry was removed');
    const node = (await consul.catalog.node.services(identifier)) as {
      Services?: Record<string, unknown>;
    } | null;
    assert.ok(Object.keys(node?.Services ?? {}).length > 0, 'the Consul service was removed');
    assert.ok(await motoInstance(identifier), 'the instance was deleted by the cancel');
    assert.deepEqual(
      (await frontCalls(identifier)).filter((e) => e.action === 'DeleteDBInstance'),
      [],
    );
    assert.equal((await getObject(name))?.metadata.uid, first.metadata.uid);
    await deleteDatabase(name);
    await gone('modcancel');
    await watcher.stop();
  });

  it('a deletion waiting for RDS reads the policy again: switched to Retain, the instance stays', async () => {
    const watcher = await rdsflow.watcher();
    const name = watched.name('switch');
    const identifier = rdsIdentifier('default', name);
    await apply('switch', { deletionPolicy: 'Snapshot' });
    const first = await phase('switch', 'Available');
    // a modification in progress (made in the console): RDS takes no final snapshot until it
    // is done, so the deletion waits
    await front.forceStatus(identifier, 'modifying');
    await deleteDatabase(name);
    await phase('switch', 'Deleting');
    // the user changes their mind while the deletion waits
    // it cannot go on while the instance shows modifying: no race with the switch below
    await new Promise((r) => setTimeout(r, 2_000));
    assert.ok(await motoInstance(identifier), 'deleted while modifying');
    await patchDatabase(name, { deletionPolicy: 'Retain' });
    await front.forceStatus(identifier, undefined);
    await gone('switch');
    const instance = await motoInstance(identifier);
    assert.ok(instance, 'the instance was deleted after the switch to Retain');
    assert.equal(tagMap(instance.TagList)['rdsflow.io/retained-from'], first.metadata.uid);
    assert.deepEqual(
      (await frontCalls(identifier)).filter(
        (e) => e.action === 'DeleteDBInstance' && e.outcome === 'ok',
      ),
      [],
    );
    assert.ok((await vaultSecret(name))?.['password'], 'the retained credentials are gone');
    // clean up: taken back and deleted for good
    await apply('switch', { deletionPolicy: 'Delete', adoptRetained: true });
    await phase('switch', 'Available');
    await deleteDatabase(name);
    await gone('switch');
    await watcher.stop();
  });
});
