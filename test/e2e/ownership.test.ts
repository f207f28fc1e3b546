// Destroy nothing that is not ours or was not asked for (docs/ownership.md), end to end: kubectl,
// the real worker and watcher, the stack's realistic RDS front (creating and deleting take
// time; RDS's refusals), moto, OpenBao and Consul. What must survive is proven to exist first and
// checked afterwards in moto, OpenBao and the apiserver themselves; the front's journal says
// which calls reached RDS, in which state, for which workflow.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { consulClient, kubeClientConfig } from '../../config/clients.js';
import { boundedApiClient } from '../../kube/bounded.js';
import type { DatabaseObject } from '../../contracts/database.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { getObject, waitForPhase } from '../support/database.js';
import { config, eventually, workflowIdOf } from '../support/env.js';
import { Rdsflow } from '../support/running.js';
import { vaultSecret } from '../support/stores.js';
import { applyDatabase, deleteDatabase, patchDatabase } from '../support/kubectl.js';
import type { AppProcess } from '../support/processes.js';
import {
  foreignInstance,
  frontCalls,
  moto,
  motoInstance,
  stackFront,
  tagMap,
} from '../support/rds.js';
import { LABEL, type Watched } from '../support/watched.js';

const consul = consulClient(config.consul);
const core = boundedApiClient(kubeClientConfig(config.kube), CoreV1Api, config.kube);
const front = stackFront();

async function manualSnapshots(identifier: string): Promise<string[]> {
  const out = await moto.send(
    new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: identifier, SnapshotType: 'manual' }),
  );
  return (out.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier ?? '').sort();
}

