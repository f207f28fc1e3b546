// Port choice for the local stack: a busy port is never waited on; another is chosen, and the
// message says who holds the preferred one.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { choosePort, isPortFree } from '../../infra/net.js';

describe('choosePort', () => {
  let holder: Server;
  let busy: number;

  before(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const address = holder.address();
    assert.ok(address && typeof address === 'object');
    busy = address.port;
  });

  after(() => holder.close());

  it('reports a port held by a listener as busy', async () => {
    assert.equal(await isPortFree(busy), false);
  });

  it('keeps a free preferred port', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const preferred = (free.address() as { port: number }).port;
    await new Promise((resolve) => free.close(resolve));
    const taken = new Set<number>();
    assert.deepEqual(await choosePort(preferred, taken), { port: preferred });
    assert.ok(taken.has(preferred));
  });

  it('picks another port, and says why, when the preferred one is held', async () => {
    const { port, note } = await choosePort(busy, new Set());
    assert.notEqual(port, busy);
    assert.equal(await isPortFree(port), true);
    assert.match(note ?? '', new RegExp(`port ${busy} is held by .*; using ${port}`));
    assert.match(note ?? '', /node \(pid \d+\)|another process/);
  });

  it('never hands out the same port twice in one plan', async () => {
    const taken = new Set<number>();
    const first = await choosePort(busy, taken);
    const second = await choosePort(first.port, taken);
    assert.notEqual(first.port, second.port);
  });
});
