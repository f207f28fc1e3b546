// `npm test [layer ...]`: runs test/<layer>/**/*.test.ts with Node's test runner, and first
// gets everything they need, so it works as the first command on a fresh machine and beside a
// running `npm start` (the tests' objects, task queues and processes are their own):
//   1. `npm run build`: the replay test runs against the shipped workflow bundle;
//   2. for layers other than `unit`: the local stack brought up (idempotent: installs what is
//      missing, starts what is stopped, keeps what runs) and the tools the chosen files name in
//      a `// @tools: chromium ...` line, installed from Debian (infra/tools.ts);
//   3. the files in parallel (RDSFLOW_TEST_CONCURRENCY, default 4; the long layers first),
//      except the exclusive ones (a `// @exclusive: why` line: they stop, restart or
//      reconfigure a server every test shares), which then run one at a time;
//   4. the `audit` layer, which looks back at what all the others did, alone and last.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layoutFrom } from '../infra/layout.js';
import { stackEnv, up } from '../infra/stack.js';
import { TOOLS, ensureTools, type Tool } from '../infra/tools.js';

const testDir = fileURLToPath(new URL('.', import.meta.url));
const repo = join(testDir, '..');
const OFFLINE_LAYERS = new Set(['unit']);
const LAST = 'audit';
const concurrency = Number(process.env['RDSFLOW_TEST_CONCURRENCY'] ?? 4);

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return testFiles(path);
      return entry.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

/** A `// @key: value` line in a test file's opening comment. */
function marker(file: string, key: string): string | undefined {
  const head = readFileSync(file, 'utf8').split('\n').slice(0, 30);
  for (const line of head) {
    const match = new RegExp(`^// @${key}: (.+)$`).exec(line);
    if (match) return match[1];
  }
  return undefined;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const layers = process.argv.slice(2);
const available = readdirSync(testDir).filter(
  (d) => statSync(join(testDir, d)).isDirectory() && testFiles(join(testDir, d)).length > 0,
);
const unknown = layers.filter((l) => !available.includes(l));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown test layer(s): ${unknown.join(', ')}; layers: ${available.join(', ')}\n`,
  );
  process.exit(2);
}
const chosen = layers.length > 0 ? layers : available;
const files = chosen.filter((l) => l !== LAST).flatMap((layer) => testFiles(join(testDir, layer)));
const exclusive = files.filter((f) => marker(f, 'exclusive') !== undefined);
// the runner takes files in this order as slots free up: the long ones first (an image build,
// the end-to-end stories), so that the short ones fill the gaps instead of a long one ending last
const LONG_FIRST = ['image', 'e2e', 'workflows', 'watcher', 'activities'];
const rank = (file: string) => {
  const at = LONG_FIRST.indexOf(relative(testDir, file).split('/')[0] ?? '');
  return at === -1 ? LONG_FIRST.length : at;
};
const parallel = files
  .filter((f) => !exclusive.includes(f))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const lastFiles = chosen.includes(LAST) ? testFiles(join(testDir, LAST)) : [];

let started = Date.now();
// the audits look only at the workflows of this run (test/support/env.ts auditedWorkflows)
const since = new Date(started - 5_000).toISOString();
execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'scripts', 'build.ts')], {
  stdio: 'inherit',
});

let env: NodeJS.ProcessEnv = process.env;
if (chosen.some((layer) => !OFFLINE_LAYERS.has(layer))) {
  const layout = layoutFrom(process.env);
  const tools = [
    ...new Set([...files, ...lastFiles].flatMap((f) => marker(f, 'tools')?.split(/\s+/) ?? [])),
  ];
  const unknownTools = tools.filter((t) => !(t in TOOLS));
  if (unknownTools.length > 0) fail(`unknown @tools in a test file: ${unknownTools.join(', ')}`);
  try {
    await up(layout, (line) => say(`stack: ${line}`));
    await ensureTools(layout, say, tools as Tool[]);
    env = {
      ...process.env,
      ...stackEnv(layout),
      // run alone, the audits look at everything the server has
      ...(files.length > 0 ? { RDSFLOW_TEST_SINCE: since } : {}),
    };
  } catch (error: unknown) {
    fail(error instanceof Error ? error.message : String(error));
  }
}
say(`ready to test in ${((Date.now() - started) / 1000).toFixed(0)}s`);

function runFiles(batch: string[], parallelism: number): Promise<number> {
  say(
    `running ${batch.length} test file(s), ${parallelism} at a time: ${batch.map((f) => relative(testDir, f)).join(' ')}`,
  );
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${parallelism}`,
      '--test-reporter=spec',
      ...batch,
    ],
    { env, stdio: 'inherit' },
  );
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );
}

started = Date.now();
let code = 0;
for (const [batch, parallelism] of [
  [parallel, concurrency],
  [exclusive, 1],
  [lastFiles, 1],
] as const) {
  if (batch.length > 0) code = (await runFiles(batch, parallelism)) || code;
}
say(`tests took ${((Date.now() - started) / 1000).toFixed(0)}s`);
process.exit(code);
