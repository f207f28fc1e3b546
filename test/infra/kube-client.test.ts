// rdsflow's Kubernetes clients (kube/bounded.ts over kube/http.ts) against the real apiserver,
// by way of a TCP proxy that counts connections and can fall silent (test/support/kube-proxy.ts;
// TLS runs end to end, the proxy sees bytes only): calls of different APIs share one kept-alive
// connection, and a call or a watch whose server accepts and never answers fails within the
// limit, and a kept connection gone silent is dropped for a new one.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { kubeClientConfig } from '../../config/clients.js';
import { API_GROUP, API_VERSION, PLURAL } from '../../contracts/database.js';
import {
  KubeConnections,
  KubeTimeoutError,
  boundedApiClient,
  boundedWatch,
  type KubeBounds,
} from '../../kube/bounded.js';
import { getDatabase, listDatabases } from '../../kube/databases.js';
import { config, uniqueName } from '../support/env.js';
import { kubeConfigVia, tcpProxy, type TcpProxy } from '../support/kube-proxy.js';

const stack = kubeClientConfig(config.kube);
const LIMIT_MS = 1_000;

/** How long `work` took to fail, and with what. */
async function failure(work: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const t0 = Date.now();
  const error = await work().then(
    () => assert.fail('the call succeeded'),
    (e: unknown) => e,
  );
  return { error, ms: Date.now() - t0 };
}

// a lost deadline would hang a test: fail it instead
describe("rdsflow's Kubernetes clients", { timeout: 15_000 }, () => {
  const proxies: TcpProxy[] = [];
  const connections: KubeConnections[] = [];

  after(async () => {
    for (const c of connections) c.close();
    for (const p of proxies) await p.close();
  });

  async function setUp() {
    const proxy = await tcpProxy(stack.getCurrentCluster()?.server ?? '');
    proxies.push(proxy);
    const shared = new KubeConnections();
    connections.push(shared);
    const timedOut: string[] = [];
    const bounds: KubeBounds = {
      timeoutMs: LIMIT_MS,
      onTimeout: (call) => timedOut.push(call),
      connections: shared,
    };
    const kc = kubeConfigVia(stack, proxy.url);
    return {
      proxy,
      kc,
      bounds,
      timedOut,
      objects: boundedApiClient(kc, CustomObjectsApi, bounds),
      core: boundedApiClient(kc, CoreV1Api, bounds),
    };
  }

  it('makes calls of different APIs over one kept-alive connection', async () => {
    const { proxy, objects, core } = await setUp();
    for (let i = 0; i < 5; i++) await listDatabases(objects, 'default', 'rdsflow.io/none=1');
    assert.equal(await getDatabase(objects, 'default', uniqueName('absent')), undefined);
    await core.readNamespace({ name: 'kube-system' });
    await core.listNamespacedEvent({ namespace: 'default', limit: 1 });
    assert.equal(proxy.accepted(), 1, 'eight calls, one TCP connection');
  });

  it('fails a call the server accepts and never answers within the limit, and counts it', async () => {
    const { proxy, objects, timedOut } = await setUp();
    proxy.silence();
    const { error, ms } = await failure(() => listDatabases(objects, undefined));
    assert.ok(error instanceof KubeTimeoutError, String(error));
    assert.match(error.message, /^Kubernetes list databases: no answer within 1s$/);
    assert.ok(ms >= LIMIT_MS - 50 && ms < LIMIT_MS + 1_500, `failed after ${ms} ms`);
    assert.deepEqual(timedOut, ['list databases']);
  });

  it('drops a kept connection gone silent: the call fails in time, the next opens another', async () => {
    const { proxy, objects, core, timedOut } = await setUp();
    await core.readNamespace({ name: 'kube-system' });
    assert.equal(proxy.accepted(), 1);
    proxy.silence(); // the kept connection stops forwarding, without a close or a reset
    proxy.resume(); // while new connections get through
    const { error, ms } = await failure(() =>
      objects.patchNamespacedCustomObjectStatus({
        group: API_GROUP,
        version: API_VERSION,
        plural: PLURAL,
        namespace: 'default',
        name: uniqueName('absent'),
        body: {},
      }),
    );
    assert.ok(error instanceof KubeTimeoutError, String(error));
    assert.ok(ms < LIMIT_MS + 1_500, `failed after ${ms} ms`);
    assert.deepEqual(timedOut, ['patch databases/status']);
    const read = await core.readNamespace({ name: 'kube-system' });
    assert.equal(read.metadata?.name, 'kube-system');
    assert.equal(proxy.accepted(), 2, 'the silent connection was not taken again');
  });

  it('fails a watch whose server never sends its response headers within the limit', async () => {
    const { proxy, kc, bounds, timedOut } = await setUp();
    proxy.silence();
    const t0 = Date.now();
    const ended = await new Promise<unknown>((resolve) => {
      void boundedWatch(kc, bounds).watch(
        `/apis/${API_GROUP}/${API_VERSION}/${PLURAL}`,
        { resourceVersion: '0' },
        () => undefined,
        resolve,
        new AbortController().signal,
      );
    });
    const ms = Date.now() - t0;
    assert.ok(ended instanceof KubeTimeoutError, String(ended));
    assert.ok(ms >= LIMIT_MS - 50 && ms < LIMIT_MS + 1_500, `failed after ${ms} ms`);
    assert.deepEqual(timedOut, ['watch databases']);
  });

  it('ends a watch the apiserver refuses with its HTTP status, not as a timeout', async () => {
    const { kc, bounds, timedOut } = await setUp();
    const ended = await new Promise<unknown>((resolve) => {
      void boundedWatch(kc, bounds).watch(
        `/apis/${API_GROUP}/v9/${PLURAL}`, // a version not served
        {},
        () => undefined,
        resolve,
        new AbortController().signal,
      );
    });
    assert.equal((ended as { statusCode?: number }).statusCode, 404, String(ended));
    assert.deepEqual(timedOut, []);
  });
});
