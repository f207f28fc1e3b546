// The rdsflow CLI (the real executable) against the running stack, with the worker and the
// watcher: approve, cancel during provisioning, retry after a fixed failure; the same signals
// through the stock `temporal` CLI; human and --json output, and the exit codes scripts use.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { CoreV1Api } from '@kubernetes/client-node';
import { consulClient, kubeClientConfig, rdsClient, vaultClient } from '../../config/clients.js';
import { boundedApiClient } from '../../kube/bounded.js';
import type { DatabaseObject } from '../../contracts/database.js';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { getObject, kube, objectRef, waitForPhase } from '../support/database.js';
import { config, eventually, tools, uniqueName, workflowIdOf } from '../support/env.js';
import { rdsflowCli, type Ran } from '../support/cli.js';
import { Rdsflow } from '../support/running.js';
import { motoInstance, stackFront } from '../support/rds.js';
import type { Watched } from '../support/watched.js';

// the CLI as it ships (dist/, plain node): a TypeScript run through tsx costs a second or two
// of CPU at every one of the many invocations here
const packageBin = fileURLToPath(new URL('../../bin/rdsflow.js', import.meta.url));
const rds = rdsClient(config.aws);
const vault = vaultClient(config.vault);
const consul = consulClient(config.consul);
const core = boundedApiClient(kubeClientConfig(config.kube), CoreV1Api, config.kube);

const rdsflow = (...args: string[]): Promise<Ran> => rdsflowCli(args);

function temporalCli(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      tools.temporalCli,
      [...args, '--address', config.temporal.address, '--namespace', config.temporal.namespace],
      (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)),
    );
  });
}

const front = stackFront();

