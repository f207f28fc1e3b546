// The local stack's journaling fronts of Vault and Consul (infra/vault-front.ts,
// infra/consul-front.ts), as servers:
// `node --import tsx infra/store-front-main.ts --kind vault|consul --target URL --port N
//   [--journal FILE] [--passwords FILE] [--mount secret]`
// The Vault front reads secrets' metadata with the token in RDSFLOW_FRONT_VAULT_TOKEN (the
// environment, not the command line: a command line is visible to every user of the machine).
import { parseArgs } from 'node:util';
import { startConsulFront } from './consul-front.js';
import type { RunningFront } from './store-front.js';
import { startVaultFront } from './vault-front.js';

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    target: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    journal: { type: 'string' },
    passwords: { type: 'string' },
    mount: { type: 'string', multiple: true },
    // identifies the code it runs (infra/servers.ts); unused here
    revision: { type: 'string' },
  },
});

function fail(message: string): never {
  process.stderr.write(`store-front: ${message}\n`);
  process.exit(2);
}

const target = values.target ?? fail('--target <URL of the real server> is required');
const common = {
  target,
  host: values.host,
  port: Number(values.port),
  ...(values.journal ? { journalFile: values.journal } : {}),
};

async function start(): Promise<RunningFront> {
  if (values.kind === 'consul') return startConsulFront(common);
  if (values.kind !== 'vault') fail('--kind must be vault or consul');
  const token =
    process.env['RDSFLOW_FRONT_VAULT_TOKEN'] ?? fail('RDSFLOW_FRONT_VAULT_TOKEN is not set');
  return startVaultFront({
    ...common,
    token,
    ...(values.mount ? { mounts: values.mount } : {}),
    ...(values.passwords ? { passwordFile: values.passwords } : {}),
  });
}

const front = await start();
process.stdout.write(`${values.kind ?? ''}-front: ${front.url} → ${target}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void front.close().then(() => process.exit(0));
  });
}
