// The journaling fronts of Vault and Consul (infra/vault-front.ts, infra/consul-front.ts), each
// started here before the stack's real OpenBao and Consul, with rdsflow's own activities calling
// through them on clients wired as the worker wires its own (worker/attribution.ts): every write
// and removal under rdsflow/ is journaled with its owner just before, read from the server, and
// the workflow run that made it; reads are only forwarded; every password written is in the
// ledger as a SHA-256 that the history scan finds in text. What is really there is read from
// OpenBao and Consul themselves.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createConsulActivities } from '../../activities/consul.js';
import { createVaultActivities } from '../../activities/vault.js';
import { consulClient, vaultClient } from '../../config/clients.js';
import { resolveDatabase, type ResolvedDatabase } from '../../contracts/spec.js';
import { startConsulFront, type ConsulFront } from '../../infra/consul-front.js';
import { startVaultFront, type VaultFront } from '../../infra/vault-front.js';
import { attributeConsulCalls, attributeVaultCalls } from '../../worker/attribution.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { config, uniqueName } from '../support/env.js';
import { findPasswords, sha256 } from '../support/history-scan.js';

function database(uid = randomUUID()): ResolvedDatabase {
  const result = resolveDatabase({
    metadata: { namespace: 'fronts', name: uniqueName('front'), uid, generation: 1 },
    spec: { engine: 'postgres' },
  });
  assert.ok(result.ok);
  return result.database;
}

const execution = () => ({ workflowId: `database/fronts/x/${randomUUID()}`, runId: randomUUID() });

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Runs an activity function as the named activity of the given workflow run. */
function runIn<A extends unknown[], R>(
  workflowExecution: { workflowId: string; runId: string },
  fn: ((...args: A) => Promise<R>) & { name: string },
  ...args: A
): Promise<R> {
  const info = { attempt: 1, workflowExecution, activityType: fn.name };
  return new MockActivityEnvironment(info, { logger: quiet }).run(fn, ...args);
}
const endpoint = { host: 'db.internal.example', port: 5432 };

// what is really there: the servers themselves
const vault = vaultClient(config.vault);
const consul = consulClient(config.consul);

describe('the Vault front', () => {
  let front: VaultFront;
  let activities: ReturnType<typeof createVaultActivities>;

  before(async () => {
    front = await startVaultFront({ target: config.vault.address, token: config.vault.token });
    const client = vaultClient({ address: front.url, token: config.vault.token });
    attributeVaultCalls(client);
    activities = createVaultActivities({ vault: client, mount: 'secret' });
  });
  after(() => front.close());

  it('journals each write with the owner before it and the run that made it', async () => {
    const db = database();
    const run = execution();
    await runIn(run, activities.ensureMasterPassword, db);
    const [mark, data] = front.journal().filter((e) => e.path === db.vaultPath);
    assert.ok(mark && data, JSON.stringify(front.journal()));
    assert.deepEqual(
      [mark.endpoint, mark.effect, mark.before, mark.marks?.owner, mark.outcome],
      ['metadata', 'write', { exists: false, version: 0, live: false }, db.ref.uid, 'ok'],
    );
    assert.equal(mark.workflowId, run.workflowId);
    assert.equal(mark.runId, run.runId);
    assert.equal(mark.activity, 'ensureMasterPassword');
    // the owner went on first: the data write met it
    assert.deepEqual(
      [data.endpoint, data.password, 'owner' in data.before && data.before.owner],
      ['data', true, db.ref.uid],
    );
  });

  it('keeps a SHA-256 of every password written, which the history scan finds', async () => {
    const db = database();
    await runIn(execution(), activities.ensureMasterPassword, db);
    const secret = (await vault.read(`secret/data/${db.vaultPath}`)) as {
      data: { data: { password: string } };
    };
    const password = secret.data.data.password;
    const record = front.passwords().find((p) => p.path === db.vaultPath);
    assert.deepEqual(
      [record?.sha256, record?.length],
      [sha256(password), password.length],
      'the ledger records the hash of the password OpenBao holds',
    );
    assert.ok(!JSON.stringify(front.passwords()).includes(password), 'the ledger holds it plain');
    // the password as activities/vault.ts makes it, inside text such as a connection URL
    const text = `{"url":"postgresql://app:${password}@${endpoint.host}:5432/app"}`;
    const wanted = [{ sha256: record?.sha256 ?? '', length: record?.length ?? 0 }];
    assert.equal(findPasswords([text], wanted).found.size, 1);
  });

  it('journals a removal with the owner it met, and another owner as it was', async () => {
    const db = database();
    await runIn(execution(), activities.ensureMasterPassword, db);
    await runIn(execution(), activities.deleteDbSecret, db);
    const removal = front.journal().find((e) => e.path === db.vaultPath && e.effect === 'remove');
    assert.ok(removal && 'owner' in removal.before);
    assert.deepEqual(
      [removal.endpoint, removal.method, removal.before.owner, removal.before.live],
      ['metadata', 'DELETE', db.ref.uid, true],
    );
    // a secret someone else wrote, straight to OpenBao: a removal through the front shows it
    const other = database();
    await vault.write(`secret/metadata/${other.vaultPath}`, {
      custom_metadata: { 'rdsflow-uid': 'someone-else' },
    });
    const unattributed = vaultClient({ address: front.url, token: config.vault.token });
    await unattributed.delete(`secret/metadata/${other.vaultPath}`);
    const theirs = front.journal().find((e) => e.path === other.vaultPath);
    assert.ok(theirs && 'owner' in theirs.before);
    assert.equal(theirs.before.owner, 'someone-else');
    assert.equal(theirs.workflowId, undefined);
  });

  it('only forwards reads, with the server answer as it is', async () => {
    const db = database();
    await vault.write(`secret/data/${db.vaultPath}`, { data: { engine: 'postgres' } });
    const count = front.journal().length;
    const path = `/v1/secret/data/${db.vaultPath}`;
    const headers = { 'x-vault-token': config.vault.token };
    const [direct, through] = await Promise.all(
      [config.vault.address, front.url].map(async (base) => {
        const response = await fetch(`${base}${path}`, { headers });
        const body = (await response.json()) as { data: unknown };
        return [response.status, body.data];
      }),
    );
    assert.deepEqual(through, direct);
    assert.equal(front.journal().length, count);
  });
});

