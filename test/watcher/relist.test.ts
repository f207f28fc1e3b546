// A relist reports vanished objects only from one complete, consistent list. Against the real
// apiserver, listing in small pages: a continue token that expires between pages (the apiserver
// compacts etcd every few seconds in the local stack) restarts the whole list, on the first
// list and on a relist, and a stop between pages reports nothing at all.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { connectTemporal, kubeClientConfig } from '../../config/clients.js';
import { API_GROUP, API_VERSION, PLURAL } from '../../contracts/database.js';
import { boundedApiClient, boundedWatch } from '../../kube/bounded.js';
import type { Observation } from '../../watcher/decide.js';
import { ListWatch, kubeSource, type WatchSource } from '../../watcher/list-watch.js';
import { config, eventually } from '../support/env.js';
import { Watched } from '../support/watched.js';

const kc = kubeClientConfig(config.kube);
const api = boundedApiClient(kc, CustomObjectsApi, config.kube);
const PAGE = 2;
const OBJECTS = 7;

/** Waits until the apiserver refuses this continue token as too old (410). */
async function expired(selector: string, token: string): Promise<void> {
  await eventually(
    'the continue token to expire',
    async () => {
      try {
        await api.listClusterCustomObject({
          group: API_GROUP,
          version: API_VERSION,
          plural: PLURAL,
          labelSelector: selector,
          limit: PAGE,
          _continue: token,
        });
        return undefined;
      } catch (error: unknown) {
        if (error instanceof ApiException && error.code === 410) return true;
        throw error;
      }
    },
    60_000,
  );
}

interface Recorder {
  readonly observed: { type: string; uid: string; kind: Observation['kind'] }[];
  readonly notes: string[];
  listedCount?: number;
}

function recorder(): Recorder & { hooks: ConstructorParameters<typeof ListWatch>[1] } {
  const r: Recorder = { observed: [], notes: [] };
  return Object.assign(r, {
    hooks: {
      observe: (o: Observation, _at: number, type: string) => {
        const uid = 'ref' in o ? o.ref.uid : o.object.metadata.uid;
        r.observed.push({ type, uid, kind: o.kind });
        return Promise.resolve();
      },
      malformed: () => undefined,
      listed: (count: number) => {
        r.listedCount = count;
      },
      note: (event: string) => {
        r.notes.push(event);
      },
    },
  });
}

describe('a paged relist', () => {
  let client: Client;
  let watched: Watched;
  let uids: string[];

  before(async () => {
    client = await connectTemporal(config.temporal);
    watched = await Watched.create(client);
    const objects = await Promise.all(
      Array.from({ length: OBJECTS }, (_, i) => watched.create(`p${i}`)),
    );
    uids = objects.map((o) => o.metadata.uid).sort();
  });

  after(async () => {
    await watched.cleanup();
    await client.connection.close();
  });

  /**
   * The real source, listing in pages of two; `afterPage` runs once the given page of the given
   * list (1-based) has been answered, before the next page is asked for.
   */
  function source(afterPage: (list: number, page: number, token?: string) => Promise<void>) {
    const real = kubeSource({
      watcher: boundedWatch(kc, { timeoutMs: 5_000 }),
      api,
      labelSelector: watched.selector,
      pageSize: PAGE,
    });
    let lists = 0;
    let pages = 0;
    let watches = 0;
    const wrapped: WatchSource & { watches: () => number } = {
      scope: real.scope,
      watches: () => watches,
      async list(token, unpaged) {
        if (!token) {
          lists++;
          pages = 0;
        }
        const page = await real.list(token, unpaged);
        pages++;
        await afterPage(lists, pages, page.continueToken);
        return page;
      },
      // the first watch ends as a watch does on 410 Gone: the next step is a relist
      watch(version, onEvent, signal) {
        watches++;
        return watches === 1 ? Promise.resolve('expired') : real.watch(version, onEvent, signal);
      },
    };
    return wrapped;
  }

  it('starts over when the continue token expires between pages, on the first list and on a relist', async () => {
    const r = recorder();
    const stop = new AbortController();
    const lw = new ListWatch(
      source(async (list, page, token) => {
        // the first page of each of the first two lists: wait until its token is too old
        if (page === 1 && token && (list === 1 || list === 3)) {
          await expired(watched.selector, token);
        }
      }),
      r.hooks,
    );
    const running = lw.run(stop.signal);
    await eventually(
      'the first list, then a relist',
      () => (r.notes.filter((n) => n === 'relist').length >= 2 ? true : undefined),
      120_000,
    );
    stop.abort();
    await running;
    assert.equal(r.listedCount, OBJECTS, 'the first list lost objects');
    assert.equal(r.notes.filter((n) => n === 'relist-restarted').length, 2, r.notes.join(','));
    const listed = r.observed.filter((o) => o.type === 'LISTED');
    assert.deepEqual([...new Set(listed.map((o) => o.uid))].sort(), uids);
    assert.equal(listed.length, OBJECTS * 2, 'each of the two lists reports every object once');
    assert.deepEqual(
      r.observed.filter((o) => o.kind === 'gone'),
      [],
      'an object was reported gone that is there',
    );
  });

  it('a watch the server ends (its timeout) is watched again from where it was, no crash, no relist', async () => {
    const r = recorder();
    const stop = new AbortController();
    let watches = 0;
    const real = kubeSource({
      watcher: boundedWatch(kc, { timeoutMs: 5_000 }),
      api,
      labelSelector: watched.selector,
      pageSize: PAGE,
      // the apiserver ends each watch after two seconds instead of five minutes
      watchTimeoutSeconds: 2,
    });
    const lw = new ListWatch(
      { ...real, watch: (...args) => (watches++, real.watch(...args)) },
      r.hooks,
    );
    const running = lw.run(stop.signal);
    try {
      await eventually('three watches, each ended by the server', () =>
        watches >= 3 ? true : undefined,
      );
      const late = await watched.create('late');
      await eventually('the object created after those watches ended to be observed', () =>
        r.observed.some((o) => o.uid === late.metadata.uid && o.type === 'ADDED')
          ? true
          : undefined,
      );
      assert.deepEqual(
        r.notes.filter((n) => n === 'relist' || n === 'reconnect'),
        ['relist'],
        `one list, and no watch end taken for a failure: ${r.notes.join(',')}`,
      );
      assert.equal(
        r.observed.filter((o) => o.type === 'LISTED').length,
        OBJECTS,
        'listed once: a watch the server ended is no reason to list again',
      );
    } finally {
      stop.abort();
      await running;
      await watched.remove('late');
    }
  });

  it('reports nothing from a relist stopped between pages', async () => {
    const r = recorder();
    const stop = new AbortController();
    const lw = new ListWatch(
      source((list, page) => {
        if (list === 2 && page === 1) stop.abort();
        return Promise.resolve();
      }),
      r.hooks,
    );
    await lw.run(stop.signal);
    assert.equal(r.listedCount, OBJECTS);
    assert.deepEqual(
      r.observed.map((o) => o.type),
      Array.from({ length: OBJECTS }, () => 'LISTED'),
      'the stopped relist reported something',
    );
  });
});
