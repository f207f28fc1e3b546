// Small process helpers for the local stack: run a command to a log file, find and stop our
// servers by process group.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly logFile: string,
    detail: string,
  ) {
    super(`${command} failed (${detail}); its log: ${logFile}\n${tail(logFile, 25)}`);
    this.name = 'CommandFailed';
  }
}

/** Last `lines` lines of a file, indented, for error messages. */
export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '  (no log written)';
  const all = readFileSync(file, 'utf8').trimEnd().split('\n');
  return all
    .slice(-lines)
    .map((l) => `  | ${l}`)
    .join('\n');
}

/** Runs a command to completion with its output appended to `logFile`. */
export async function runLogged(
  cmd: string,
  args: readonly string[],
  logFile: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', fd, fd],
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) throw new CommandFailed(`${cmd} ${args.join(' ')}`, logFile, `exit ${code}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Starts a long-running server detached in its own process group; returns its pid. The stack's
 * servers outlive the command that starts them. A test's own servers must not outlive the test,
 * however it ends (a crash, a SIGKILL): with `dieWithParent` the kernel kills the server when
 * this process dies. setpriv sets that parent-death signal and execs the server, so the pid and
 * command line are the server's own.
 */
export function startDetached(
  cmd: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
  options: { dieWithParent?: boolean } = {},
): number {
  const [file, argv] = options.dieWithParent
    ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', cmd, ...args]]
    : [cmd, args];
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(file, argv, { detached: true, env, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and still runs `binary` (guards against a recycled pid). */
export function isOurProcess(pid: number, binary: string): boolean {
  const line = cmdline(pid);
  return line !== undefined && line.includes(binary) && !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    return /\nState:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** Every live process whose command line mentions `dir` (our cached binaries), except us. */
export function processesUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const line = cmdline(pid);
    if (line?.includes(dir) && !isZombie(pid)) found.push(pid);
  }
  return found;
}

/** SIGTERM the process group, wait, then SIGKILL what is left. */
export async function stopGroup(pid: number, graceMs = 10_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await sleep(100);
  }
  signalGroup(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}