describe('ownership and destruction, end to end', () => {
  let rdsflow: Rdsflow;
  let client: Client;
  let watched: Watched;
  let watcher: AppProcess;
  let logs: () => string;

  before(async () => {
    rdsflow = await Rdsflow.connect();
    ({ client, watched, logs } = rdsflow);
    await rdsflow.worker();
    watcher = await rdsflow.watcher();
  });

  after(async () => {
    await rdsflow.close();
    consul.destroy();
  });

  const apply = (suffix: string, spec: Record<string, unknown>) =>
    applyDatabase(watched.name(suffix), { engine: 'postgres', ...spec }, { [LABEL]: watched.id });
  const identifierOf = (suffix: string) => rdsIdentifier('default', watched.name(suffix));
  const gone = (suffix: string) =>
    eventually(
      `${watched.name(suffix)} to be gone`,
      async () => ((await getObject(watched.name(suffix))) ? undefined : true),
      90_000,
    );
  const phase = (suffix: string, p: Parameters<typeof waitForPhase>[1]) =>
    waitForPhase(watched.name(suffix), p, 90_000, logs);
  const failedWith = (suffix: string, reason: string) =>
    eventually(
      `${watched.name(suffix)} Failed with ${reason}`,
      async () => {
        const object = await getObject(watched.name(suffix));
        const ready = object?.status?.conditions?.find((c) => c.type === 'Ready');
        return object?.status?.phase === 'Failed' && ready?.reason === reason ? object : undefined;
      },
      90_000,
    );

  it("a foreign instance under the identifier: Failed, and the object's deletion leaves it untouched", async () => {
    const identifier = identifierOf('foreign');
    await foreignInstance(identifier, { owner: 'another-team' });
    const before = await motoInstance(identifier);
    assert.ok(before, 'the foreign instance exists');

    await apply('foreign', { deletionPolicy: 'Delete' });
    const failed = await failedWith('foreign', 'InstanceNotOurs');
    assert.match(failed.status?.message ?? '', /owner=another-team/);
    await deleteDatabase(watched.name('foreign'));
    await gone('foreign');

    const after = await motoInstance(identifier);
    assert.equal(after?.DBInstanceStatus, 'available');
    assert.deepEqual(tagMap(after?.TagList), tagMap(before.TagList));
    assert.deepEqual(
      await frontCalls(identifier),
      [],
      'a mutating call reached the foreign instance',
    );
    const events = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.uid=${failed.metadata.uid}`,
    });
    const warning = events.items.find((e) => e.reason === 'InstanceNotOurs');
    assert.equal(warning?.type, 'Warning');
    assert.match(warning?.message ?? '', new RegExp(`${identifier} belongs to nobody known`));
    assert.match(warning?.message ?? '', /the instance is untouched/);
  });

  it('Retain keeps instance and credentials; a later object of the name adopts them only when it opts in', async () => {
    const name = watched.name('kept');
    const identifier = identifierOf('kept');
    await apply('kept', { deletionPolicy: 'Retain' });
    const first = await phase('kept', 'Available');
    const kept = await vaultSecret(name);
    assert.ok(kept?.['password']);
    await deleteDatabase(name);
    await gone('kept');
    let tags = tagMap((await motoInstance(identifier))?.TagList);
    assert.equal(tags['rdsflow.io/retained-from'], first.metadata.uid);
    assert.equal(tags['rdsflow.io/uid'], undefined);
    assert.deepEqual(await vaultSecret(name), kept, 'the retained credentials were touched');
    assert.equal(await consul.kv.get(`rdsflow/default/${name}/host`), undefined);

    // applied again without opting in (as a GitOps tool would): nothing of the old is touched,
    // and deleting the failed object touches nothing either
    await apply('kept', { deletionPolicy: 'Delete' });
    const refused = await failedWith('kept', 'EntryNotOurs');
    assert.notEqual(refused.metadata.uid, first.metadata.uid);
    assert.match(refused.status?.message ?? '', /spec\.adoptRetained: true/);
    await deleteDatabase(name);
    await gone('kept');
    assert.equal((await motoInstance(identifier))?.DBInstanceStatus, 'available');
    assert.deepEqual(tagMap((await motoInstance(identifier))?.TagList), tags);
    assert.deepEqual(await vaultSecret(name), kept);

    // opted in: adopted, and the password reset to the one now in Vault
    await apply('kept', { deletionPolicy: 'Delete', adoptRetained: true });
    const adopted = await phase('kept', 'Available');
    tags = tagMap((await motoInstance(identifier))?.TagList);
    assert.equal(tags['rdsflow.io/uid'], adopted.metadata.uid);
    assert.equal(tags['rdsflow.io/retained-from'], undefined);
    const now = await vaultSecret(name);
    assert.notEqual(now?.['password'], kept?.['password']);
    const resets = (await frontCalls(identifier)).filter(
      (e) => e.action === 'ModifyDBInstance' && e.params['MasterUserPassword'] === '***',
    );
    assert.equal(resets.length, 1, 'the new password never reached the instance');
    assert.equal(resets[0]?.workflowId, await workflowIdOf(adopted.metadata));
    assert.equal(resets[0]?.outcome, 'ok');
    await deleteDatabase(name);
    await gone('kept');
    assert.equal(await motoInstance(identifier), undefined);
  });

  it('a cancel never deletes the instance its run adopted: it is released again, as it was', async () => {
    const name = watched.name('adopt');
    const identifier = identifierOf('adopt');
    await apply('adopt', { deletionPolicy: 'Retain' });
    const first = await phase('adopt', 'Available');
    await deleteDatabase(name);
    await gone('adopt');
    // the adopter's password reset takes a while: its run is still provisioning when cancelled
    // (and RDS refuses changes until the reset is done, so the last adoption waits for it)
    await front.setTimings({ modifyingMs: 8_000 }, identifier);
    await apply('adopt', { deletionPolicy: 'Delete', adoptRetained: true });
    await eventually(
      'the password reset',
      async () =>
        (await frontCalls(identifier)).some((e) => e.action === 'ModifyDBInstance')
          ? true
          : undefined,
      60_000,
    );
    const object = (await getObject(name)) as DatabaseObject;
    await client.workflow.getHandle(await workflowIdOf(object.metadata)).cancel();
    const cancelled = await phase('adopt', 'Cancelled');
    assert.match(
      cancelled.status?.message ?? '',
      new RegExp(
        `RDS instance ${identifier} released again \\(retained from ${first.metadata.uid}\\)`,
      ),
    );
    // the instance stays, released as Retain left it, with the password it was reset to in Vault
    assert.ok(
      (await vaultSecret(name))?.['password'],
      'the credentials of the kept instance are gone',
    );
    const instance = await motoInstance(identifier);
    assert.ok(instance, 'the adopted instance was deleted by the cancel');
    const tags = tagMap(instance.TagList);
    assert.equal(tags['rdsflow.io/uid'], undefined);
    assert.equal(tags['rdsflow.io/retained-from'], first.metadata.uid);
    assert.deepEqual(
      (await frontCalls(identifier)).filter((e) => e.action === 'DeleteDBInstance'),
      [],
    );
    await front.setTimings({ modifyingMs: 0 }, identifier);
    // the cancelled object's delete leaves the released instance alone
    await deleteDatabase(name);
    await gone('adopt');
    assert.equal((await motoInstance(identifier))?.DBInstanceStatus, 'available');
    // and it can be taken back once more, recording where it came from
    await apply('adopt', { deletionPolicy: 'Delete', adoptRetained: true });
    const again = await phase('adopt', 'Available');
    assert.equal(again.status?.adoptedFrom, first.metadata.uid);
    await deleteDatabase(name);
    await gone('adopt');
    assert.equal(await motoInstance(identifier), undefined);
  });

  for (const policy of ['Snapshot', 'Delete'] as const) {
    it(`a delete while the instance is creating follows RDS's rules under ${policy}`, async () => {
      const suffix = `creating-${policy.toLowerCase()}`;
      const identifier = identifierOf(suffix);
      // under Snapshot the delete waits out `creating` (kept short); under Delete it must land
      // while the instance is still creating, however slow a loaded machine is (kept long)
      const creatingMs = policy === 'Snapshot' ? 4_000 : 120_000;
      await front.setTimings({ creatingMs, backingUpMs: 1_000 }, identifier);
      // RDS changes deletion protection only on an available instance: a Delete that must land
      // while creating is of an unprotected one (a protected one waits: test/activities/rds)
      await apply(suffix, {
        deletionPolicy: policy,
        ...(policy === 'Delete' ? { deletionProtection: false } : {}),
      });
      await eventually(
        'the create call',
        async () =>
          (await frontCalls(identifier)).some((e) => e.action === 'CreateDBInstance')
            ? true
            : undefined,
        60_000,
      );
      await deleteDatabase(watched.name(suffix));
      await gone(suffix);
      assert.equal(await motoInstance(identifier), undefined);
      assert.equal(await vaultSecret(watched.name(suffix)), undefined);
      const deletes = (await frontCalls(identifier)).filter((e) => e.action === 'DeleteDBInstance');
      const done = deletes.filter((e) => e.outcome === 'ok');
      assert.equal(done.length, 1, JSON.stringify(deletes));
      if (policy === 'Snapshot') {
        // RDS cannot snapshot while creating: the delete waited, it did not pretend
        assert.equal(done[0]?.statusBefore, 'available');
        assert.equal((await manualSnapshots(identifier)).length, 1);
      } else {
        assert.equal(done[0]?.statusBefore, 'creating');
        assert.deepEqual(await manualSnapshots(identifier), []);
      }
    });
  }

  it('a cancel while the create call is in flight awaits it, then rolls it back: no orphan', async () => {
    const suffix = 'inflight';
    const identifier = identifierOf(suffix);
    // the create reaches RDS three seconds after it is sent
    await front.fault({ action: 'CreateDBInstance', match: identifier, delayMs: 3_000 });
    await apply(suffix, { deletionPolicy: 'Delete' });
    const object = await phase(suffix, 'Provisioning');
    await eventually(
      'the create in flight',
      async () =>
        (await vaultSecret(watched.name(suffix)))?.['password'] !== undefined ? true : undefined,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    await client.workflow.getHandle(await workflowIdOf(object.metadata)).cancel();
    const cancelled = await phase(suffix, 'Cancelled');
    assert.match(
      cancelled.status?.message ?? '',
      /rolled back: RDS instance .* \(Delete\), Vault secret/,
    );
    assert.equal(await motoInstance(identifier), undefined, 'an orphan instance was left');
    assert.equal(await vaultSecret(watched.name(suffix)), undefined);
    // the rollback marks and lifts the deletion protection its own create turned on, then deletes
    const calls = await frontCalls(identifier);
    assert.deepEqual(
      calls.map((e) => [e.action, e.outcome]),
      [
        ['CreateDBInstance', 'ok'],
        ['AddTagsToResource', 'ok'],
        ['ModifyDBInstance', 'ok'],
        ['DeleteDBInstance', 'ok'],
      ],
    );
    assert.equal(calls[2]?.params['DeletionProtection'], 'false');
  });

  it('a policy edit merged with the delete while no watcher ran: the new policy applies', async () => {
    const name = watched.name('merged');
    const identifier = identifierOf('merged');
    await apply('merged', { deletionPolicy: 'Delete' });
    const available = await phase('merged', 'Available');
    await watcher.stop();
    await patchDatabase(name, { deletionPolicy: 'Retain' });
    await deleteDatabase(name);
    watcher = await rdsflow.watcher();
    await gone('merged');
    const instance = await motoInstance(identifier);
    assert.ok(instance, 'deleted under the old policy');
    assert.equal(tagMap(instance.TagList)['rdsflow.io/retained-from'], available.metadata.uid);
    assert.ok((await vaultSecret(name))?.['password'], 'the retained credentials are gone');
  });

  it('approval binds to a generation: what is created is what was approved', async () => {
    const name = watched.name('approval');
    const identifier = identifierOf('approval');
    await apply('approval', { requireApproval: true, storageGiB: 20, deletionPolicy: 'Delete' });
    const waiting = await phase('approval', 'AwaitingApproval');
    assert.equal(waiting.status?.pendingApproval?.generation, 1);
    await patchDatabase(name, { storageGiB: 40 });
    const again = await eventually(
      'generation 2 awaiting approval',
      async () => {
        const object = await getObject(name);
        return object?.status?.pendingApproval?.generation === 2 ? object : undefined;
      },
      60_000,
    );
    assert.equal(again.status?.pendingApproval?.storageGiB, 40);
    // an approval of what was shown before does not count
    await client.workflow
      .getHandle(await workflowIdOf(again.metadata))
      .signal('approve', { by: 'test', generation: 1 });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual(await frontCalls(identifier), [], 'created before its approval');
    await client.workflow
      .getHandle(await workflowIdOf(again.metadata))
      .signal('approve', { by: 'test', generation: 2 });
    const available = await phase('approval', 'Available');
    assert.equal(available.status?.observedGeneration, 2);
    assert.equal(available.status?.pendingApproval, undefined);
    assert.equal((await motoInstance(identifier))?.AllocatedStorage, 40);
    assert.deepEqual(
      (await frontCalls(identifier)).map((e) => [e.action, e.params['AllocatedStorage']]),
      [['CreateDBInstance', '40']],
    );
    await deleteDatabase(name);
    await gone('approval');
  });

  it('each deletion takes a final snapshot of its own: a rollback and a later delete never collide', async () => {
    const name = watched.name('snap');
    const identifier = identifierOf('snap');
    await front.setTimings({ creatingMs: 3_000 }, identifier);
    await apply('snap', { deletionPolicy: 'Snapshot' });
    await eventually(
      'the create call',
      async () =>
        (await frontCalls(identifier)).some((e) => e.action === 'CreateDBInstance')
          ? true
          : undefined,
      60_000,
    );
    const object = (await getObject(name)) as DatabaseObject;
    await client.workflow.getHandle(await workflowIdOf(object.metadata)).cancel();
    await phase('snap', 'Cancelled');
    assert.equal((await manualSnapshots(identifier)).length, 1);
    // provisioned again by a new generation, then deleted
    await front.setTimings({ creatingMs: 0 }, identifier);
    await patchDatabase(name, { storageGiB: 30 });
    await eventually(
      'provisioned again',
      async () => {
        const o = await getObject(name);
        return o?.status?.phase === 'Available' && o.status.observedGeneration === 2
          ? o
          : undefined;
      },
      90_000,
    );
    await deleteDatabase(name);
    await gone('snap');
    const snapshots = await manualSnapshots(identifier);
    assert.equal(snapshots.length, 2, snapshots.join(', '));
    assert.notEqual(snapshots[0], snapshots[1]);
  });
});
