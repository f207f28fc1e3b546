// docker-compose.yml through compose-go, the loader Docker Compose itself uses (built from the Go
// module proxy by the stack's install): the Compose Specification's schema, interpolation of
// ${VAR:-default}, the x-rdsflow-env anchor, relative build paths, as `docker compose config`
// resolves them. What cannot be done here: pulling the images and running the services (no
// Docker engine, no Docker Hub); the image test builds and runs the same Containerfile.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { tools } from '../support/env.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

interface Project {
  services: Record<
    string,
    {
      command?: string[];
      build?: { context: string; dockerfile: string };
      environment?: Record<string, string>;
    }
  >;
}

function load(file: string, env: Record<string, string> = {}): Promise<Project> {
  return new Promise((resolve, reject) =>
    execFile(
      tools.composeCheck,
      [file],
      { cwd: repo, env: { PATH: process.env['PATH'] ?? '', ...env } },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(stderr.trim() || error.message))
          : resolve(JSON.parse(stdout) as Project),
    ),
  );
}

describe('docker-compose.yml as Docker Compose loads it', () => {
  it('is a valid Compose project: k3s gets its flags whole, the app builds from the Containerfile', async () => {
    const project = await load('docker-compose.yml');
    assert.deepEqual(project.services['k3s']?.command, [
      'server',
      '--disable=traefik,servicelb,metrics-server',
      '--tls-san=k3s',
    ]);
    assert.equal(project.services['worker']?.build?.context, repo.replace(/\/$/, ''));
    assert.equal(project.services['worker']?.build?.dockerfile, 'deploy/Containerfile');
    // the anchor reaches both apps, with the default token unless one is given
    for (const app of ['worker', 'watcher'])
      assert.equal(project.services[app]?.environment?.['VAULT_TOKEN'], 'rdsflow-dev-root');
    const given = await load('docker-compose.yml', { RDSFLOW_DEV_VAULT_TOKEN: 'interpolated' });
    assert.equal(given.services['watcher']?.environment?.['VAULT_TOKEN'], 'interpolated');
  });

  it('would catch what the structure test cannot: a file the specification refuses', async () => {
    const broken = fileURLToPath(
      new URL('../../test/infra/fixtures/compose-invalid.yml', import.meta.url),
    );
    await assert.rejects(load(broken), /ports|additional property|invalid/i);
  });
});
