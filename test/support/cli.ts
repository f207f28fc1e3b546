// The built rdsflow CLI as a user runs it, on the local stack: its exit code and both streams.
import { execFile } from 'node:child_process';
import { built } from './built.js';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let bin: string | undefined;

/** Runs `rdsflow <args>` (the build's CLI) with the test's environment and `env` on top. */
export function rdsflowCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<Ran> {
  bin ??= built('cli/rdsflow.js');
  const file = bin;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
