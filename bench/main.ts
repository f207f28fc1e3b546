// `npm run bench [-- 1,100,1000]`: builds (the benchmarks run the compiled processes, as they
// ship), then bench/watcher.ts (bursts of N, given here, and a paced stream:
// RDSFLOW_BENCH_PACED=<objects/s>x<seconds>, default 100x30) and bench/provision.ts (apply →
// Available, N at once against a no-op workflow of the same shape, apiserver requests per
// database, RSS; RDSFLOW_BENCH_DATABASES, default 200).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const run = (script: string, args: string[] = []) =>
  execFileSync(process.execPath, ['--import', 'tsx', here(script), ...args], { stdio: 'inherit' });

run('../scripts/build.ts');
run('./watcher.ts', process.argv.slice(2));
run('./provision.ts', [process.env['RDSFLOW_BENCH_DATABASES'] ?? '200']);
