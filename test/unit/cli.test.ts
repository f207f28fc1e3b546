// The CLI's pure parts: the history timeline (on the committed replay histories), the human
// formats, and argument handling that needs no server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import type { DatabaseObject } from '../../contracts/database.js';
import {
  age,
  describeView,
  duration,
  historyView,
  listView,
  progressLine,
  table,
} from '../../cli/format.js';
import { EXIT, HELP, run, type Io } from '../../cli/main.js';
import { timeline, type RunHistory } from '../../cli/timeline.js';

const histories = fileURLToPath(new URL('../replay/histories/', import.meta.url));
const load = (file: string): RunHistory => ({
  runId: file,
  history: historyFromJSON(JSON.parse(readFileSync(`${histories}${file}`, 'utf8'))),
});

describe('history timeline', () => {
  it('orders runs by start and lists their steps, outcomes and signals', () => {
    const runs = [0, 1, 2, 3, 4].map((i) => load(`provision-modify-delete-${i}.json`));
    const entries = timeline(runs);
    const stages = entries.flatMap((e) => (e.kind === 'run' ? [`${e.stage}:${e.end}`] : []));
    assert.deepEqual(stages, [
      'provision:continued',
      'serve:continued',
      'modify:continued',
      'serve:continued',
      'delete:completed',
    ]);
    const steps = entries.flatMap((e) => (e.kind === 'step' ? [e.step] : []));
    for (const step of [
      'validateSpec',
      'createDbInstance',
      'waitUntilAvailable',
      'modifyDbInstance',
      'deleteDbInstance',
      'releaseFinalizer',
    ]) {
      assert.ok(steps.includes(step), step);
    }
    assert.ok(entries.every((e) => e.kind !== 'step' || e.outcome === 'completed'));
    const signals = entries.flatMap((e) => (e.kind === 'signal' ? [e.name] : []));
    assert.deepEqual(signals, ['specChanged', 'delete']);
  });

  it('lists status writes run as local activities among the steps, in their place', () => {
    const entries = timeline([0, 1, 2, 3, 4].map((i) => load(`provision-modify-delete-${i}.json`)));
    const second = entries.findIndex((e, i) => i > 0 && e.kind === 'run');
    assert.deepEqual(entries[0], { ...entries[0], kind: 'run', stage: 'provision' });
    const steps = entries.slice(1, second).flatMap((e) => (e.kind === 'step' ? [e.step] : []));
    // the provisioning run: its quick steps and three status writes recorded as markers, in
    // their place among the activities (nothing to converge on a just-created instance)
    assert.deepEqual(steps, [
      'validateSpec',
      'ensureFinalizer',
      'reportStatus',
      'ensureMasterPassword',
      'createDbInstance',
      'reportStatus',
      'waitUntilAvailable',
      'writeDbSecret',
      'publishToConsul',
      'reportStatus',
    ]);
    const text = historyView('database/x/y/z', entries);
    assert.match(text, /reportStatus\s+1 attempt/);
  });

  it('shows a bad spec ending the step in failure, with the error', () => {
    const entries = timeline([0, 1].map((i) => load(`bad-spec-then-delete-${i}.json`)));
    const text = historyView('database/x/y/z', entries);
    assert.match(text, /run provision/);
    assert.match(text, /validateSpec\s+1 attempt/);
    assert.match(text, /← signal delete/);
  });
});

