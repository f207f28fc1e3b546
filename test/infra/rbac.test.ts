// deploy/rbac is least privilege: through the service-account kubeconfigs of the local stack,
// each role may do exactly what its process needs (the watcher and e2e tests prove it is
// enough) and nothing beyond it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { tools } from '../support/env.js';

const run = promisify(execFile);

async function can(role: 'watcher' | 'worker', ...args: string[]): Promise<boolean> {
  const kubeconfig = process.env[`RDSFLOW_${role.toUpperCase()}_KUBECONFIG`];
  assert.ok(kubeconfig, `no kubeconfig for the ${role}: is the stack up?`);
  try {
    const { stdout } = await run(tools.kubectl, [
      '--kubeconfig',
      kubeconfig,
      'auth',
      'can-i',
      ...args,
    ]);
    return stdout.trim() === 'yes';
  } catch (error: unknown) {
    // `can-i` exits 1 with "no"
    if ((error as { stdout?: string }).stdout?.trim() === 'no') return false;
    throw error;
  }
}

const DB = 'databases.rdsflow.io';
const CLASS = 'databaseclasses.rdsflow.io';

describe('deploy/rbac', () => {
  it('lets the watcher watch, guard and report on Databases, record Events and hold its Lease', async () => {
    for (const verb of ['list', 'watch', 'get', 'patch']) {
      assert.ok(await can('watcher', verb, DB, '--all-namespaces'), `watcher ${verb}`);
    }
    assert.ok(await can('watcher', 'patch', `${DB}/status`, '-n', 'shop'));
    assert.ok(await can('watcher', 'create', 'events', '-n', 'shop'));
    assert.ok(await can('watcher', 'update', 'leases.coordination.k8s.io', '-n', 'rdsflow-system'));
  });

  it('denies the watcher what it does not need', async () => {
    assert.equal(await can('watcher', 'delete', DB, '-n', 'shop'), false);
    assert.equal(await can('watcher', 'create', DB, '-n', 'shop'), false);
    assert.equal(await can('watcher', 'update', DB, '-n', 'shop'), false);
    assert.equal(await can('watcher', 'get', 'secrets', '-n', 'shop'), false);
    assert.equal(await can('watcher', 'update', 'leases.coordination.k8s.io', '-n', 'shop'), false);
    assert.equal(await can('watcher', 'delete', 'events', '-n', 'shop'), false);
  });

  it('lets the worker read one Database, move its finalizer, write its status and Events, nothing more', async () => {
    assert.ok(await can('worker', 'get', DB, '-n', 'shop'));
    assert.ok(await can('worker', 'patch', DB, '-n', 'shop'));
    assert.ok(await can('worker', 'patch', `${DB}/status`, '-n', 'shop'));
    assert.equal(await can('worker', 'list', DB, '--all-namespaces'), false);
    assert.equal(await can('worker', 'watch', DB, '-n', 'shop'), false);
    assert.equal(await can('worker', 'delete', DB, '-n', 'shop'), false);
    assert.equal(await can('worker', 'get', 'secrets', '-n', 'shop'), false);
    assert.ok(await can('worker', 'create', 'events', '-n', 'shop'));
    assert.equal(await can('worker', 'delete', 'events', '-n', 'shop'), false);
  });

  it('lets the worker read DatabaseClasses, and a Secret in its own namespace only', async () => {
    for (const verb of ['get', 'list', 'watch']) {
      assert.ok(await can('worker', verb, CLASS), `worker ${verb} databaseclasses`);
    }
    assert.equal(await can('worker', 'create', CLASS), false);
    assert.equal(await can('worker', 'update', CLASS), false);
    assert.equal(await can('worker', 'delete', CLASS), false);
    assert.ok(await can('worker', 'get', 'secrets', '-n', 'rdsflow-system'));
    // a class names a Secret by name only, read in the worker's namespace: no other is reachable
    for (const namespace of ['shop', 'default', 'kube-system']) {
      assert.equal(await can('worker', 'get', 'secrets', '-n', namespace), false, namespace);
    }
    assert.equal(await can('worker', 'get', 'secrets', '--all-namespaces'), false);
    assert.equal(await can('worker', 'list', 'secrets', '-n', 'rdsflow-system'), false);
    assert.equal(await can('worker', 'watch', 'secrets', '-n', 'rdsflow-system'), false);
    assert.equal(await can('worker', 'update', 'secrets', '-n', 'rdsflow-system'), false);
  });

  it('gives the watcher nothing of DatabaseClasses or Secrets', async () => {
    assert.equal(await can('watcher', 'get', CLASS), false);
    assert.equal(await can('watcher', 'get', 'secrets', '-n', 'rdsflow-system'), false);
  });
});
