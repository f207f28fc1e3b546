// @tools: buildah podman runc busybox
// The image as operators run it: `npm run infra -- image` builds deploy/Containerfile with
// buildah on the Node 22 base assembled offline; podman runs its worker and its watcher (runc,
// the host's network to reach the loopback stack, read-only root filesystem, no capabilities,
// uid 1000), and a Database applied through the apiserver reaches Available through them and is
// deleted through them. What is checked is read through the servers: the object's status in the
// apiserver, the instance in moto.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../config/config.js';
import { IMAGE, PODMAN_RUN, buildImage } from '../../infra/image.js';
import { layoutFrom } from '../../infra/layout.js';
import { createDatabase, getObject, kube, objectRef, waitForPhase } from '../support/database.js';
import { TEST_LABEL, eventually, uniqueName } from '../support/env.js';
import { instancesOf } from '../support/rds.js';

function podman(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('podman', args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`podman ${args[0] ?? ''}: ${stderr.trim()}`)) : resolve(stdout),
    ),
  );
}

/**
 * The variables rdsflow reads, and the AWS SDK's credentials (a Secret in a cluster), as the
 * stack gives them: nothing else crosses in.
 */
function appEnv(): string[] {
  const sections = ['temporal', 'aws', 'vault', 'consul'] as const;
  return [
    ...sections.flatMap((s) => CONFIG_VARIABLES[s]),
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
  ]
    .filter((name) => process.env[name])
    .flatMap((name) => ['--env', `${name}=${process.env[name] ?? ''}`]);
}

describe('the container image', () => {
  const id = uniqueName('img');
  const kubeDir = mkdtempSync(join(tmpdir(), 'rdsflow-image-'));
  const containers: string[] = [];
  let size = 0;

  /** Runs one role of the image detached; resolves with its /healthz URL once it serves. */
  async function run(role: 'worker' | 'watcher', env: Record<string, string>): Promise<string> {
    const name = `${id}-${role}`;
    const kubeconfig = process.env[`RDSFLOW_${role.toUpperCase()}_KUBECONFIG`] ?? '';
    copyFileSync(kubeconfig, join(kubeDir, role));
    chmodSync(join(kubeDir, role), 0o644); // readable by the image's uid 1000, as a mounted Secret is
    containers.push(name);
    await podman([
      ...PODMAN_RUN,
      '--detach',
      '--name',
      name,
      '--read-only',
      '--cap-drop=all',
      '--security-opt=no-new-privileges',
      '--volume',
      `${kubeDir}:/kube:ro`,
      ...appEnv(),
      '--env',
      `KUBECONFIG=/kube/${role}`,
      '--env',
      'RDSFLOW_HTTP_ADDR=127.0.0.1:0',
      ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      IMAGE,
      role,
    ]);
    const started = await eventually(
      `${role} container started`,
      async () => {
        const logs = await podman(['logs', name]);
        return /"http":"([^"]+)".*"msg":"(worker|watcher) started"/.exec(logs)?.[1];
      },
      60_000,
    );
    return `http://${started}/healthz`;
  }

  before(async () => {
    chmodSync(kubeDir, 0o755);
    size = await buildImage(layoutFrom(process.env), (line) => process.stdout.write(`# ${line}\n`));
  });

  after(async () => {
    for (const name of containers) await podman(['rm', '--force', name]).catch(() => '');
    rmSync(kubeDir, { recursive: true, force: true });
  });

  it('is small, non-root, and holds no TypeScript sources', async () => {
    const user = (await podman(['image', 'inspect', '--format', '{{.Config.User}}', IMAGE])).trim();
    assert.equal(user, '1000:1000');
    process.stdout.write(`# image ${IMAGE}: ${(size / 1024 / 1024).toFixed(0)} MiB\n`);
    assert.ok(size < 350 * 1024 * 1024, `${(size / 1024 / 1024).toFixed(0)} MiB`);
    const listing = await podman([
      ...PODMAN_RUN,
      '--rm',
      '--entrypoint',
      '/bin/sh',
      IMAGE,
      '-c',
      'node --version; ls /app; find /app/dist -name "*.ts" | wc -l',
    ]);
    const [version, ...rest] = listing.trim().split('\n');
    assert.match(version ?? '', /^v22\./);
    assert.deepEqual(rest.slice(0, -1).sort(), [
      'bin',
      'deploy',
      'dist',
      'node_modules',
      'package.json',
    ]);
    assert.equal(rest.at(-1), '0');
  });

  it('runs the worker and the watcher: a Database reaches Available through them, and is deleted', async () => {
    const taskQueue = id;
    const selector = `${TEST_LABEL}=${id}`;
    const health = [
      await run('worker', { RDSFLOW_TASK_QUEUE: taskQueue }),
      await run('watcher', { RDSFLOW_TASK_QUEUE: taskQueue, RDSFLOW_WATCH_SELECTOR: selector }),
    ];
    for (const url of health)
      await eventually(`${url} ready`, async () =>
        (await fetch(url).catch(() => undefined))?.status === 200 ? true : undefined,
      );
    // the root filesystem refuses writes; the process is uid 1000
    await assert.rejects(podman(['exec', `${id}-worker`, 'touch', '/app/x']), /Read-only/i);
    assert.equal((await podman(['exec', `${id}-worker`, 'id', '-u'])).trim(), '1000');
    // the memory settings the entrypoint gives the watcher reach its node process (pid 1);
    // only those two are shown on failure: the environment also holds the Vault token
    const environ = (await podman(['exec', `${id}-watcher`, 'cat', '/proc/1/environ']))
      .split('\0')
      .filter((v) => /^(MALLOC_ARENA_MAX|NODE_OPTIONS)=/.test(v));
    assert.deepEqual(environ.sort(), [
      'MALLOC_ARENA_MAX=2',
      'NODE_OPTIONS=--max-semi-space-size=2 --max-old-space-size=128',
    ]);

    const name = `${id}-db`;
    const object = await createDatabase(
      name,
      { engine: 'postgres', deletionPolicy: 'Delete' },
      { [TEST_LABEL]: id },
    );
    const logs = async () =>
      (await Promise.all(containers.map((c) => podman(['logs', c])))).join('\n');
    let tail = '';
    const available = await waitForPhase(name, 'Available', 90_000, () => tail).catch(
      async (error: unknown) => {
        tail = (await logs()).slice(-4_000);
        throw new Error(`${String(error)}\n${tail}`);
      },
    );
    assert.equal(available.metadata.uid, object.metadata.uid);
    assert.equal((await instancesOf(object.metadata.uid)).length, 1);

    await kube.deleteNamespacedCustomObject({ ...objectRef, name });
    await eventually(
      'the object deleted (finalizer released)',
      async () => ((await getObject(name)) === undefined ? true : undefined),
      60_000,
    );
    await eventually(
      'the instance deleted',
      async () => ((await instancesOf(object.metadata.uid)).length === 0 ? true : undefined),
      60_000,
    );
  });
});