describe('CLI formats', () => {
  it('pads tables and renders durations and ages', () => {
    assert.equal(table(['A', 'LONGER'], [['xyz', '1']]), 'A    LONGER\nxyz  1\n');
    assert.equal(duration(42), '42ms');
    assert.equal(duration(1_500), '1.5s');
    assert.equal(duration(61_000), '1m1s');
    assert.equal(duration(undefined), '-');
    const now = Date.parse('2026-11-25T12:00:00Z');
    assert.equal(age('2026-11-25T11:59:30Z', now), '30s');
    assert.equal(age('2026-11-25T09:00:00Z', now), '3h');
  });

  const object = {
    apiVersion: 'rdsflow.io/v1alpha1',
    kind: 'Database',
    metadata: { namespace: 'shop', name: 'orders', uid: 'u-1', generation: 2 },
    spec: { engine: 'postgres', storageGiB: 30, deletionPolicy: 'Snapshot' },
    status: {
      phase: 'Available',
      observedGeneration: 2,
      endpoint: { host: 'db.example', port: 5432 },
      secretRef: { vaultPath: 'secret/rdsflow/shop/orders' },
      consulKey: 'rdsflow/shop/orders',
      message: 'available at db.example:5432',
    },
  } as DatabaseObject;

  it('lists and describes where things are, never a secret', () => {
    const list = listView([object], Date.now());
    assert.match(list, /^NAMESPACE\s+NAME\s+PHASE/);
    assert.match(list, /shop\s+orders\s+Available\s+postgres\s+db\.example:5432/);
    assert.equal(listView([], Date.now()), 'no Databases found\n');
    const text = describeView(object, {
      workflowId: 'database/shop/orders/u-1',
      status: 'RUNNING',
      live: {
        phase: 'Available',
        stage: 'serve',
        step: 'waitForChange',
        attempt: 1,
        message: 'ok',
      },
    });
    assert.match(text, /^phase\s+Available \(generation 2, observed 2\)$/m);
    assert.match(text, /^spec\s+postgres, 30 GiB, deletionPolicy Snapshot$/m);
    assert.match(text, /^vault\s+secret\/rdsflow\/shop\/orders$/m);
    assert.match(text, /^stage\s+serve: waitForChange, attempt 1$/m);
    assert.match(
      describeView(object, undefined),
      /^workflow\s+none yet \(is the watcher running\?\)$/m,
    );
  });

  it("shows a finished deletion's final snapshot with the line that restores it, and a restore's source", () => {
    const gone = describeView(undefined, {
      workflowId: 'database/shop/orders/u-1',
      status: 'COMPLETED',
      result: {
        outcome: 'deleted',
        deletionPolicy: 'Snapshot',
        snapshot: 'shop-orders-x-final-abc',
        instance: 'deleted',
      },
    });
    assert.match(gone, /^outcome\s+deleted \(deletionPolicy Snapshot\)$/m);
    assert.match(gone, /^final snapshot\s+shop-orders-x-final-abc$/m);
    assert.match(gone, /^restore with\s+spec\.source: \{snapshot: shop-orders-x-final-abc\}$/m);
    const kept = describeView(undefined, {
      workflowId: 'database/shop/orders/u-1',
      status: 'COMPLETED',
      result: { outcome: 'deleted', deletionPolicy: 'Delete', instance: 'deleted' },
    });
    assert.doesNotMatch(kept, /snapshot|restore/);
    const restored = describeView(
      {
        ...object,
        status: {
          ...object.status,
          restoredFrom: 'shop-orders-x-final-abc',
          parameters: { group: 'shop-orders-x-postgres16', pendingReboot: ['shared_buffers'] },
        },
      },
      undefined,
    );
    assert.match(restored, /^restored from\s+shop-orders-x-final-abc$/m);
    assert.match(
      restored,
      /^parameters\s+group shop-orders-x-postgres16; waiting for a reboot: shared_buffers$/m,
    );
  });

  it('draws progress along the provisioning story', () => {
    const early = progressLine(
      {
        phase: 'Pending',
        stage: 'provision',
        step: 'validateSpec',
        attempt: 1,
        message: 'validating',
      },
      500,
    );
    assert.match(early, /^\[\.{20}\] Pending/);
    const waiting = progressLine(
      {
        phase: 'Provisioning',
        stage: 'provision',
        step: 'waitUntilAvailable',
        attempt: 3,
        message: 'creating',
      },
      65_000,
    );
    assert.match(
      waiting,
      /^\[#{10,15}\.+\] Provisioning\s+waitUntilAvailable \(attempt 3\)\s+1m5s\s+creating$/,
    );
    const done = progressLine(
      { phase: 'Available', stage: 'serve', step: 'waitForChange', attempt: 1, message: 'ok' },
      1,
    );
    assert.match(done, /^\[#{20}\] Available/);
  });
});

describe('CLI arguments', () => {
  const io = () => {
    let out = '';
    let err = '';
    const value: Io & { text: () => { out: string; err: string } } = {
      out: (t) => (out += t),
      err: (t) => (err += t),
      isTTY: false,
      env: {},
      now: Date.now,
      text: () => ({ out, err }),
    };
    return value;
  };

  it('has --help for every command, exit 0', async () => {
    for (const command of Object.keys(HELP).filter((c) => c !== '')) {
      const i = io();
      assert.equal(await run([command, '--help'], i), EXIT.ok);
      assert.match(i.text().out, new RegExp(`^usage: rdsflow ${command}`));
    }
    const top = io();
    assert.equal(await run(['--help'], top), EXIT.ok);
    assert.match(top.text().out, /exit codes: 0 done/);
  });

  it('refuses bad usage with exit 2 and says why on stderr', async () => {
    const none = io();
    assert.equal(await run([], none), EXIT.usage);
    const unknown = io();
    assert.equal(await run(['frobnicate'], unknown), EXIT.usage);
    assert.match(unknown.text().err, /^unknown command "frobnicate"/);
    const missing = io();
    assert.equal(await run(['describe'], missing), EXIT.usage);
    assert.match(missing.text().err, /^usage: rdsflow describe <ref>/);
    const badRef = io();
    assert.equal(await run(['describe', 'Not A Ref'], badRef), EXIT.usage);
    assert.match(badRef.text().err, /expected <namespace>\/<name> or a workflow ID/);
    const badFlag = io();
    assert.equal(await run(['list', '--frob'], badFlag), EXIT.usage);
    assert.match(badFlag.text().err, /Unknown option '--frob'/);
    const badJson = io();
    assert.equal(await run(['signal', 'database/a/b/c', 'approve', '{nope'], badJson), EXIT.usage);
    assert.match(badJson.text().err, /the signal's argument is not JSON/);
  });
});
