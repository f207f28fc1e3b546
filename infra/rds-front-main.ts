// The local stack's RDS: the realistic front (infra/rds-front.ts) in front of moto, as a server.
// `node --import tsx infra/rds-front-main.ts --target URL --port N [--journal FILE (the previous run's kept as FILE.1)]
//   [--creating-ms N] [--backing-up-ms N] [--modifying-ms N] [--deleting-ms N]`
import { parseArgs } from 'node:util';
import { startRdsFront } from './rds-front.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    journal: { type: 'string' },
    // identifies the code it runs (infra/servers.ts); unused here
    revision: { type: 'string' },
    'creating-ms': { type: 'string', default: '1500' },
    'backing-up-ms': { type: 'string', default: '500' },
    'modifying-ms': { type: 'string', default: '500' },
    'deleting-ms': { type: 'string', default: '1000' },
  },
});
if (!values.target) {
  process.stderr.write('rds-front: --target <moto URL> is required\n');
  process.exit(2);
}
const ms = (name: string, value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`rds-front: --${name} must be a whole number of milliseconds\n`);
    process.exit(2);
  }
  return n;
};

const front = await startRdsFront({
  target: values.target,
  host: values.host,
  port: Number(values.port),
  ...(values.journal ? { journalFile: values.journal } : {}),
  timings: {
    creatingMs: ms('creating-ms', values['creating-ms']),
    backingUpMs: ms('backing-up-ms', values['backing-up-ms']),
    modifyingMs: ms('modifying-ms', values['modifying-ms']),
    deletingMs: ms('deleting-ms', values['deleting-ms']),
  },
});
process.stdout.write(`rds-front: ${front.url} → ${values.target}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void front.close().then(() => process.exit(0));
  });
}
