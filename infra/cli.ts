// `npm run infra -- up|down|status|env|install`: the local stack's composition root.
import { APPS, stopAllApps, stopApps, type AppName } from './apps.js';
import { buildImage } from './image.js';
import { installAll } from './install.js';
import { layoutFrom, type Layout } from './layout.js';
import { StackError, down, stackEnv, status, stop, up, type ServerStatus } from './stack.js';
import { start } from './start.js';
import { IMAGE_TOOLS, TOOLS, ensureTools, type Tool } from './tools.js';

const USAGE = `usage: npm run infra -- <command> [options]

commands:
  start [--namespace NS] [--name NAME] [--label KEY=VALUE]
                  up, then the worker and the watcher, then apply deploy/samples/orders.yaml
                  and follow it to Available (\`npm start\`); its watcher leaves objects
                  labelled rdsflow.io/test (the tests') alone
  up              install what is missing, start every server on 127.0.0.1, wait until healthy
  down [--purge]  stop the worker, the watcher and every server of the stack; --purge also deletes data
  stop NAME...    stop some servers (keeping their ports for the next \`up\`), or worker/watcher
  restart NAME... stop some servers and bring the stack up again on the same ports
  status [--json] show each server, its pid, ports and health (exit 3 when one is down)
  env [--json]    print the client environment: eval "$(npm run -s infra -- env)"
  install         only install (or check) the pinned servers
  tools           install the Debian tools tests use (chromium, buildah, podman, runc, busybox)
  image           build the container image (deploy/Containerfile) with buildah, on a Node 22
                  base assembled offline; run it with podman (see docs/operating.md)

environment:
  RDSFLOW_CACHE   where binaries are cached (default ~/.cache/rdsflow)
  RDSFLOW_STATE   where data, logs and state live (default $RDSFLOW_CACHE/state)
  RDSFLOW_APPS_INSTANCE
                  start/stop a second worker and watcher beside the default pair`;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function labelOption(value: string): Record<string, string> {
  if (value === '') return {};
  const [key, label, ...rest] = value.split('=');
  if (!key || label === undefined || rest.length > 0)
    throw new StackError(`--label takes KEY=VALUE, got ${JSON.stringify(value)}`);
  return { [key]: label };
}

function serverNames(args: readonly string[]): string[] {
  const names = args.filter((a) => !a.startsWith('-'));
  if (names.length === 0) throw new StackError('name at least one server, e.g. `restart temporal`');
  return names;
}

function startCommand(layout: Layout, args: readonly string[]): Promise<void> {
  const option = (flag: string, fallback: string) => {
    const i = args.indexOf(flag);
    return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
  };
  return start(layout, say, {
    namespace: option('--namespace', 'default'),
    name: option('--name', 'orders'),
    labels: labelOption(option('--label', '')),
  });
}

async function stopCommand(layout: Layout, args: readonly string[]): Promise<void> {
  const names = serverNames(args);
  const apps = names.filter((n): n is AppName => n in APPS);
  if (apps.length > 0) await stopApps(layout, say, apps);
  const servers = names.filter((n) => !(n in APPS));
  if (servers.length > 0) await stop(layout, say, servers);
}

function statusLine(s: ServerStatus): string {
  const state = !s.running ? 'stopped' : s.healthy ? 'healthy' : `UNHEALTHY: ${s.problem ?? ''}`;
  const ports = Object.entries(s.ports ?? {})
    .map(([role, p]) => `${role}=${p}`)
    .join(' ');
  return `${s.name.padEnd(15)} ${state.padEnd(10)} ${s.pid ? `pid ${s.pid}` : ''} ${ports}  log: ${s.log}`;
}

async function statusCommand(layout: Layout, args: readonly string[]): Promise<number> {
  const servers = await status(layout);
  if (args.includes('--json')) say(JSON.stringify(servers, null, 2));
  else for (const s of servers) say(statusLine(s));
  return servers.every((s) => s.healthy) ? 0 : 3;
}

function envCommand(layout: Layout, args: readonly string[]): void {
  const env = stackEnv(layout);
  if (args.includes('--json')) say(JSON.stringify(env, null, 2));
  else for (const [k, v] of Object.entries(env)) say(`export ${k}=${shellQuote(v)}`);
}

/** Each command, given the arguments after it; its exit code (0 unless it says otherwise). */
const COMMANDS: Readonly<
  Record<string, (layout: Layout, args: readonly string[]) => Promise<number | void> | void>
> = {
  start: startCommand,
  up: (layout) => up(layout, say),
  down: async (layout, args) => {
    await stopAllApps(layout, say);
    await down(layout, say, { purge: args.includes('--purge') });
  },
  stop: stopCommand,
  restart: async (layout, args) => {
    await stop(layout, say, serverNames(args));
    await up(layout, say);
  },
  install: (layout) => installAll(layout, say),
  tools: (layout) => ensureTools(layout, say, Object.keys(TOOLS) as Tool[]),
  image: async (layout) => {
    await ensureTools(layout, say, IMAGE_TOOLS);
    await buildImage(layout, say);
  },
  status: statusCommand,
  env: envCommand,
};

const HELP = new Set(['help', '--help', '-h']);

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || HELP.has(command)) {
    say(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`unknown command: ${command}\n\n${USAGE}\n`);
    return 2;
  }
  return (await run(layoutFrom(process.env), rest)) ?? 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error: unknown) {
  const message =
    error instanceof StackError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`infra: ${message}\n`);
  process.exitCode = 1;
}
