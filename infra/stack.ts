// up / down / status / env of the local stack. State (pids, ports) lives in one JSON file so that
// every command, and the test runner, agrees on where each server is.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { installAll, type Say } from './install.js';
import { binaries, type Layout } from './layout.js';
import { choosePort } from './net.js';
import { isOurProcess, processesUnder, startDetached, stopGroup, tail } from './proc.js';
import { SERVERS, toolEnv, type Secrets, type ServerContext, type ServerSpec } from './servers.js';

interface ServerState {
  readonly pid: number;
  readonly binary: string;
  /** the command line it was started with: a server whose configuration changed is restarted */
  readonly args?: readonly string[];
  readonly ports: Record<string, number>;
  readonly log: string;
  readonly startedAt: string;
}

interface StackState {
  servers: Record<string, ServerState>;
}

export class StackError extends Error {
  override name = 'StackError';
}

function loadState(layout: Layout): StackState {
  if (!existsSync(layout.stateFile)) return { servers: {} };
  return JSON.parse(readFileSync(layout.stateFile, 'utf8')) as StackState;
}

function saveState(layout: Layout, state: StackState): void {
  writeFileSync(layout.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

function loadSecrets(layout: Layout): Secrets {
  const file = join(layout.state, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Secrets;
  // generated once per machine, never committed: the dev servers' credentials
  const secrets: Secrets = {
    vaultToken: `dev-${randomBytes(12).toString('hex')}`,
    kubeToken: randomBytes(24).toString('hex'),
  };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

/** One infra command at a time; a stale lock (its pid gone) is taken over. */
async function withLock<T>(layout: Layout, fn: () => Promise<T>): Promise<T> {
  mkdirSync(layout.state, { recursive: true });
  for (;;) {
    try {
      const fd = openSync(layout.lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const holder = Number(readFileSync(layout.lockFile, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new StackError(
          `another infra command (pid ${holder}) is running; wait for it or stop it`,
        );
      }
      rmSync(layout.lockFile, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(layout.lockFile, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a server's spec is given: the stack's layout, its secrets and the data directory under
 * it. A second cluster for tests passes a layout of its own (a temporary directory).
 */
export function serverContext(
  layout: Layout,
  spec: ServerSpec,
  ports: ServerContext['ports'],
  say: Say = () => {},
): ServerContext {
  return {
    layout,
    bin: binaries(layout),
    secrets: loadSecrets(layout),
    ports,
    dataDir: join(layout.state, 'data', spec.name),
    say,
  };
}

function isRunning(
  layout: Layout,
  spec: ServerSpec,
  saved: ServerState | undefined,
): saved is ServerState {
  // a changed pin means a different binary: the old process is not the server we want
  return (
    saved !== undefined &&
    saved.binary === spec.binary(binaries(layout)) &&
    isOurProcess(saved.pid, saved.binary)
  );
}

/** Resolves once `spec`'s probe passes; throws, with its log's tail, when it exits or times out. */
export async function waitHealthy(
  ctx: ServerContext,
  spec: ServerSpec,
  pid: number,
  log: string,
): Promise<void> {
  const probe = spec.probe(ctx);
  const deadline = Date.now() + spec.startupTimeoutMs;
  let problem: string | undefined = 'not probed yet';
  while (Date.now() < deadline) {
    problem = await probe();
    if (problem === undefined) return;
    if (!isOurProcess(pid, spec.binary(ctx.bin))) {
      throw new StackError(`${spec.name} exited while starting; its log: ${log}\n${tail(log, 25)}`);
    }
    await sleep(250);
  }
  throw new StackError(
    `${spec.name} was not healthy within ${spec.startupTimeoutMs / 1000}s (${problem}); its log: ${log}\n${tail(log, 25)}`,
  );
}

/**
 * Stops running servers whose command line would now differ (a new flag, a new script): `up`
 * then starts them again as configured, on the same ports.
 */
async function stopChanged(layout: Layout, state: StackState, say: Say): Promise<void> {
  for (const spec of SERVERS) {
    const saved = state.servers[spec.name];
    // still the process we started, whatever it runs now (another clone's script, an old pin)
    if (!saved || !isOurProcess(saved.pid, saved.binary)) continue;
    const args = spec.args(serverContext(layout, spec, portsOf(state)));
    const same =
      saved.binary === spec.binary(binaries(layout)) &&
      JSON.stringify(saved.args) === JSON.stringify(args);
    if (same) continue;
    say(`${spec.name}: its configuration changed; restarting it`);
    await stopGroup(saved.pid);
  }
}

/** Chooses every port up front so that servers which point at each other agree. */
async function planPorts(layout: Layout, state: StackState, say: Say) {
  const taken = new Set<number>();
  const ports: Record<string, Record<string, number>> = {};
  const running = new Set<string>();
  for (const spec of SERVERS) {
    const saved = state.servers[spec.name];
    if (isRunning(layout, spec, saved)) {
      running.add(spec.name);
      ports[spec.name] = saved.ports;
      for (const p of Object.values(saved.ports)) taken.add(p);
    }
  }
  for (const spec of SERVERS) {
    if (running.has(spec.name)) continue;
    const chosen: Record<string, number> = {};
    // a restart keeps last time's ports where it can, so clients' environment stays valid
    const preferred = { ...spec.ports, ...state.servers[spec.name]?.ports };
    for (const [role, p] of Object.entries(preferred)) {
      const { port, note } = await choosePort(p, taken);
      if (note) say(`${spec.name}: ${note}`);
      chosen[role] = port;
    }
    ports[spec.name] = chosen;
  }
  return { ports, running };
}

/**
 * Prepares a server's data directory and starts it, not yet healthy (`waitHealthy`); returns
 * its pid and the command line it got.
 */
export async function launch(
  ctx: ServerContext,
  spec: ServerSpec,
  log: string,
  options: { dieWithParent?: boolean } = {},
): Promise<{ pid: number; args: string[] }> {
  mkdirSync(ctx.dataDir, { recursive: true });
  // one log per run, so a failure's tail is this run's; the previous run's stays beside it
  if (existsSync(log)) renameSync(log, `${log}.1`);
  await spec.prepare?.(ctx);
  const args = spec.args(ctx);
  const pid = startDetached(
    spec.command?.(ctx.bin) ?? spec.binary(ctx.bin),
    args,
    log,
    { ...process.env, ...spec.processEnv, ...spec.secretEnv?.(ctx) },
    options,
  );
  return { pid, args };
}

export async function up(layout: Layout, say: Say): Promise<void> {
  await withLock(layout, async () => {
    await installAll(layout, say);
    mkdirSync(layout.logs, { recursive: true });
    const state = loadState(layout);
    await stopChanged(layout, state, say);
    const { ports, running } = await planPorts(layout, state, say);
    const healthy = new Map<string, Promise<void>>();

    const bringUp = async (spec: ServerSpec): Promise<void> => {
      if (spec.after) await healthy.get(spec.after);
      const ctx = serverContext(layout, spec, ports, say);
      const log = join(layout.logs, `${spec.name}.log`);
      let pid: number;
      if (running.has(spec.name)) {
        pid = state.servers[spec.name]!.pid;
        say(`${spec.name}: already running (pid ${pid})`);
      } else {
        const launched = await launch(ctx, spec, log);
        pid = launched.pid;
        state.servers[spec.name] = {
          pid,
          binary: spec.binary(ctx.bin),
          args: launched.args,
          ports: ports[spec.name] ?? {},
          log,
          startedAt: new Date().toISOString(),
        };
        saveState(layout, state);
        say(`${spec.name}: started (pid ${pid}), waiting until healthy ...`);
      }
      try {
        await waitHealthy(ctx, spec, pid, log);
      } catch (error: unknown) {
        await stopGroup(pid);
        delete state.servers[spec.name];
        saveState(layout, state);
        throw error;
      }
      await spec.ready?.(ctx);
    };

    for (const spec of SERVERS) healthy.set(spec.name, bringUp(spec));
    const results = await Promise.allSettled(healthy.values());
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) {
      throw new StackError(
        `${failures.length} server(s) failed to come up:\n${failures.map((f) => errorText(f.reason)).join('\n\n')}\n` +
          `Others are left running; \`npm run infra -- down\` stops them.`,
      );
    }
    say('');
    say(summary(layout, state));
  });
}

function errorText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

function summary(layout: Layout, state: StackState): string {
  const lines = ['rdsflow local stack is up, all on 127.0.0.1:'];
  for (const spec of SERVERS) {
    const s = state.servers[spec.name];
    if (!s) continue;
    const ports = Object.entries(s.ports)
      .map(([role, p]) => `${role}=${p}`)
      .join(' ');
    lines.push(
      `  ${spec.name.padEnd(15)} pid ${String(s.pid).padEnd(8)} ${ports.padEnd(44)} ${spec.what}`,
    );
  }
  const env = stackEnv(layout);
  for (const spec of SERVERS) {
    const ctx = serverContext(layout, spec, portsOf(state));
    for (const [label, url] of Object.entries(spec.urls?.(ctx) ?? {}))
      lines.push(`${label}: ${url}`);
  }
  lines.push(`Kubeconfig: ${env['KUBECONFIG'] ?? '(none)'}`);
  lines.push(`Logs: ${layout.logs}`);
  lines.push(`Client environment: eval "$(npm run -s infra -- env)"`);
  lines.push(`Stop everything: npm run infra -- down`);
  return lines.join('\n');
}

function portsOf(state: StackState): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(state.servers).map(([name, s]) => [name, s.ports]));
}

/** Stops the named servers, last-started first; `forget` drops their ports from the state. */
async function stopServers(
  layout: Layout,
  state: StackState,
  names: ReadonlySet<string>,
  say: Say,
  forget: boolean,
): Promise<void> {
  for (const spec of [...SERVERS].reverse()) {
    const saved = state.servers[spec.name];
    if (!saved || !names.has(spec.name)) continue;
    if (isOurProcess(saved.pid, saved.binary)) {
      await stopGroup(saved.pid);
      say(`${spec.name}: stopped (pid ${saved.pid})`);
    }
    if (forget) delete state.servers[spec.name];
    saveState(layout, state);
  }
}

function knownServers(names: readonly string[]): Set<string> {
  const known = SERVERS.map((s) => s.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new StackError(`unknown server(s): ${unknown.join(', ')}; servers: ${known.join(', ')}`);
  }
  return new Set(names);
}

/**
 * Stops some servers but remembers their ports, so that the next `up` brings them back where
 * clients expect them (outage tests use this).
 */
export async function stop(layout: Layout, say: Say, names: readonly string[]): Promise<void> {
  const chosen = knownServers(names);
  await withLock(layout, () => stopServers(layout, loadState(layout), chosen, say, false));
}

export async function down(layout: Layout, say: Say, options: { purge: boolean }): Promise<void> {
  await withLock(layout, async () => {
    const state = loadState(layout);
    await stopServers(layout, state, new Set(SERVERS.map((s) => s.name)), say, true);
    // whatever runs from our cache without being in the state file (a lost state, a test's
    // time-skipping server) is the stack's as well
    for (const pid of processesUnder(layout.cache)) {
      await stopGroup(pid, 5_000);
      say(`stopped leftover process ${pid}`);
    }
    const left = processesUnder(layout.cache);
    if (left.length > 0)
      throw new StackError(`processes still running from ${layout.cache}: ${left.join(', ')}`);
    if (options.purge) {
      rmSync(join(layout.state, 'data'), { recursive: true, force: true });
      rmSync(join(layout.state, 'secrets.json'), { force: true });
      rmSync(join(layout.state, 'kubeconfig'), { force: true });
      say(`purged data under ${join(layout.state, 'data')}`);
    }
    say('rdsflow local stack is down; none of its servers is running');
  });
}

export interface ServerStatus {
  readonly name: string;
  readonly what: string;
  readonly running: boolean;
  readonly healthy: boolean;
  readonly pid?: number;
  readonly ports?: Record<string, number>;
  readonly log: string;
  readonly problem?: string;
}

export async function status(layout: Layout): Promise<ServerStatus[]> {
  const state = loadState(layout);
  return Promise.all(
    SERVERS.map(async (spec): Promise<ServerStatus> => {
      const saved = state.servers[spec.name];
      const log = join(layout.logs, `${spec.name}.log`);
      if (!isRunning(layout, spec, saved))
        return { name: spec.name, what: spec.what, running: false, healthy: false, log };
      const problem = await spec.probe(serverContext(layout, spec, portsOf(state)))();
      return {
        name: spec.name,
        what: spec.what,
        running: true,
        healthy: problem === undefined,
        pid: saved.pid,
        ports: saved.ports,
        log,
        ...(problem ? { problem } : {}),
      };
    }),
  );
}

/** The environment that points clients at the running stack; throws when a server is down. */
export function stackEnv(layout: Layout): Record<string, string> {
  const state = loadState(layout);
  const down = SERVERS.filter((spec) => !isRunning(layout, spec, state.servers[spec.name])).map(
    (s) => s.name,
  );
  if (down.length > 0) {
    throw new StackError(
      `the local stack is not up (${down.join(', ')} not running): run \`npm run infra -- up\``,
    );
  }
  const env: Record<string, string> = {};
  for (const spec of SERVERS)
    Object.assign(env, spec.env(serverContext(layout, spec, portsOf(state))));
  return { ...env, ...toolEnv(layout) };
}
