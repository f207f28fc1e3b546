// The `rdsflow` executable (package bin, via bin/rdsflow.js): runs cli/main.ts on the process.
import { ConfigError } from '../config/config.js';
import { EXIT, run } from './main.js';

try {
  process.exitCode = await run(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    now: Date.now,
  });
} catch (error: unknown) {
  process.stderr.write(
    error instanceof ConfigError
      ? `rdsflow: ${error.message}\n`
      : `rdsflow: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = EXIT.error;
}
