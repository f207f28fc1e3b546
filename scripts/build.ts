// `npm run build`: the shipped form of rdsflow. Compiles the product code (not infra/, test/ or
// bench/) to JavaScript in dist/, then bundles the workflow code once into
// dist/workflow-bundle.js, which the compiled worker loads instead of bundling at start.
// Worker, watcher and CLI then run on plain node: node dist/worker/main.js, and so on; each of
// the three is a bundle (bundleEntries below says why).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { build } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FILE, bundleWorkflows } from '../worker/bundle.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dist = join(repo, 'dist');

/** What runs: each bundled in place over its compiled file. */
const ENTRIES = ['worker/main.js', 'watcher/main.js', 'cli/rdsflow.js'];
/** Inlined in the bundles; every other dependency is loaded from node_modules as usual. */
const INLINED = new Set(['@kubernetes/client-node']);

/**
 * Bundles each entry with the Kubernetes client inlined. client-node 1.x loads every generated
 * API and model of Kubernetes through its KubeConfig (its gen/index.js), about 70 MiB of memory
 * in every process for the three APIs rdsflow calls; esbuild keeps only what is reached. The
 * other dependencies stay external: they load files by path at run time (Temporal's core
 * bridge and protos, pino's transports), and bundling them would save little.
 */
async function bundleEntries(out: string): Promise<string> {
  const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const external = Object.keys(manifest.dependencies).filter((name) => !INLINED.has(name));
  await build({
    entryPoints: ENTRIES.map((entry) => join(out, entry)),
    outdir: out,
    outbase: out,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: external.flatMap((name) => [name, `${name}/*`]),
    // the inlined CommonJS modules (js-yaml, ws, ...) call require: give the ES module one
    banner: {
      js: "import { createRequire as __rdsflowRequire } from 'node:module'; const require = __rdsflowRequire(import.meta.url);",
    },
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return ENTRIES.map(
    (entry) => `dist/${entry} (${(statSync(join(out, entry)).size / 2 ** 20).toFixed(1)} MiB)`,
  ).join(', ');
}

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
const entries = await bundleEntries(dist);
process.stdout.write(`build: ${entries} in ${seconds(t0)}\n`);
t0 = Date.now();
const { bytes } = await bundleWorkflows(join(dist, BUNDLE_FILE));
process.stdout.write(
  `build: workflow bundle dist/${BUNDLE_FILE} (${(bytes / 1024).toFixed(0)} KiB) in ${seconds(t0)}\n`,
);
