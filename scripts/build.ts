// `npm run build`: the shipped form of rdsflow. Compiles the product code (not infra/, test/ or
// bench/) to JavaScript in dist/, then bundles the workflow code once into
// dist/workflow-bundle.js, which the compiled worker loads instead of bundling at start.
// Worker, watcher and CLI then run on plain node: node dist/worker/main.js, and so on.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FILE, bundleWorkflows } from '../worker/bundle.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dist = join(repo, 'dist');

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

let t0 = Date.now();
rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json')],
  {
    stdio: 'inherit',
  },
);
process.stdout.write(`build: compiled to dist/ in ${seconds(t0)}\n`);
t0 = Date.now();
const { bytes } = await bundleWorkflows(join(dist, BUNDLE_FILE));
process.stdout.write(
  `build: workflow bundle dist/${BUNDLE_FILE} (${(bytes / 1024).toFixed(0)} KiB) in ${seconds(t0)}\n`,
);
