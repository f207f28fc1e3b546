// Smoke: node-vault against the OpenBao dev server: KV v2 at secret/ writes, versions and reads.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { vaultClient } from '../../config/clients.js';
import { config, uniqueName } from '../support/env.js';

const vault = vaultClient(config.vault);

describe('OpenBao (Vault API) dev server', () => {
  it('is unsealed and answers with the configured token', async () => {
    const health = (await vault.health()) as { initialized: boolean; sealed: boolean };
    assert.equal(health.initialized, true);
    assert.equal(health.sealed, false);
  });

  it('writes and reads a KV v2 secret at secret/, keeping versions', async () => {
    const path = `secret/data/rdsflow-smoke/${uniqueName('kv')}`;
    const password = randomBytes(16).toString('hex');
    const first = (await vault.write(path, { data: { username: 'app', password } })) as {
      data: { version: number };
    };
    assert.equal(first.data.version, 1);
    await vault.write(path, { data: { username: 'app', password: `${password}-2` } });

    const read = (await vault.read(path)) as {
      data: { data: Record<string, string>; metadata: { version: number } };
    };
    assert.deepEqual(read.data.data, { username: 'app', password: `${password}-2` });
    assert.equal(read.data.metadata.version, 2);

    await vault.delete(path.replace('/data/', '/metadata/'));
    await assert.rejects(
      vault.read(path),
      (e: unknown) => (e as { response?: { statusCode?: number } }).response?.statusCode === 404,
    );
  });
});
