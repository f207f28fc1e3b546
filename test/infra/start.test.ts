// `npm start`, the README's first command: the stack (already up here), the worker and the
// watcher, the sample applied and followed to Available, and where everything is printed.
// A worker and watcher pair of its own (RDSFLOW_APPS_INSTANCE) beside any pair a user started
// with `npm start`, scoped to a namespace, task queue and label of its own so it leaves the
// other tests' objects alone; stopped again with `npm run infra -- stop worker watcher`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { TEST_LABEL, uniqueName } from '../support/env.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

function npm(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'npm',
      args,
      { cwd: repo, env: { ...process.env, ...env }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? 1 : 0, out: stdout + stderr }),
    );
  });
}

describe('npm start', () => {
  const namespace = uniqueName('start');
  const own = { RDSFLOW_APPS_INSTANCE: namespace };

  after(async () => {
    const stopped = await npm(['run', '-s', 'infra', '--', 'stop', 'worker', 'watcher'], own);
    assert.match(stopped.out, /worker: stopped/);
    assert.match(stopped.out, /watcher: stopped/);
  });

  it('brings up worker and watcher, gets the sample to Available and says where things are', async () => {
    const label = `${TEST_LABEL}=${namespace}`;
    const { code, out } = await npm(['start', '--', '--namespace', namespace, '--label', label], {
      ...own,
      RDSFLOW_WATCH_NAMESPACES: namespace,
      RDSFLOW_WATCH_SELECTOR: label,
      RDSFLOW_TASK_QUEUE: namespace,
    });
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`worker-${namespace}\\.log`), "its own pair, not the user's");
    assert.match(out, /worker: ready \(127\.0\.0\.1:\d+\/healthz\)/);
    assert.match(out, /watcher: ready \(127\.0\.0\.1:\d+\/healthz\)/);
    assert.match(out, new RegExp(`applying the sample Database ${namespace}/orders`));
    assert.match(out, /s {2}Provisioning|s {2}Pending/);
    assert.match(out, new RegExp(`${namespace}/orders is Available at \\S+:5432`));
    assert.match(
      out,
      /Temporal UI {3}http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\?query=/,
    );
    assert.match(out, new RegExp(`Vault {9}secret/rdsflow/${namespace}/orders`));
    assert.match(out, new RegExp(`Consul {8}rdsflow/${namespace}/orders`));
    assert.ok(!/password/i.test(out.replace(/kv get/g, '')), 'no secret printed');

    // the printed next steps work as printed, in a shell that knows none of the stack's
    // addresses: the environment line first, then the CLI
    const next = out.slice(out.indexOf('next:')).split('\n');
    const envLine = next
      .find((line) => line.includes('infra -- env'))
      ?.split('#')[0]
      ?.trim();
    const describeLine = next.find((line) => line.includes('rdsflow -- describe'));
    assert.ok(envLine && describeLine, out);
    const bare = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^(KUBECONFIG|TEMPORAL_|RDSFLOW_|VAULT_|CONSUL_|AWS_)/.test(k),
      ),
    );
    const described = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        'sh',
        ['-c', `${envLine}; ${describeLine.split('#')[0]?.trim() ?? ''}`],
        { cwd: repo, env: bare, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, out: stdout + stderr }),
      );
    });
    assert.equal(described.code, 0, described.out);
    assert.match(described.out, /Available/);
  });
});
