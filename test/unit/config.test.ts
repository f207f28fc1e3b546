// The one config schema: defaults, shapes, and errors that name the variable (never a secret).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../config/config.js';

const full = {
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  AWS_REGION: 'eu-west-1',
  VAULT_ADDR: 'http://127.0.0.1:8200/',
  VAULT_TOKEN: randomBytes(8).toString('hex'),
  CONSUL_HTTP_ADDR: '127.0.0.1:8500',
};

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ AWS_REGION: 'us-east-1' }, ['temporal', 'kube', 'aws', 'consul']);
    assert.deepEqual(config.temporal, {
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'rdsflow',
    });
    assert.deepEqual(config.kube, {});
    assert.deepEqual(config.aws, { region: 'us-east-1' });
    assert.deepEqual(config.consul, { host: '127.0.0.1', port: 8500, secure: false });
  });

  it('shapes each section for the clients', () => {
    const consulToken = randomBytes(8).toString('hex');
    const config = loadConfig(
      {
        ...full,
        KUBECONFIG: '/tmp/kc',
        AWS_ENDPOINT_URL_RDS: 'http://127.0.0.1:5000',
        CONSUL_HTTP_ADDR: 'https://consul.internal',
        CONSUL_HTTP_TOKEN: consulToken,
      },
      ['temporal', 'kube', 'aws', 'vault', 'consul'],
    );
    assert.equal(config.kube.kubeconfigPath, '/tmp/kc');
    assert.equal(config.aws.rdsEndpoint, 'http://127.0.0.1:5000');
    assert.equal(config.vault.address, 'http://127.0.0.1:8200');
    assert.deepEqual(config.consul, {
      host: 'consul.internal',
      port: 443,
      secure: true,
      token: consulToken,
    });
  });

  it('parses worker durations and bounds the poll interval by the heartbeat timeout', () => {
    const worker = loadConfig(
      {
        RDSFLOW_POLL_INTERVAL: '250ms',
        RDSFLOW_POLL_WINDOW: '5m',
        RDSFLOW_HTTP_ADDR: '127.0.0.1:0',
      },
      ['worker'],
    ).worker;
    assert.equal(worker.pollIntervalMs, 250);
    assert.equal(worker.pollWindowMs, 300_000);
    assert.deepEqual([worker.httpHost, worker.httpPort], ['127.0.0.1', 0]);
    assert.equal(loadConfig({}, ['worker']).worker.httpHost, '0.0.0.0');
    assert.throws(
      () => loadConfig({ RDSFLOW_POLL_INTERVAL: '5m' }, ['worker']),
      /RDSFLOW_POLL_INTERVAL: must be more than 0 and at most 1 minutes/,
    );
    assert.throws(
      () => loadConfig({ RDSFLOW_POLL_WINDOW: 'soon' }, ['worker']),
      /RDSFLOW_POLL_WINDOW: must be a duration/,
    );
  });

  it('reads only the sections a process asks for', () => {
    const config = loadConfig({}, ['temporal']);
    assert.deepEqual(Object.keys(config), ['temporal']);
  });

  it('names every bad variable at once, without echoing secret values', () => {
    const secret = randomBytes(12).toString('hex');
    assert.throws(
      () =>
        loadConfig(
          {
            TEMPORAL_ADDRESS: 'no-port',
            AWS_REGION: 'mars',
            VAULT_ADDR: 'ftp://x',
            VAULT_TOKEN: '',
            CONSUL_HTTP_TOKEN: secret,
            CONSUL_HTTP_ADDR: 'a b',
          },
          ['temporal', 'aws', 'vault', 'consul'],
        ),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        for (const variable of [
          'TEMPORAL_ADDRESS',
          'AWS_REGION',
          'VAULT_ADDR',
          'VAULT_TOKEN',
          'CONSUL_HTTP_ADDR',
        ]) {
          assert.match(error.message, new RegExp(`${variable}: `), `${variable} not named`);
        }
        assert.doesNotMatch(error.message, new RegExp(secret));
        return true;
      },
    );
  });

  it('requires Vault and AWS settings when a process needs them', () => {
    assert.throws(
      () => loadConfig({}, ['vault', 'aws']),
      /VAULT_ADDR[\s\S]*VAULT_TOKEN[\s\S]*AWS_REGION|AWS_REGION/,
    );
  });
});
