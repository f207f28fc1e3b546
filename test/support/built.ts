// The build output the tests run: `npm test` builds first (npm run build), so the worker and
// watcher processes of the tests are the compiled ones a release ships, on plain node, and the
// replay test reads the shipped workflow bundle. Run a test file by hand after changing the
// sources and this refuses, instead of testing yesterday's build.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FILE } from '../../worker/bundle.js';

export const repo = fileURLToPath(new URL('../../', import.meta.url));
// what the build compiles, as tsconfig.build.json names it (one list, not a copy)
const PRODUCT = (
  JSON.parse(readFileSync(join(repo, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
).include;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** dist/<path>, once the build is there and newer than every product source. */
export function built(path: string): string {
  // the bundle is written last: its time is the build's
  const bundle = join(repo, 'dist', BUNDLE_FILE);
  if (!existsSync(bundle)) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  const at = statSync(bundle).mtimeMs;
  const newer = PRODUCT.flatMap((d) => sources(join(repo, d))).filter(
    (f) => statSync(f).mtimeMs > at,
  );
  if (newer.length > 0)
    throw new Error(
      `sources changed after the build (${newer.slice(0, 3).join(', ')}): run \`npm run build\``,
    );
  return join(repo, 'dist', path);
}
