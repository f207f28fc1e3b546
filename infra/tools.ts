// Debian tools some tests drive, installed by the project like its servers (`npm test` and
// `npm run infra -- tools` call this): Chromium for the Temporal UI test, buildah, podman, runc
// and busybox for the image test. They come from Debian's archive (no browser or binary downloads
// here), so installing needs root; without it, the error says the one command to run.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Layout } from './layout.js';
import { runLogged } from './proc.js';
import { StackError } from './stack.js';

/** A tool: the command that proves it is there, and the Debian packages that bring it. */
export const TOOLS = {
  chromium: { command: 'chromium', packages: ['chromium'] },
  buildah: { command: 'buildah', packages: ['buildah'] },
  podman: { command: 'podman', packages: ['podman'] },
  runc: { command: 'runc', packages: ['runc'] },
  busybox: { command: 'busybox', packages: ['busybox-static'] },
} as const;
export type Tool = keyof typeof TOOLS;

/** What building and running the image takes (infra/image.ts). */
export const IMAGE_TOOLS: readonly Tool[] = ['buildah', 'podman', 'runc', 'busybox'];

function present(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs the tools that are missing (apt-get, as root); one line per tool. */
export async function ensureTools(
  layout: Layout,
  say: (line: string) => void,
  tools: readonly Tool[],
): Promise<void> {
  const missing = tools.filter((t) => !present(TOOLS[t].command));
  for (const t of tools.filter((t) => !missing.includes(t))) say(`tools: ${t}: present`);
  if (missing.length === 0) return;
  const packages = missing.flatMap((t) => TOOLS[t].packages);
  const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (process.getuid?.() !== 0)
    throw new StackError(
      `${missing.join(', ')} missing and this is not root: run \`sudo ${command}\``,
    );
  mkdirSync(layout.logs, { recursive: true });
  const log = join(layout.logs, 'install-tools.log');
  say(`tools: installing ${packages.join(' ')} from Debian (log: ${log}) ...`);
  const started = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runLogged('apt-get', ['update', '-qq'], log, { env });
  await runLogged(
    'apt-get',
    ['install', '-y', '-qq', '--no-install-recommends', ...packages],
    log,
    {
      env,
    },
  );
  const still = missing.filter((t) => !present(TOOLS[t].command));
  if (still.length > 0)
    throw new StackError(`${still.join(', ')} still missing after apt-get; see ${log}`);
  say(`tools: ${missing.join(', ')} installed in ${((Date.now() - started) / 1000).toFixed(0)}s`);
}
