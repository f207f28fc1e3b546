// A production-shaped Database end to end: a VPC with two subnets in two zones, a DB subnet
// group, a security group and a KMS key made in moto; the Database naming them, applied through
// kube-apiserver and run by the real worker, reaches Available with an instance in moto that
// carries them: in that subnet group and security group, encrypted with that key, not public,
// protected against deletion. The user's delete then lifts the protection and removes it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../config/clients.js';
import {
  createDatabase,
  getObject,
  kube,
  objectRef,
  signalDelete,
  startProvisioning,
  waitForPhase,
} from '../support/database.js';
import { config, eventually, uniqueName } from '../support/env.js';
import { productionNetwork } from '../support/network.js';
import { startWorker, type AppProcess } from '../support/processes.js';
import { frontCalls, motoInstance } from '../support/rds.js';

describe('a production-shaped Database, run by the real worker', () => {
  let worker: AppProcess;
  let client: Client;
  const taskQueue = uniqueName('e2e-production');

  before(async () => {
    client = await connectTemporal(config.temporal);
    worker = await startWorker(taskQueue);
  });

  after(async () => {
    assert.equal(await worker?.stop(), 0);
    await client?.connection.close();
  });

  it('reaches Available in its VPC, encrypted with its key, private and protected; the delete lifts the protection and removes it', async () => {
    const name = uniqueName('ledger');
    const net = await productionNetwork(name);
    const created = await createDatabase(name, {
      engine: 'postgres',
      storageGiB: 100,
      subnetGroup: net.subnetGroup,
      securityGroupIds: [net.securityGroupId],
      kmsKeyId: net.kmsKeyArn,
      backupRetentionDays: 7,
      backupWindow: '03:00-03:30',
      maintenanceWindow: 'sun:05:00-sun:05:30',
      deletionPolicy: 'Delete',
    });
    // the apiserver kept every field (a CRD without them would have pruned them)
    assert.equal(created.spec.kmsKeyId, net.kmsKeyArn);
    const workflowId = await startProvisioning(client, taskQueue, created);
    const available = await waitForPhase(name, 'Available', 120_000, () => worker.output());
    const id = available.status?.dbInstanceIdentifier ?? '';
    const instance = await motoInstance(id);
    assert.ok(instance, `no instance ${id} in moto`);
    assert.equal(instance.DBSubnetGroup?.DBSubnetGroupName, net.subnetGroup);
    assert.equal(instance.DBSubnetGroup?.VpcId, net.vpcId);
    assert.deepEqual(
      instance.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
      [net.securityGroupId],
    );
    assert.equal(instance.StorageEncrypted, true);
    assert.equal(instance.KmsKeyId, net.kmsKeyArn);
    assert.equal(instance.PubliclyAccessible, false);
    assert.equal(instance.DeletionProtection, true);
    assert.equal(instance.BackupRetentionPeriod, 7);
    assert.equal(instance.PreferredMaintenanceWindow, 'sun:05:00-sun:05:30');

    await kube.deleteNamespacedCustomObject({ ...objectRef, name });
    await signalDelete(client, workflowId, name);
    await eventually(
      'the object to disappear',
      async () => ((await getObject(name)) ? undefined : true),
      120_000,
    );
    assert.equal(await motoInstance(id), undefined, 'the instance is still in moto');
    const calls = await frontCalls(id);
    const lift = calls.findIndex(
      (c) => c.action === 'ModifyDBInstance' && c.params['DeletionProtection'] === 'false',
    );
    const deleted = calls.findIndex((c) => c.action === 'DeleteDBInstance' && c.outcome === 'ok');
    assert.ok(lift >= 0 && deleted > lift, `lift then delete: ${JSON.stringify(calls)}`);
  });
});
