// Every Kubernetes call is bounded (RDSFLOW_KUBE_TIMEOUT): a list, a watch or a Lease renewal
// whose server accepts and never answers fails in time, is counted, and never holds up a
// shutdown; and a leader cut off from the apiserver stops acting before its lease could pass to
// another watcher. The unanswering servers are loopback stand-ins (test/support/kube-proxy.ts);
// the partitioned leader talks to the real apiserver through a proxy that is then cut.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { eventually, uniqueName } from '../support/env.js';
import {
  apiserverProxy,
  kubeconfigFor,
  silentApiserver,
  type Standin,
} from '../support/kube-proxy.js';
import {
  health,
  metric,
  startWatcher,
  startWorker,
  type AppProcess,
} from '../support/processes.js';

const watcherKubeconfig = process.env['RDSFLOW_WATCHER_KUBECONFIG'] ?? '';

describe('bounded Kubernetes calls', () => {
  const processes: AppProcess[] = [];
  const standins: Standin[] = [];

  after(async () => {
    for (const p of processes) await p.stop();
    for (const s of standins) await s.close();
  });

  async function watcherAt(standin: Standin, env: Record<string, string> = {}) {
    const watcher = await startWatcher({
      taskQueue: uniqueName('t'),
      selector: `rdsflow.io/test=${uniqueName('none')}`,
      env: {
        KUBECONFIG: kubeconfigFor(watcherKubeconfig, standin.url),
        RDSFLOW_KUBE_TIMEOUT: '1s',
        // a silent apiserver cannot say the cluster's identity; without it the watcher
        // refuses to start (the test below)
        RDSFLOW_CLUSTER_ID: 'timeouts-cluster',
        ...env,
      },
    });
    processes.push(watcher);
    return watcher;
  }

  /** SIGTERM, and how long until the process is gone. */
  async function stopTimed(watcher: AppProcess): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    const code = await watcher.stop();
    return { code, ms: Date.now() - t0 };
  }

  it('the worker and the watcher refuse to start when the cluster identity cannot be read', async () => {
    const standin = await silentApiserver();
    standins.push(standin);
    const env = {
      KUBECONFIG: kubeconfigFor(watcherKubeconfig, standin.url),
      RDSFLOW_KUBE_TIMEOUT: '1s',
    };
    const expected =
      /cannot read this cluster's identity \(the UID of namespace kube-system\).*set RDSFLOW_CLUSTER_ID/;
    await assert.rejects(
      startWatcher({
        taskQueue: uniqueName('t'),
        selector: `rdsflow.io/test=${uniqueName('none')}`,
        env,
      }),
      expected,
    );
    await assert.rejects(startWorker(uniqueName('t'), env), expected);
  });

  for (const [what, answer, call] of [
    ['a list', [], 'list databases'],
    ['a watch', ['list'], 'watch databases'],
  ] as const) {
    it(`gives up ${what} that never answers within the limit, counts it, and stops promptly`, async () => {
      const standin = await silentApiserver(answer);
      standins.push(standin);
      const watcher = await watcherAt(standin);
      const timeouts = await eventually(
        `${call} timeouts counted`,
        async () => {
          const n = await metric(watcher, 'rdsflow_watcher_kube_timeouts_total', { call });
          return n >= 2 ? n : undefined;
        },
        20_000,
      );
      assert.ok(timeouts >= 2);
      assert.match(watcher.output(), new RegExp(`no answer within 1s`));
      const stopped = await stopTimed(watcher);
      assert.equal(stopped.code, 0);
      assert.ok(stopped.ms < 3_000, `shutdown took ${stopped.ms} ms`);
    });
  }

  it('gives up a Lease call that never answers: stands by, counts it, stops promptly', async () => {
    const standin = await silentApiserver();
    standins.push(standin);
    const watcher = await watcherAt(standin, {
      RDSFLOW_LEADER_ELECTION: 'true',
      RDSFLOW_LEASE_NAME: uniqueName('lease'),
    });
    await eventually(
      'lease timeouts counted',
      async () =>
        (await metric(watcher, 'rdsflow_watcher_kube_timeouts_total', {
          call: 'get leases',
        })) >= 2
          ? true
          : undefined,
      20_000,
    );
    assert.equal((await health(watcher)).body['watcher'], 'standby');
    assert.equal(await metric(watcher, 'rdsflow_watcher_leader'), 0);
    const stopped = await stopTimed(watcher);
    assert.equal(stopped.code, 0);
    assert.ok(stopped.ms < 3_000, `shutdown took ${stopped.ms} ms`);
  });

  it('a leader cut off from the apiserver stops acting before its lease can pass to another', async () => {
    const proxy = await apiserverProxy(watcherKubeconfig);
    standins.push(proxy);
    const lease = { RDSFLOW_LEADER_ELECTION: 'true', RDSFLOW_LEASE_NAME: uniqueName('lease') };
    const selector = `rdsflow.io/test=${uniqueName('none')}`;
    const taskQueue = uniqueName('t');
    const cutOff = await startWatcher({
      taskQueue,
      selector,
      env: {
        KUBECONFIG: kubeconfigFor(watcherKubeconfig, proxy.url),
        RDSFLOW_KUBE_TIMEOUT: '2s',
        RDSFLOW_WATCHER_ID: 'cut-off',
        ...lease,
      },
    });
    processes.push(cutOff);
    await eventually('the first leads', async () =>
      (await health(cutOff)).body['watcher'] === 'watching' ? true : undefined,
    );
    const other = await startWatcher({
      taskQueue,
      selector,
      env: { RDSFLOW_WATCHER_ID: 'other', ...lease },
    });
    processes.push(other);
    await eventually('the other stands by', async () =>
      (await health(other)).body['watcher'] === 'standby' ? true : undefined,
    );

    const cutAt = Date.now();
    proxy.partition();
    await eventually(
      'the other leads',
      async () => ((await health(other)).body['watcher'] === 'watching' ? true : undefined),
      40_000,
    );
    const at = (app: AppProcess, msg: string) =>
      app
        .output()
        .split('\n')
        .filter((l) => l.includes(`"msg":"${msg}"`))
        .map((l) => (JSON.parse(l) as { time: number }).time)
        .filter((t) => t >= cutAt);
    const stoppedAt = at(cutOff, 'leadership lost; stopping work')[0];
    const ledAt = at(other, 'leading')[0];
    assert.ok(stoppedAt !== undefined, 'the cut-off leader never stopped acting');
    assert.ok(ledAt !== undefined);
    assert.ok(
      stoppedAt < ledAt,
      `the cut-off leader acted until ${stoppedAt}, the other led from ${ledAt}`,
    );
    process.stdout.write(
      `# cut at 0: the old leader stopped at ${stoppedAt - cutAt} ms, the new one led at ${ledAt - cutAt} ms\n`,
    );
    assert.equal(await metric(cutOff, 'rdsflow_watcher_leader'), 0);
  });
});