describe('the rdsflow CLI on the running stack', () => {
  let rdsflowUnderTest: Rdsflow;
  let watched: Watched;
  let logs: () => string;

  before(async () => {
    rdsflowUnderTest = await Rdsflow.connect();
    ({ watched, logs } = rdsflowUnderTest);
    await rdsflowUnderTest.worker();
    await rdsflowUnderTest.watcher();
  });

  after(async () => {
    await rdsflowUnderTest.close();
    consul.destroy();
  });

  const ref = (suffix: string) => `default/${watched.name(suffix)}`;

  it('approve: a database waiting for approval goes ahead, followed with --watch', async () => {
    await watched.create('approve', {
      engine: 'postgres',
      requireApproval: true,
      deletionPolicy: 'Delete',
    });
    await waitForPhase(watched.name('approve'), 'AwaitingApproval', 60_000, logs);

    const described = await rdsflow('describe', ref('approve'), '--json');
    assert.equal(described.code, 0, described.stderr);
    const view = JSON.parse(described.stdout) as {
      object: DatabaseObject;
      workflow: { status: string; live?: { phase: string; step: string } };
    };
    assert.equal(view.object.status?.phase, 'AwaitingApproval');
    assert.equal(view.workflow.status, 'RUNNING');
    assert.equal(view.workflow.live?.step, 'awaitApproval');

    const human = await rdsflow('describe', ref('approve'));
    assert.match(human.stdout, /^phase\s+AwaitingApproval/m);
    assert.match(
      human.stdout,
      /^temporal ui\s+http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\//m,
    );

    assert.match(
      human.stdout,
      /^awaiting\s+approval of generation 1: postgres db\.t3\.micro, 20 GiB/m,
    );
    const approved = await rdsflow('approve', ref('approve'), '--watch');
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
    // it says what it approves: one generation's spec
    assert.match(
      approved.stdout,
      /^approving generation 1: postgres db\.t3\.micro, 20 GiB, Multi-AZ no, deletionPolicy Delete$/m,
    );
    assert.match(approved.stdout, /^approved: database\/default\//m);
    // not a TTY: one line per change, ending Available
    assert.match(approved.stdout, /\] Available +waitForChange/);
    assert.equal((await getObject(watched.name('approve')))?.status?.phase, 'Available');

    const history = await rdsflow('history', ref('approve'), '--json');
    const entries = (
      JSON.parse(history.stdout) as { entries: { kind: string; name?: string; step?: string }[] }
    ).entries;
    assert.ok(entries.some((e) => e.kind === 'signal' && e.name === 'approve'));
    assert.ok(entries.some((e) => e.kind === 'step' && e.step === 'createDbInstance'));
    const text = await rdsflow('history', ref('approve'));
    assert.match(text.stdout, /run provision \(continued\)/);
    assert.match(text.stdout, /← signal approve/);
    assert.match(text.stdout, /createDbInstance\s+1 attempt\s+\S+\s+completed/);

    const listed = await rdsflow('list', '-n', 'default', '--json');
    const names = (JSON.parse(listed.stdout) as DatabaseObject[]).map((o) => o.metadata.name);
    assert.ok(names.includes(watched.name('approve')));
  });

  it('cancel during provisioning: Cancelled, and nothing left behind', async () => {
    await front.setTimings(
      { creatingMs: 600_000 },
      rdsIdentifier('default', watched.name('cancel')),
    );
    {
      // unprotected: RDS lifts deletion protection only on an available instance, so the
      // rollback of a protected one waits out `creating` (test/activities/rds.test.ts)
      const object = await watched.create('cancel', {
        engine: 'postgres',
        deletionPolicy: 'Delete',
        deletionProtection: false,
      });
      const workflowId = await workflowIdOf(object.metadata);
      await eventually(
        'waiting for the instance',
        async () => {
          const r = await rdsflow('describe', ref('cancel'), '--json');
          const live = (JSON.parse(r.stdout) as { workflow?: { live?: { step?: string } } })
            .workflow?.live;
          return live?.step === 'waitUntilAvailable' ? true : undefined;
        },
        60_000,
      );
      const identifier =
        (await getObject(watched.name('cancel')))?.status?.dbInstanceIdentifier ?? '';
      assert.ok(identifier);
      // by workflow ID: this needs only Temporal
      const cancelled = await rdsflow('cancel', workflowId, '--watch');
      assert.equal(cancelled.code, 7, 'a watch that ends Cancelled exits 7');
      assert.match(cancelled.stdout, /cancellation requested/);
      const object2 = await waitForPhase(watched.name('cancel'), 'Cancelled', 60_000, logs);
      assert.match(
        object2.status?.message ?? '',
        /rolled back: RDS instance .* \(Delete\), Vault secret/,
      );
      await assert.rejects(
        rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })),
        /DBInstanceNotFound/,
      );
      await assert.rejects(vault.read(`secret/data/rdsflow/default/${watched.name('cancel')}`));
      assert.equal(
        await consul.kv.get(`rdsflow/default/${watched.name('cancel')}/host`),
        undefined,
      );
      // the watcher leaves a cancelled database alone
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal((await getObject(watched.name('cancel')))?.status?.phase, 'Cancelled');
    }
  });

  it('retry: a Failed database re-runs its stage once the cause is fixed', async () => {
    // RDS reports the instance failed (e.g. a quota) until the operator fixes it; the
    // identifier is derived from namespace and name, so the fault is in place before the create
    const identifier = rdsIdentifier('default', watched.name('retry'));
    await front.forceStatus(identifier, 'failed');
    const object = await watched.create('retry', { engine: 'postgres', deletionPolicy: 'Delete' });
    try {
      await waitForPhase(watched.name('retry'), 'Failed', 60_000);
    } finally {
      await front.forceStatus(identifier, undefined);
    }
    const retried = await rdsflow('retry', ref('retry'), '--watch', '--json');
    assert.equal(retried.code, 0, retried.stdout + retried.stderr);
    const lines = retried.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as { phase: string });
    assert.equal(lines.at(-1)?.phase, 'Available');
    assert.equal((await getObject(watched.name('retry')))?.metadata.uid, object.metadata.uid);
  });

  it('a deletion followed with describe --watch ends printing its final snapshot and how to restore it', async () => {
    const object = await watched.create('final', {
      engine: 'postgres',
      deletionPolicy: 'Snapshot',
    });
    await waitForPhase(watched.name('final'), 'Available', 60_000, logs);
    const workflowId = await workflowIdOf(object.metadata);
    await kube.deleteNamespacedCustomObject({ ...objectRef, name: watched.name('final') });
    // by workflow ID: the object goes once the deletion is done
    const followed = await rdsflow('describe', workflowId, '--watch');
    assert.equal(followed.code, 0, followed.stdout + followed.stderr);
    const snapshot = /^final snapshot (\S+)$/m.exec(followed.stdout)?.[1];
    assert.ok(snapshot, followed.stdout);
    assert.match(followed.stdout, /^deleted \(deletionPolicy Snapshot\)$/m);
    assert.ok(
      followed.stdout.includes(`spec.source: {snapshot: ${snapshot}}`),
      'no line to restore it',
    );
    const described = await rdsflow('describe', workflowId, '--json');
    const view = JSON.parse(described.stdout) as { workflow?: { result?: { snapshot?: string } } };
    assert.equal(view.workflow?.result?.snapshot, snapshot);
    assert.match((await rdsflow('describe', workflowId)).stdout, /^restore with\s+spec\.source/m);
  });

  it('the stock temporal CLI has the same effect: approve and cancel by workflow ID', async () => {
    const a = await watched.create('t-approve', {
      engine: 'postgres',
      requireApproval: true,
      deletionPolicy: 'Delete',
    });
    await waitForPhase(watched.name('t-approve'), 'AwaitingApproval', 60_000, logs);
    await temporalCli(
      'workflow',
      'signal',
      '--workflow-id',
      await workflowIdOf(a.metadata),
      '--name',
      'approve',
      '--input',
      '{"by":"ops","generation":1}',
    );
    await waitForPhase(watched.name('t-approve'), 'Available', 60_000, logs);

    const c = await watched.create('t-cancel', {
      engine: 'postgres',
      requireApproval: true,
      deletionPolicy: 'Delete',
    });
    await waitForPhase(watched.name('t-cancel'), 'AwaitingApproval', 60_000, logs);
    await temporalCli('workflow', 'cancel', '--workflow-id', await workflowIdOf(c.metadata));
    const cancelled = await waitForPhase(watched.name('t-cancel'), 'Cancelled', 60_000, logs);
    assert.match(cancelled.status?.message ?? '', /cancelled by an operator; nothing to roll back/);
  });

  it('asks for --yes before a cancel; a forged delete or specChanged signal changes nothing', async () => {
    const object = await watched.create('guard', { engine: 'postgres', deletionPolicy: 'Delete' });
    const available = await waitForPhase(watched.name('guard'), 'Available', 60_000, logs);
    const identifier = available.status?.dbInstanceIdentifier ?? '';
    const before = await motoInstance(identifier);
    assert.equal(before?.AllocatedStorage, 20, 'the instance exists, with 20 GiB');

    // a delete signal is only a request: the workflow reads the object back, and this one is
    // not being deleted
    const deleting = await rdsflow('signal', ref('guard'), 'delete');
    assert.equal(deleting.code, 0, deleting.stderr);
    assert.match(deleting.stdout, /it deletes nothing unless the Database is being deleted/);
    const byId = await rdsflow('signal', await workflowIdOf(object.metadata), 'delete');
    assert.equal(byId.code, 0, byId.stderr);
    // another object's spec (77 GiB) sent to this workflow, as `temporal workflow signal` could
    const other = {
      metadata: { namespace: 'default', name: watched.name('other'), uid: uniqueName('uid') },
      spec: { engine: 'postgres', storageGiB: 77, databaseName: 'guard' },
    };
    const forged = await rdsflow('signal', ref('guard'), 'specChanged', JSON.stringify(other));
    assert.equal(forged.code, 0, forged.stderr);
    const refusals = await eventually(
      'three refusals on the object',
      async () => {
        const events = await core.listNamespacedEvent({
          namespace: 'default',
          fieldSelector: `involvedObject.uid=${object.metadata.uid},reason=SignalRefused`,
        });
        return events.items.length >= 3 ? events.items.map((e) => e.message ?? '') : undefined;
      },
      30_000,
    );
    assert.ok(refusals.some((m) => /delete signal .* not being deleted/.test(m)));
    assert.ok(refusals.some((m) => /specChanged signal .* another object/.test(m)));

    const cancelling = await rdsflow('cancel', ref('guard'));
    assert.equal(cancelling.code, 2);
    assert.match(cancelling.stderr, /is Available: cancelling its workflow .*--yes/);
    const notWaiting = await rdsflow('approve', ref('guard'));
    assert.equal(notWaiting.code, 1);
    assert.match(notWaiting.stderr, /is not waiting for approval \(phase Available\)/);

    // nothing happened: checked in moto and in the apiserver, not through rdsflow
    await new Promise((r) => setTimeout(r, 1_000));
    const instance = await motoInstance(identifier);
    assert.equal(instance?.DBInstanceStatus, 'available');
    assert.equal(instance?.AllocatedStorage, 20, 'resized by a forged specChanged');
    const still = await getObject(watched.name('guard'));
    assert.equal(still?.status?.phase, 'Available');
    assert.ok(still?.metadata.finalizers?.includes('rdsflow.io/finalizer'));

    // with --yes, a cancel of an Available database leaves its instance and ends Cancelled
    const cancelled = await rdsflow('cancel', ref('guard'), '--yes');
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const after = await waitForPhase(watched.name('guard'), 'Cancelled', 60_000, logs);
    assert.match(after.status?.message ?? '', /nothing to roll back/);
    assert.equal((await motoInstance(identifier))?.DBInstanceStatus, 'available');
  });

  it('says what to do, with exit codes a script can rely on', async () => {
    const missing = await rdsflow('describe', 'default/no-such-database');
    assert.equal(missing.code, 3);
    assert.match(
      missing.stderr,
      /no Database default\/no-such-database: see `kubectl get databases -n default`/,
    );
    const json = await rdsflow('describe', 'default/no-such-database', '--json');
    const parsed = JSON.parse(json.stdout) as { error: string; code: number };
    assert.equal(parsed.code, 3);
    assert.match(parsed.error, /^no Database default\/no-such-database/);

    const ghost = { namespace: 'default', name: 'ghost', uid: uniqueName('uid') };
    const noWorkflow = await rdsflow('approve', await workflowIdOf(ghost));
    assert.equal(noWorkflow.code, 4);
    assert.match(noWorkflow.stderr, /no workflow .* the watcher starts one/);
    // an ID without its cluster (the form before clusters had one) is named as such
    const clusterless = await rdsflow('approve', `database/default/ghost/${ghost.uid}`);
    assert.equal(clusterless.code, 2);
    assert.match(clusterless.stderr, /database\/<namespace>\/<name>\/<uid>@<cluster>/);

    const away = await execFileEnv(
      { TEMPORAL_ADDRESS: '127.0.0.1:1' },
      'describe',
      'database/default/x/y@c',
    );
    assert.equal(away.code, 5);
    assert.match(away.stderr, /Temporal unreachable at 127\.0\.0\.1:1: check TEMPORAL_ADDRESS/);

    const usage = await rdsflow('signal', ref('approve'), 'frobnicate');
    assert.equal(usage.code, 2);
    assert.match(
      usage.stderr,
      /unknown signal "frobnicate": one of approve, retry, delete, specChanged/,
    );
    const help = await rdsflow('history', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: rdsflow history <ref>/);
    // the package's bin (what `npx rdsflow` runs in a checkout) is the same CLI
    const viaBin = await new Promise<Ran>((resolve) =>
      execFile(process.execPath, [packageBin, 'history', '--help'], (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    assert.deepEqual(viaBin, help);
  });
});

const execFileEnv = (env: Record<string, string>, ...args: string[]): Promise<Ran> =>
  rdsflowCli(args, env, 60_000);
