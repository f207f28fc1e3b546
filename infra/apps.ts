// rdsflow's own processes on the local stack: the worker and the watcher, started detached
// beside the servers (`npm start`), each as its least-privilege service account, with logs in
// the stack's log folder; `npm run infra -- down` (or `stop worker watcher`) stops them.
// RDSFLOW_APPS_INSTANCE names a second pair beside the user's (its own state file and logs):
// the `npm start` test runs one without touching the pair a user started.
// The watcher of `npm start` leaves objects labelled `rdsflow.io/test` alone (its default
// RDSFLOW_WATCH_SELECTOR): the tests' objects belong to the tests' own watchers and workers.
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Layout } from './layout.js';
import { LOOPBACK, choosePort, httpGet } from './net.js';
import { cmdline, startDetached, stopGroup } from './proc.js';
import { kubeconfigPath } from './servers.js';
import { StackError, stackEnv } from './stack.js';

export const APPS = {
  worker: { entry: 'worker/main.ts', port: 9090 },
  watcher: { entry: 'watcher/main.ts', port: 9091 },
} as const;
export type AppName = keyof typeof APPS;

interface AppState {
  readonly pid: number;
  readonly port: number;
  readonly log: string;
}

type Say = (line: string) => void;

/** Objects the tests create carry this label; `npm start`'s watcher does not select them. */
export const TEST_LABEL = 'rdsflow.io/test';
const WATCH_SELECTOR = `!${TEST_LABEL}`;

function instance(): string {
  const name = process.env['RDSFLOW_APPS_INSTANCE'] ?? '';
  if (name !== '' && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name))
    throw new StackError(`RDSFLOW_APPS_INSTANCE must be a DNS label, got ${JSON.stringify(name)}`);
  return name;
}

function suffix(): string {
  const name = instance();
  return name === '' ? '' : `-${name}`;
}

function stateFile(layout: Layout): string {
  return join(layout.state, `apps${suffix()}.json`);
}

function load(layout: Layout): Partial<Record<AppName, AppState>> {
  return loadFile(stateFile(layout));
}

function loadFile(file: string): Partial<Record<AppName, AppState>> {
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<AppName, AppState>>)
    : {};
}

function running(name: AppName, app: AppState | undefined): app is AppState {
  return app !== undefined && (cmdline(app.pid)?.includes(APPS[name].entry) ?? false);
}

async function healthy(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await httpGet(url)).status === 200) return true;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return false;
}

/** Starts the worker and the watcher (keeping ones already running); resolves when both are ready. */
export async function startApps(
  layout: Layout,
  say: Say,
  extraEnv: Record<string, string> = {},
): Promise<Record<AppName, AppState>> {
  const state = load(layout);
  const env = stackEnv(layout);
  const taken = new Set<number>();
  const result: Partial<Record<AppName, AppState>> = {};
  for (const name of Object.keys(APPS) as AppName[]) {
    const known = state[name];
    if (running(name, known)) {
      say(`${name}: already running (pid ${known.pid}), /healthz on ${LOOPBACK}:${known.port}`);
      result[name] = known;
      taken.add(known.port);
      continue;
    }
    const { port, note } = await choosePort(APPS[name].port, taken);
    if (note) say(`${name}: ${note}`);
    const log = join(layout.logs, `${name}${suffix()}.log`);
    if (existsSync(log)) renameSync(log, `${log}.1`);
    const pid = startDetached(
      process.execPath,
      ['--import', 'tsx', join(layout.repo, APPS[name].entry)],
      log,
      {
        ...process.env,
        ...env,
        KUBECONFIG: kubeconfigPath(layout, name),
        RDSFLOW_HTTP_ADDR: `${LOOPBACK}:${port}`,
        ...(name === 'watcher' && !process.env['RDSFLOW_WATCH_SELECTOR']
          ? { RDSFLOW_WATCH_SELECTOR: WATCH_SELECTOR }
          : {}),
        ...extraEnv,
      },
    );
    result[name] = { pid, port, log };
    writeFileSync(stateFile(layout), `${JSON.stringify({ ...state, ...result }, null, 2)}\n`);
    say(`${name}: started (pid ${pid}), waiting until ready ...`);
  }
  for (const name of Object.keys(APPS) as AppName[]) {
    const app = result[name] as AppState;
    if (!(await healthy(`http://${LOOPBACK}:${app.port}/healthz`, 90_000))) {
      const tail = existsSync(app.log) ? readFileSync(app.log, 'utf8').slice(-2_000) : '';
      throw new StackError(`${name} did not become ready; its log ${app.log} ends:\n${tail}`);
    }
    say(`${name}: ready (${LOOPBACK}:${app.port}/healthz), log ${app.log}`);
  }
  return result as Record<AppName, AppState>;
}

/** Stops the named apps (all by default) of this instance (RDSFLOW_APPS_INSTANCE). */
export async function stopApps(
  layout: Layout,
  say: Say,
  names: readonly AppName[] = Object.keys(APPS) as AppName[],
): Promise<void> {
  await stopAppsIn(stateFile(layout), say, names);
}

/** Stops the apps of every instance (`down`). */
export async function stopAllApps(layout: Layout, say: Say): Promise<void> {
  if (!existsSync(layout.state)) return;
  for (const file of readdirSync(layout.state).filter((f) => /^apps(-.+)?\.json$/.test(f)))
    await stopAppsIn(join(layout.state, file), say, Object.keys(APPS) as AppName[]);
}

async function stopAppsIn(file: string, say: Say, names: readonly AppName[]): Promise<void> {
  const state = loadFile(file);
  for (const name of names) {
    const app = state[name];
    if (running(name, app)) {
      await stopGroup(app.pid);
      say(`${name}: stopped (pid ${app.pid})`);
    }
    delete state[name];
  }
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}
