// The keep-alive agents rdsflow's Kubernetes clients share: one per set of TLS settings.
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { describe, it } from 'node:test';
import { AgentPool } from '../../kube/bounded.js';

const tls = { ca: Buffer.from('ca-1'), cert: 'cert-1', key: 'key-1' };

describe('AgentPool', () => {
  it('hands out one keep-alive agent for the same TLS settings', () => {
    const pool = new AgentPool();
    const first = pool.take(new HttpsAgent({ ...tls }));
    const second = pool.take(new HttpsAgent({ ...tls, ca: Buffer.from('ca-1') }));
    assert.ok(first instanceof HttpsAgent);
    assert.equal(first, second);
    assert.equal((first as HttpsAgent & { keepAlive: boolean }).keepAlive, true);
    pool.close();
  });

  it('keeps a separate agent when the certificate changes (a rotated client cert is used)', () => {
    const pool = new AgentPool();
    const before = pool.take(new HttpsAgent({ ...tls }));
    const after = pool.take(new HttpsAgent({ ...tls, cert: 'cert-2' }));
    assert.notEqual(before, after);
    assert.equal((after as HttpsAgent & { options: { cert: string } }).options.cert, 'cert-2');
    pool.close();
  });

  it('closes the oldest of more than four', () => {
    const pool = new AgentPool();
    const agents = [1, 2, 3, 4].map((n) => pool.take(new HttpsAgent({ ...tls, key: `k${n}` })));
    const closed: number[] = [];
    agents.forEach((agent, i) => {
      const destroy = agent?.destroy.bind(agent);
      if (agent && destroy) agent.destroy = () => (closed.push(i), destroy());
    });
    const fifth = pool.take(new HttpsAgent({ ...tls, key: 'k5' }));
    assert.deepEqual(closed, [0]);
    assert.equal(pool.take(new HttpsAgent({ ...tls, key: 'k5' })), fifth);
    assert.equal(pool.take(new HttpsAgent({ ...tls, key: 'k2' })), agents[1]);
    assert.notEqual(pool.take(new HttpsAgent({ ...tls, key: 'k1' })), agents[0]);
    pool.close();
  });

  it('leaves agents of other kinds (plain HTTP, a proxy) as they are', () => {
    const pool = new AgentPool();
    const plain = new Agent();
    assert.equal(pool.take(plain), plain);
    assert.equal(pool.take(undefined), undefined);
    pool.close();
  });
});
