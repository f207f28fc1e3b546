// Smoke: the consul client against the Consul dev agent: KV put/get and service registration.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { consulClient } from '../../config/clients.js';
import { config, eventually, uniqueName } from '../support/env.js';

const consul = consulClient(config.consul);

describe('Consul dev agent', () => {
  after(() => consul.destroy());

  it('has a leader', async () => {
    assert.match(await consul.status.leader(), /^127\.0\.0\.1:\d+$/);
  });

  it('puts and gets a KV entry', async () => {
    const key = `rdsflow-smoke/${uniqueName('kv')}/host`;
    assert.equal(await consul.kv.set(key, 'db.example.internal'), true);
    const got = await consul.kv.get(key);
    assert.equal(got?.Value, 'db.example.internal');
    await consul.kv.del(key);
    assert.equal(await consul.kv.get(key), undefined);
  });

  it('registers a service that the catalog then lists', async () => {
    const name = uniqueName('smoke-db');
    await consul.agent.service.register({
      name,
      id: name,
      address: '10.1.2.3',
      port: 5432,
      tags: ['postgres'],
    });
    const nodes = await eventually('catalog entry', async () => {
      const found = await consul.catalog.service.nodes(name);
      return found.length > 0 ? found : undefined;
    });
    const [node] = nodes as { ServiceAddress: string; ServicePort: number }[];
    assert.equal(node?.ServiceAddress, '10.1.2.3');
    assert.equal(node?.ServicePort, 5432);
    await consul.agent.service.deregister(name);
  });
});
