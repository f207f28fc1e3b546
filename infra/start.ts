// `npm start`: the main job on one command. Brings the local stack up, starts the worker and
// the watcher, applies the sample Database, follows it to Available and says where everything
// is: the Temporal UI, the Vault path, the Consul key.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { startApps } from './apps.js';
import { binaries, type Layout } from './layout.js';
import { StackError, stackEnv, up } from './stack.js';

/** What points a shell's clients (the CLI, kubectl, bao) at the local stack. */
export const ENV_LINE = 'eval "$(npm run -s infra -- env)"';

export interface StartOptions {
  readonly namespace: string;
  readonly name: string;
  /** labels for the sample object */
  readonly labels?: Record<string, string>;
  /** passed to the worker and watcher (e.g. RDSFLOW_WATCH_NAMESPACES) */
  readonly appEnv?: Record<string, string>;
  readonly timeoutMs?: number;
}

interface Sample {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  status?: {
    phase?: string;
    message?: string;
    endpoint?: { host: string; port: number };
    secretRef?: { vaultPath: string };
    consulKey?: string;
    workflowId?: string;
  };
}

type Kubectl = (args: string[], input?: string) => Promise<string>;

function kubectlOf(layout: Layout, env: Record<string, string>): Kubectl {
  return (args, input) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(
        binaries(layout).kubectl,
        ['--kubeconfig', env['KUBECONFIG'] ?? '', ...args],
        (error, stdout, stderr) =>
          error
            ? reject(new StackError(`kubectl ${args[0] ?? ''}: ${stderr.trim()}`))
            : resolve(stdout),
      );
      if (input !== undefined) child.stdin?.end(input);
    });
}

/** deploy/samples/orders.yaml under the name, namespace and labels asked for. */
function sampleOf(layout: Layout, options: StartOptions): Sample {
  const sample = parse(
    readFileSync(join(layout.repo, 'deploy', 'samples', 'orders.yaml'), 'utf8'),
  ) as Sample;
  sample.metadata.name = options.name;
  sample.metadata.namespace = options.namespace;
  if (options.labels && Object.keys(options.labels).length > 0)
    sample.metadata.labels = { ...sample.metadata.labels, ...options.labels };
  return sample;
}

async function apply(kubectl: Kubectl, sample: Sample, namespace: string): Promise<void> {
  const namespaces = (await kubectl(['get', 'namespaces', '-o', 'name'])).split('\n');
  if (!namespaces.includes(`namespace/${namespace}`)) {
    await kubectl(['create', 'namespace', namespace]);
  }
  await kubectl(['apply', '-f', '-'], stringify(sample));
}

/** Polls the object, saying each new phase and message, until it is Available; throws if it ends otherwise. */
async function followToAvailable(
  kubectl: Kubectl,
  say: (line: string) => void,
  options: StartOptions,
): Promise<Sample> {
  const ref = `${options.namespace}/${options.name}`;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const started = Date.now();
  const get = ['get', 'databases.rdsflow.io', '-n', options.namespace, options.name, '-o', 'json'];
  let last = '';
  for (;;) {
    const object = JSON.parse(await kubectl(get)) as Sample;
    const phase = object.status?.phase ?? 'Pending';
    const line = `  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${phase.padEnd(16)} ${object.status?.message ?? ''}`;
    if (line.slice(8) !== last.slice(8)) say(line);
    last = line;
    if (phase === 'Available') return object;
    if (phase === 'Failed' || phase === 'Cancelled') {
      throw new StackError(
        `${ref} ended ${phase}: ${object.status?.message ?? ''}; see \`npm run rdsflow -- history ${ref}\``,
      );
    }
    if (Date.now() - started > timeoutMs)
      throw new StackError(`${ref} is not Available after ${timeoutMs / 1000}s`);
    await sleep(500);
  }
}

/** Where everything is, and what to do next. */
function sayWhere(
  layout: Layout,
  env: Record<string, string>,
  say: (line: string) => void,
  options: StartOptions,
  status: NonNullable<Sample['status']>,
): void {
  const ref = `${options.namespace}/${options.name}`;
  const ui = env['RDSFLOW_TEMPORAL_UI'] ?? '';
  const query = encodeURIComponent(
    `DatabaseNamespace = '${options.namespace}' AND DatabaseName = '${options.name}'`,
  );
  const vaultPath = status.secretRef?.vaultPath ?? '';
  say('');
  say(`${ref} is Available at ${status.endpoint?.host ?? '?'}:${status.endpoint?.port ?? '?'}`);
  say(
    `  Temporal UI   ${ui}/namespaces/${env['TEMPORAL_NAMESPACE'] ?? 'default'}/workflows?query=${query}`,
  );
  say(`  Vault         ${vaultPath}  (credentials; read them with:`);
  say(`                ${ENV_LINE}; ${binaries(layout).bao} kv get ${vaultPath})`);
  say(
    `  Consul        ${status.consulKey ?? ''}  (curl -s 'http://${env['CONSUL_HTTP_ADDR'] ?? ''}/v1/kv/${status.consulKey ?? ''}?recurse')`,
  );
  say(`  workflow      ${status.workflowId ?? ''}`);
  sayNext(say, options);
}

function sayNext(say: (line: string) => void, options: StartOptions): void {
  const ref = `${options.namespace}/${options.name}`;
  say('');
  say('next:');
  // a new shell knows none of the stack's addresses: the CLI and kubectl need them first
  say(`  ${ENV_LINE}   # once per shell: the CLI and kubectl find these servers`);
  say(`  npm run rdsflow -- describe ${ref}        # phase, step, where things are`);
  say(`  npm run rdsflow -- history ${ref}         # every step, attempt and duration`);
  say(`  npm run rdsflow -- cancel <ns>/<name>     # cancel one that is provisioning`);
  say(
    `  $RDSFLOW_KUBECTL delete database -n ${options.namespace} ${options.name}   # deleted per deletionPolicy`,
  );
  say('  npm run infra -- down                     # stop everything');
}

export async function start(
  layout: Layout,
  say: (line: string) => void,
  options: StartOptions,
): Promise<void> {
  await up(layout, say);
  say('');
  await startApps(layout, say, options.appEnv);
  const env = stackEnv(layout);
  const kubectl = kubectlOf(layout, env);
  say('');
  say(
    `applying the sample Database ${options.namespace}/${options.name} (deploy/samples/orders.yaml)`,
  );
  await apply(kubectl, sampleOf(layout, options), options.namespace);
  const object = await followToAvailable(kubectl, say, options);
  sayWhere(layout, env, say, options, object.status ?? {});
}