describe('the Consul front', () => {
  let front: ConsulFront;
  let activities: ReturnType<typeof createConsulActivities>;
  let client: ReturnType<typeof consulClient>;

  before(async () => {
    const target = `http://${config.consul.host}:${config.consul.port}`;
    front = await startConsulFront({ target });
    const url = new URL(front.url);
    client = consulClient({ host: url.hostname, port: Number(url.port), secure: false });
    attributeConsulCalls(client);
    activities = createConsulActivities({ consul: client });
  });
  after(async () => {
    client.destroy();
    consul.destroy();
    await front.close();
  });

  it('journals a publication with the folder and node as they were', async () => {
    const db = database();
    const run = execution();
    await runIn(run, activities.publishToConsul, db, endpoint);
    const mine = front.journal().filter((e) => e.runId === run.runId);
    const first = mine[0];
    assert.ok(first);
    assert.deepEqual(first.ops, [{ kind: 'kv-set', key: `${db.consulKey}/rdsflow-uid` }]);
    assert.deepEqual(first.folders, { [db.consulKey]: { keys: 0 } });
    assert.equal(first.activity, 'publishToConsul');
    // every later key met the owner key the first call wrote
    assert.ok(mine.slice(1, -1).every((e) => e.folders[db.consulKey]?.owner === db.ref.uid));
    const register = mine.at(-1);
    assert.deepEqual(register?.ops, [
      {
        kind: 'catalog-register',
        node: db.dbInstanceIdentifier,
        serviceId: db.dbInstanceIdentifier,
      },
    ]);
    assert.deepEqual(register?.nodes[db.dbInstanceIdentifier], { exists: false, services: [] });
  });

  it('journals a removal transaction and the deregistration with the owner they met', async () => {
    const db = database();
    await runIn(execution(), activities.publishToConsul, db, endpoint);
    const run = execution();
    await runIn(run, activities.removeFromConsul, db);
    const [txn, deregister] = front.journal().filter((e) => e.runId === run.runId);
    assert.equal(txn?.call, 'txn');
    assert.deepEqual(txn.ops, [{ kind: 'kv-delete-tree', key: `${db.consulKey}/` }]);
    assert.deepEqual(txn.folders[db.consulKey], { owner: db.ref.uid, keys: 5 });
    assert.deepEqual(deregister?.nodes[db.dbInstanceIdentifier]?.services, [
      {
        id: db.dbInstanceIdentifier,
        uid: db.ref.uid,
        namespace: db.ref.namespace,
        name: db.ref.name,
      },
    ]);
    // and it is gone from Consul itself
    assert.equal(await consul.kv.get(`${db.consulKey}/rdsflow-uid`), undefined);
  });

  it('only forwards reads', async () => {
    const count = front.journal().length;
    await client.kv.get({ key: 'rdsflow/', recurse: true });
    await client.catalog.node.list();
    assert.equal(front.journal().length, count);
  });
});
