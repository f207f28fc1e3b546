// A watch connection that dies without saying so (a partition: no close, no reset, no bytes)
// cannot be made with the real apiserver; a loopback server that answers the list and then
// holds every watch open in silence stands in for it. The watcher must give up on the silent
// connection and watch again.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { boundedWatch } from '../../kube/bounded.js';
import { ListWatch, kubeSource } from '../../watcher/list-watch.js';
import { eventually } from '../support/env.js';

describe('a silent watch connection', () => {
  const held: ServerResponse[] = [];
  let watches = 0;
  const server = createServer((req, res) => {
    if (req.url?.includes('watch=true')) {
      watches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      held.push(res); // and never a byte more
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [],
        metadata: { resourceVersion: '7' },
      }),
    );
  });

  after(() => {
    for (const res of held) res.destroy();
    server.close();
  });

  it('is given up after the idle limit and watched again', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const notes: string[] = [];
    const stop = new AbortController();
    const listWatch = new ListWatch(
      kubeSource({
        watcher: boundedWatch(kc, { timeoutMs: 5_000 }),
        api: kc.makeApiClient(CustomObjectsApi),
        idleMs: 300,
      }),
      {
        observe: () => Promise.resolve(),
        malformed: () => undefined,
        listed: () => undefined,
        note: (event, detail) => notes.push(`${event} ${JSON.stringify(detail?.['error'] ?? '')}`),
      },
    );
    const running = listWatch.run(stop.signal);
    await eventually(
      'a second watch after the stall',
      () => (watches >= 2 ? true : undefined),
      10_000,
    );
    stop.abort();
    await running;
    assert.ok(
      notes.some((n) => /^reconnect "watch stalled: nothing for 0\.3s/.test(n)),
      notes.join('\n'),
    );
    assert.equal(notes.filter((n) => n.startsWith('relist')).length, 1, 'resumed, not relisted');
  });
});
