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
    assert.deepEqual(config.kube, { timeoutMs: 10_000 });
    assert.deepEqual(config.aws, { region: 'us-east-1' });
    assert.deepEqual(config.consul, { host: '127.0.0.1', port: 8500, secure: false });
  });

  it('treats a variable set to the empty string as unset', () => {
    const config = loadConfig(
      {
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_RDS: '',
        RDSFLOW_WATCH_SELECTOR: '',
        RDSFLOW_KUBE_TIMEOUT: '',
      },
      ['aws', 'watcher', 'kube'],
    );
    assert.deepEqual(config.aws, { region: 'us-east-1' });
    assert.equal(config.watcher.labelSelector, undefined);
    assert.equal(config.kube.timeoutMs, 10_000);
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
    const { worker, process } = loadConfig(
      {
        RDSFLOW_POLL_INTERVAL: '250ms',
        RDSFLOW_POLL_WINDOW: '5m',
        RDSFLOW_HTTP_ADDR: '127.0.0.1:0',
      },
      ['worker', 'process'],
    );
    assert.equal(worker.pollIntervalMs, 250);
    assert.equal(worker.pollWindowMs, 300_000);
    assert.deepEqual([process.httpHost, process.httpPort], ['127.0.0.1', 0]);
    assert.equal(loadConfig({}, ['process']).process.httpHost, '0.0.0.0');
    assert.throws(
      () => loadConfig({ RDSFLOW_POLL_INTERVAL: '5m' }, ['worker']),
      /RDSFLOW_POLL_INTERVAL: must be more than 0 and at most 1 minutes/,
    );
    assert.equal(loadConfig({ RDSFLOW_KUBE_TIMEOUT: '3s' }, ['kube']).kube.timeoutMs, 3_000);
    assert.throws(
      () => loadConfig({ RDSFLOW_KUBE_TIMEOUT: 'soon' }, ['kube']),
      /RDSFLOW_KUBE_TIMEOUT: must be a duration like 250ms, 15s or 5m/,
    );
    assert.throws(
      () => loadConfig({ RDSFLOW_POLL_WINDOW: 'soon' }, ['worker']),
      /RDSFLOW_POLL_WINDOW: must be a duration/,
    );
    // the workflow cache: the SDK's own sizing unless given, a whole positive number if given
    assert.equal(worker.cachedWorkflows, undefined);
    assert.equal(
      loadConfig({ RDSFLOW_WORKER_CACHED_WORKFLOWS: '300' }, ['worker']).worker.cachedWorkflows,
      300,
    );
    assert.throws(
      () => loadConfig({ RDSFLOW_WORKER_CACHED_WORKFLOWS: '0' }, ['worker']),
      /RDSFLOW_WORKER_CACHED_WORKFLOWS: must be between 1 and 100000/,
    );
  });

  it('turns TLS on for a production Temporal: mTLS files, or an API key', () => {
    assert.equal(loadConfig({}, ['temporal']).temporal.tls, undefined);
    const mtls = loadConfig(
      {
        TEMPORAL_TLS_CERT: '/etc/temporal/tls.crt',
        TEMPORAL_TLS_KEY: '/etc/temporal/tls.key',
        TEMPORAL_TLS_CA: '/etc/temporal/ca.crt',
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      },
      ['temporal'],
    ).temporal;
    assert.deepEqual(mtls.tls, {
      caFile: '/etc/temporal/ca.crt',
      certFile: '/etc/temporal/tls.crt',
      keyFile: '/etc/temporal/tls.key',
      serverName: 'temporal.internal',
    });
    const cloud = loadConfig({ TEMPORAL_API_KEY: 'k' }, ['temporal']).temporal;
    assert.deepEqual(cloud.tls, {});
    assert.equal(cloud.apiKey, 'k');
    assert.deepEqual(loadConfig({ TEMPORAL_TLS: 'true' }, ['temporal']).temporal.tls, {});
    assert.throws(
      () => loadConfig({ TEMPORAL_TLS_CERT: '/x.crt' }, ['temporal']),
      /TEMPORAL_TLS_CERT: set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/,
    );
    // the key never appears in an error message
    assert.throws(
      () => loadConfig({ TEMPORAL_API_KEY: 'sekret', TEMPORAL_TLS: 'maybe' }, ['temporal']),
      (error: Error) =>
        /TEMPORAL_TLS: must be true or false/.test(error.message) &&
        !error.message.includes('sekret'),
    );
  });

  it('parses the watcher scope and names the variable of a bad value', () => {
    const { watcher } = loadConfig(
      {
        RDSFLOW_WATCH_NAMESPACES: ' shop, billing ,',
        RDSFLOW_WATCH_SELECTOR: 'team=shop,tier!=dev',
        RDSFLOW_WATCHER_CONCURRENCY: '4',
        RDSFLOW_LEADER_ELECTION: 'true',
      },
      ['watcher'],
    );
    assert.deepEqual(watcher.namespaces, ['shop', 'billing']);
    assert.equal(watcher.labelSelector, 'team=shop,tier!=dev');
    assert.equal(watcher.concurrency, 4);
    assert.equal(watcher.leaderElection, true);
    const defaults = loadConfig({}, ['watcher']).watcher;
    assert.deepEqual(defaults.namespaces, []);
    assert.equal(defaults.leaderElection, false);
    assert.equal(defaults.labelSelector, undefined);
    assert.throws(
      () => loadConfig({ RDSFLOW_WATCH_NAMESPACES: 'shop,Bad_NS' }, ['watcher']),
      /RDSFLOW_WATCH_NAMESPACES: must be a comma-separated list of namespace names/,
    );
    assert.throws(
      () =>
        loadConfig({ RDSFLOW_WATCHER_CONCURRENCY: '0', RDSFLOW_LEADER_ELECTION: 'yes' }, [
          'watcher',
        ]),
      (error: Error) =>
        /RDSFLOW_WATCHER_CONCURRENCY: must be between 1 and 256/.test(error.message) &&
        /RDSFLOW_LEADER_ELECTION: must be true or false/.test(error.message),
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
