// `npm test [layer ...]`: runs test/<layer>/**/*.test.ts with Node's test runner. Layers other
// than `unit` talk to real servers: the environment that points at the local stack is taken
// from `npm run infra -- up`'s state, and a stack that is not up fails the run (never skips).
// The `audit` layer looks back at what the other layers did (every RDS call, every history):
// it runs last, in a run of its own once the others have finished.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layoutFrom } from '../infra/layout.js';
import { runningApps } from '../infra/apps.js';
import { stackEnv } from '../infra/stack.js';

const testDir = fileURLToPath(new URL('.', import.meta.url));
const OFFLINE_LAYERS = new Set(['unit']);

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return testFiles(path);
      return entry.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

const layers = process.argv.slice(2);
const available = readdirSync(testDir).filter(
  (d) => statSync(join(testDir, d)).isDirectory() && d !== 'support',
);
const unknown = layers.filter((l) => !available.includes(l));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown test layer(s): ${unknown.join(', ')}; layers: ${available.join(', ')}\n`,
  );
  process.exit(2);
}
const chosen = layers.length > 0 ? layers : available;
const LAST = 'audit';
const files = chosen.filter((l) => l !== LAST).flatMap((layer) => testFiles(join(testDir, layer)));
const lastFiles = chosen.includes(LAST) ? testFiles(join(testDir, LAST)) : [];

let env: NodeJS.ProcessEnv = process.env;
if (chosen.some((layer) => !OFFLINE_LAYERS.has(layer))) {
  const apps = runningApps(layoutFrom(process.env));
  if (apps.length > 0) {
    // they would act on every test's objects, on their own task queue
    process.stderr.write(
      `the ${apps.join(' and ')} from \`npm start\` are running and would act on the tests' objects: ` +
        'stop them first with `npm run infra -- stop worker watcher`\n',
    );
    process.exit(1);
  }
  try {
    env = { ...process.env, ...stackEnv(layoutFrom(process.env)) };
  } catch (error: unknown) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

function runFiles(batch: string[]): Promise<number> {
  process.stdout.write(
    `running ${batch.length} test files: ${batch.map((f) => relative(testDir, f)).join(' ')}\n`,
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', ...batch],
    { env, stdio: 'inherit' },
  );
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );
}

let code = files.length > 0 ? await runFiles(files) : 0;
if (lastFiles.length > 0) code = (await runFiles(lastFiles)) || code;
process.exit(code);
