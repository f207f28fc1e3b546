// A watch connection that dies without saying so (a peer gone, a partition: no close, no reset,
// no more bytes) must be given up and watched again. Against the real apiserver, by way of a TCP
// proxy whose open connections then fall silent while new ones get through
// (test/support/kube-proxy.ts): a Database created after the watch went silent arrives through
// a new watch, resumed from where the silent one was (no relist).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { connectTemporal, kubeClientConfig } from '../../config/clients.js';
import { KubeConnections, boundedApiClient, boundedWatch } from '../../kube/bounded.js';
import { ListWatch, kubeSource } from '../../watcher/list-watch.js';
import { config, eventually } from '../support/env.js';
import { kubeConfigVia, tcpProxy, type TcpProxy } from '../support/kube-proxy.js';
import { Watched } from '../support/watched.js';

describe('a silent watch connection', () => {
  let client: Client;
  let watched: Watched;
  let proxy: TcpProxy;
  const connections = new KubeConnections();

  before(async () => {
    client = await connectTemporal(config.temporal);
    watched = await Watched.create(client);
    proxy = await tcpProxy(kubeClientConfig(config.kube).getCurrentCluster()?.server ?? '');
  });

  after(async () => {
    connections.close();
    await proxy.close();
    await watched.cleanup();
    await client.connection.close();
  });

  it('is given up after the idle limit and watched again from where it was', async () => {
    const kc = kubeConfigVia(kubeClientConfig(config.kube), proxy.url);
    const bounds = { timeoutMs: 2_000, connections };
    const notes: string[] = [];
    const added: string[] = [];
    let listed = false;
    const listWatch = new ListWatch(
      kubeSource({
        watcher: boundedWatch(kc, bounds),
        api: boundedApiClient(kc, CustomObjectsApi, bounds),
        labelSelector: watched.selector,
        idleMs: 2_000,
      }),
      {
        observe: (o, _at, type) => {
          if (type === 'ADDED' && o.kind === 'present') added.push(o.object.metadata.name);
          return Promise.resolve();
        },
        malformed: () => undefined,
        listed: () => (listed = true),
        note: (event, detail) => notes.push(`${event} ${JSON.stringify(detail?.['error'] ?? '')}`),
      },
    );
    const stop = new AbortController();
    const running = listWatch.run(stop.signal);
    try {
      await eventually('the first list', () => (listed ? true : undefined));
      await eventually('the watch connected', () => (proxy.accepted() >= 1 ? true : undefined));
      proxy.silence(); // the watch's connection falls silent, for good
      proxy.resume(); // while new connections get through
      const late = await watched.create('late');
      await eventually(
        'the object created meanwhile, through a new watch',
        () => (added.includes(late.metadata.name) ? true : undefined),
        20_000,
      );
    } finally {
      stop.abort();
      await running;
    }
    assert.ok(
      notes.some((n) => /^reconnect "watch stalled: nothing for 2s/.test(n)),
      notes.join('\n'),
    );
    assert.equal(notes.filter((n) => n.startsWith('relist ')).length, 1, 'resumed, not relisted');
  });
});
