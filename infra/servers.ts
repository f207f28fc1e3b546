// The real servers of the local stack: how each is started on loopback, probed and pointed at.
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTE_FLAGS } from '../contracts/search-attributes.js';
import { binaries, type Layout } from './layout.js';
import { LOOPBACK, httpProbe, type Probe } from './net.js';
import { runLogged } from './proc.js';

const execFileAsync = promisify(execFile);

export interface Secrets {
  /** root token of the dev OpenBao server */
  readonly vaultToken: string;
  /** bearer token of the apiserver's admin user (system:masters) */
  readonly kubeToken: string;
}

export type Binaries = ReturnType<typeof binaries>;

export interface ServerContext {
  readonly layout: Layout;
  readonly bin: Binaries;
  readonly secrets: Secrets;
  /** the ports chosen for every server of the stack, by server then role */
  readonly ports: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly dataDir: string;
  readonly say: (line: string) => void;
}

export interface ServerSpec {
  readonly name: string;
  readonly what: string;
  /** preferred loopback ports by role */
  readonly ports: Readonly<Record<string, number>>;
  /** a server that must be healthy before this one starts */
  readonly after?: string;
  readonly startupTimeoutMs: number;
  /** what identifies its process (a path on its command line) */
  binary(bin: Binaries): string;
  /** what to run, when not `binary` itself (a script run by node) */
  command?(bin: Binaries): string;
  prepare?(ctx: ServerContext): Promise<void>;
  args(ctx: ServerContext): string[];
  probe(ctx: ServerContext): Probe;
  /** runs once the server is healthy (install the CRD, check the KV mount, ...) */
  ready?(ctx: ServerContext): Promise<void>;
  /** environment variables (those config/config.ts reads) that point clients at this server */
  env(ctx: ServerContext): Record<string, string>;
  /** the server process's own environment, beside the caller's */
  readonly processEnv?: Readonly<Record<string, string>>;
  /** credentials it needs, in its environment: a command line is visible to every user */
  secretEnv?(ctx: ServerContext): Record<string, string>;
  /** where a person looks, e.g. the Temporal UI */
  urls?(ctx: ServerContext): Record<string, string>;
}

/** `{ '--a': 'x', '--b': true }` → `['--a', 'x', '--b']`, in order. */
function flags(options: Record<string, string | number | true>): string[] {
  return Object.entries(options).flatMap(([flag, value]) =>
    value === true ? [flag] : [flag, String(value)],
  );
}

function port(ctx: ServerContext, server: string, role: string): number {
  const p = ctx.ports[server]?.[role];
  if (p === undefined) throw new Error(`no ${role} port chosen for ${server}`);
  return p;
}

const temporal: ServerSpec = {
  name: 'temporal',
  what: 'Temporal dev server with Web UI, persisted to SQLite',
  ports: { grpc: 7233, ui: 8233, http: 7243, metrics: 7244 },
  startupTimeoutMs: 60_000,
  binary: (bin) => bin.temporal,
  args: (ctx) => [
    'server',
    'start-dev',
    ...flags({
      '--ip': LOOPBACK,
      '--port': port(ctx, 'temporal', 'grpc'),
      '--ui-ip': LOOPBACK,
      '--ui-port': port(ctx, 'temporal', 'ui'),
      '--http-port': port(ctx, 'temporal', 'http'),
      '--metrics-port': port(ctx, 'temporal', 'metrics'),
      '--db-filename': join(ctx.dataDir, 'temporal.db'),
      '--namespace': 'default',
      '--ui-disable-news-fetch': true,
      '--log-level': 'warn',
    }),
    // a write-ahead log synced at checkpoints, not an fsync'd rollback journal per transaction:
    // as safe against a crashed process, and a local stack does not outlive a power cut
    ...['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'],
    // activities scheduled by a workflow task go back with its answer to the worker that sent
    // it, instead of through a poll (what Temporal Cloud does too)
    ...['--dynamic-config-value', 'system.enableActivityEagerExecution=true'],
  ],
  probe(ctx) {
    const ui = httpProbe(
      `http://${LOOPBACK}:${port(ctx, 'temporal', 'ui')}/`,
      (r) => r.status === 200,
    );
    return async () => {
      try {
        const { stdout } = await execFileAsync(
          ctx.bin.temporal,
          [
            'operator',
            'cluster',
            'health',
            '--address',
            `${LOOPBACK}:${port(ctx, 'temporal', 'grpc')}`,
          ],
          { timeout: 5_000 },
        );
        if (!stdout.includes('SERVING')) return `cluster health: ${stdout.trim()}`;
      } catch (error: unknown) {
        return `cluster health: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
      }
      return ui();
    };
  },
  // NOTE: start-dev's --search-attribute is ignored for an existing SQLite file; `operator
  // search-attribute create` is idempotent, so it runs on every start
  async ready(ctx) {
    const log = join(ctx.layout.logs, 'temporal-setup.log');
    for (const pair of SEARCH_ATTRIBUTE_FLAGS) {
      const [name = '', type = ''] = pair.split('=');
      await runLogged(
        ctx.bin.temporal,
        [
          ...['operator', 'search-attribute', 'create', '--name', name, '--type', type],
          ...['--address', `${LOOPBACK}:${port(ctx, 'temporal', 'grpc')}`],
        ],
        log,
      );
    }
    ctx.say(`temporal: search attributes ${SEARCH_ATTRIBUTE_FLAGS.join(', ')} registered`);
  },
  env: (ctx) => ({
    TEMPORAL_ADDRESS: `${LOOPBACK}:${port(ctx, 'temporal', 'grpc')}`,
    TEMPORAL_NAMESPACE: 'default',
    RDSFLOW_TEMPORAL_UI: `http://${LOOPBACK}:${port(ctx, 'temporal', 'ui')}`,
  }),
  urls: (ctx) => ({ 'Temporal UI': `http://${LOOPBACK}:${port(ctx, 'temporal', 'ui')}` }),
};

const etcd: ServerSpec = {
  name: 'etcd',
  what: 'etcd, the store behind kube-apiserver',
  ports: { client: 2379, peer: 2380 },
  startupTimeoutMs: 30_000,
  binary: (bin) => bin.etcd,
  args: (ctx) => {
    const client = `http://${LOOPBACK}:${port(ctx, 'etcd', 'client')}`;
    const peer = `http://${LOOPBACK}:${port(ctx, 'etcd', 'peer')}`;
    return flags({
      '--name': 'rdsflow',
      '--data-dir': ctx.dataDir,
      '--listen-client-urls': client,
      '--advertise-client-urls': client,
      '--listen-peer-urls': peer,
      '--initial-advertise-peer-urls': peer,
      '--initial-cluster': `rdsflow=${peer}`,
      // dev data only: trading crash durability for test speed
      '--unsafe-no-fsync': true,
      '--log-level': 'warn',
    });
  },
  probe: (ctx) =>
    httpProbe(`http://${LOOPBACK}:${port(ctx, 'etcd', 'client')}/health`, (r) =>
      r.body.includes('"true"'),
    ),
  // for tests that work etcd directly (a compaction that expires continue tokens)
  env: (ctx) => ({ RDSFLOW_ETCD_URL: `http://${LOOPBACK}:${port(ctx, 'etcd', 'client')}` }),
};

/** Writes to Database objects (not their status), with the object as stored afterwards. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: RequestResponse
    resources: [{ group: rdsflow.io, resources: [databases] }]
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`;

function auditLogPath(ctx: ServerContext): string {
  return join(ctx.dataDir, 'audit.log');
}

const kubeApiserver: ServerSpec = {
  name: 'kube-apiserver',
  what: 'Kubernetes API server with RBAC and token auth, Database CRD installed',
  ports: { https: 6443 },
  after: 'etcd',
  startupTimeoutMs: 90_000,
  binary: (bin) => bin.kubeApiserver,
  async prepare(ctx) {
    await ensurePki(ctx);
    // the admin, plus the watcher's and worker's service accounts as deploy/rbac names them:
    // RBAC matches the user name, so the local stack tests the manifests' least privilege
    const accounts = Object.entries(SERVICE_ACCOUNTS).map(
      ([role, account]) =>
        `${serviceAccountToken(ctx.secrets, role)},system:serviceaccount:${account},${account},` +
        `"system:serviceaccounts,system:serviceaccounts:${account.split(':')[0] ?? ''},system:authenticated"`,
    );
    writeFileSync(
      join(ctx.dataDir, 'tokens.csv'),
      [
        `${ctx.secrets.kubeToken},rdsflow-admin,rdsflow-admin,"system:masters"`,
        ...accounts,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    writeFileSync(join(ctx.dataDir, 'audit-policy.yaml'), AUDIT_POLICY);
    writeKubeconfig(ctx, kubeconfigPath(ctx.layout), 'rdsflow-admin', ctx.secrets.kubeToken);
    for (const role of Object.keys(SERVICE_ACCOUNTS)) {
      writeKubeconfig(
        ctx,
        kubeconfigPath(ctx.layout, role),
        `rdsflow-${role}`,
        serviceAccountToken(ctx.secrets, role),
      );
    }
  },
  args: (ctx) => {
    const pki = join(ctx.dataDir, 'pki');
    return flags({
      '--etcd-servers': `http://${LOOPBACK}:${port(ctx, 'etcd', 'client')}`,
      '--bind-address': LOOPBACK,
      '--advertise-address': LOOPBACK,
      '--secure-port': port(ctx, 'kube-apiserver', 'https'),
      '--tls-cert-file': join(pki, 'apiserver.crt'),
      '--tls-private-key-file': join(pki, 'apiserver.key'),
      '--cert-dir': pki,
      '--token-auth-file': join(ctx.dataDir, 'tokens.csv'),
      '--authorization-mode': 'RBAC',
      '--service-account-issuer': 'https://kubernetes.default.svc.cluster.local',
      '--service-account-key-file': join(pki, 'sa.pub'),
      '--service-account-signing-key-file': join(pki, 'sa.key'),
      '--service-cluster-ip-range': '10.0.0.0/24',
      // NOTE: there is no controller-manager to mint service-account tokens, so the admission
      // plugin that demands them would reject every pod; rdsflow only needs its CRD.
      '--disable-admission-plugins': 'ServiceAccount',
      '--profiling=false': true,
      // every write to a Database (who deleted what, with which spec): the tests' audits read it
      '--audit-policy-file': join(ctx.dataDir, 'audit-policy.yaml'),
      '--audit-log-path': auditLogPath(ctx),
      '--audit-log-maxsize': 200,
      '--audit-log-maxbackup': 1,
      // NOTE: the apiserver compacts etcd every 5 minutes by default; continue tokens and watch
      // versions expire with it. Seconds here let the tests meet that expiry (410 Gone).
      '--etcd-compaction-interval': '5s',
    });
  },
  probe: (ctx) =>
    httpProbe(
      `https://${LOOPBACK}:${port(ctx, 'kube-apiserver', 'https')}/readyz`,
      (r) => r.status === 200,
      {
        ca: readFileSync(join(ctx.dataDir, 'pki', 'ca.crt')),
        token: ctx.secrets.kubeToken,
      },
    ),
  async ready(ctx) {
    const log = join(ctx.layout.logs, 'kubectl.log');
    const crds = join(ctx.layout.repo, 'deploy', 'crds');
    const kubectl = (...args: string[]) =>
      runLogged(ctx.bin.kubectl, ['--kubeconfig', kubeconfigPath(ctx.layout), ...args], log);
    await kubectl('apply', '--server-side', '--force-conflicts', '-f', crds);
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', '-f', crds);
    // NOTE: Established can precede the resource being served for a moment; a list proves it is
    await kubectl('get', 'databases.rdsflow.io', '--all-namespaces');
    await kubectl(
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      join(ctx.layout.repo, 'deploy', 'rbac'),
    );
    ctx.say('kube-apiserver: Database CRD installed and served; watcher and worker RBAC applied');
  },
  env: (ctx) => ({
    KUBECONFIG: kubeconfigPath(ctx.layout),
    RDSFLOW_KUBE_AUDIT_LOG: auditLogPath(ctx),
  }),
};

const moto: ServerSpec = {
  name: 'moto',
  what: 'moto serving the RDS API (in memory)',
  ports: { http: 5000 },
  startupTimeoutMs: 30_000,
  binary: (bin) => bin.motoServer,
  args: (ctx) => ['-H', LOOPBACK, '-p', String(port(ctx, 'moto', 'http'))],
  // moto keeps an automated snapshot of every instance it ever created, deleted or not, and
  // counts it against its snapshot quota (1,000): after a thousand creates in one moto's life
  // every CreateDBInstance fails SnapshotQuotaExceeded. Real RDS counts manual snapshots only.
  processEnv: { MOTO_RDS_SNAPSHOT_LIMIT: '1000000' },
  probe: (ctx) =>
    httpProbe(`http://${LOOPBACK}:${port(ctx, 'moto', 'http')}/moto-api/`, (r) => r.status === 200),
  env: (ctx) => ({
    AWS_REGION: 'us-east-1',
    // moto itself, for tests that check what is really there (and set up others' instances)
    RDSFLOW_MOTO_URL: `http://${LOOPBACK}:${port(ctx, 'moto', 'http')}`,
    // moto's STS says which account the credentials are (a delete proves "not found" there)
    AWS_ENDPOINT_URL_STS: `http://${LOOPBACK}:${port(ctx, 'moto', 'http')}`,
    // moto accepts any credentials; these only stop the SDK from looking further
    AWS_ACCESS_KEY_ID: 'moto',
    AWS_SECRET_ACCESS_KEY: 'moto',
  }),
};

const FRONT_SCRIPT = fileURLToPath(new URL('./rds-front-main.ts', import.meta.url));
const STORE_FRONT_SCRIPT = fileURLToPath(new URL('./store-front-main.ts', import.meta.url));

/** A hash of a front's code: on the command line, so a changed front is restarted by `up`. */
function frontRevision(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(readFileSync(fileURLToPath(new URL(`./${file}`, import.meta.url))));
  }
  return hash.digest('hex').slice(0, 12);
}

const RDS_FRONT_FILES = [
  'rds-front-main.ts',
  'rds-front.ts',
  ...readdirSync(fileURLToPath(new URL('./rds-front/', import.meta.url)))
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => `rds-front/${f}`),
  'store-front.ts',
  'forward.ts',
  '../worker/attribution.ts',
];

/** RDS as rdsflow sees it: moto behind a front that behaves like RDS (states, refusals, journal). */
const rdsFront: ServerSpec = {
  name: 'rds-front',
  what: 'realistic RDS in front of moto: creating/deleting take time, RDS refusals, a journal',
  ports: { http: 5001 },
  after: 'moto',
  startupTimeoutMs: 30_000,
  binary: () => FRONT_SCRIPT,
  command: () => process.execPath,
  args: (ctx) => [
    '--import',
    'tsx',
    FRONT_SCRIPT,
    ...flags({
      '--target': `http://${LOOPBACK}:${port(ctx, 'moto', 'http')}`,
      '--host': LOOPBACK,
      '--port': port(ctx, 'rds-front', 'http'),
      '--journal': join(ctx.layout.logs, 'rds-journal.ndjson'),
      '--revision': frontRevision(RDS_FRONT_FILES),
    }),
  ],
  probe: (ctx) =>
    httpProbe(
      `http://${LOOPBACK}:${port(ctx, 'rds-front', 'http')}/_front/health`,
      (r) => r.status === 200,
    ),
  env: (ctx) => ({
    AWS_ENDPOINT_URL_RDS: `http://${LOOPBACK}:${port(ctx, 'rds-front', 'http')}`,
  }),
};

const vault: ServerSpec = {
  name: 'vault',
  what: 'OpenBao dev server (Vault API), KV v2 at secret/ (in memory)',
  ports: { http: 8200 },
  startupTimeoutMs: 30_000,
  binary: (bin) => bin.bao,
  args: (ctx) => [
    'server',
    ...flags({
      '-dev': true,
      '-dev-listen-address': `${LOOPBACK}:${port(ctx, 'vault', 'http')}`,
      '-dev-root-token-id': ctx.secrets.vaultToken,
      '-dev-no-store-token': true,
    }),
  ],
  probe: (ctx) =>
    httpProbe(
      `http://${LOOPBACK}:${port(ctx, 'vault', 'http')}/v1/sys/health`,
      (r) => r.status === 200,
    ),
  async ready(ctx) {
    const probe = httpProbe(
      `http://${LOOPBACK}:${port(ctx, 'vault', 'http')}/v1/sys/mounts/secret/tune`,
      (r) =>
        r.status === 200 &&
        (JSON.parse(r.body) as { options?: { version?: string } }).options?.version === '2',
      { token: ctx.secrets.vaultToken },
    );
    const problem = await probe();
    if (problem) throw new Error(`OpenBao has no KV v2 engine at secret/: ${problem}`);
  },
  env: (ctx) => ({
    // OpenBao itself, for tests that check what is really there (VAULT_ADDR is its front)
    RDSFLOW_VAULT_URL: `http://${LOOPBACK}:${port(ctx, 'vault', 'http')}`,
    VAULT_TOKEN: ctx.secrets.vaultToken,
  }),
};

const STORE_FRONT_FILES = [
  'store-front-main.ts',
  'store-front.ts',
  'vault-front.ts',
  'consul-front.ts',
  'forward.ts',
  '../worker/attribution.ts',
];

/** A journaling front of a store (infra/store-front-main.ts), in front of `server`'s port. */
function storeFront(
  kind: 'vault' | 'consul',
  server: string,
  extra: (ctx: ServerContext) => string[] = () => [],
): Pick<ServerSpec, 'binary' | 'command' | 'args' | 'probe' | 'after' | 'startupTimeoutMs'> {
  const name = `${kind}-front`;
  return {
    after: server,
    startupTimeoutMs: 30_000,
    binary: () => STORE_FRONT_SCRIPT,
    command: () => process.execPath,
    args: (ctx) => [
      '--import',
      'tsx',
      STORE_FRONT_SCRIPT,
      ...flags({
        '--kind': kind,
        '--target': `http://${LOOPBACK}:${port(ctx, server, 'http')}`,
        '--host': LOOPBACK,
        '--port': port(ctx, name, 'http'),
        '--journal': join(ctx.layout.logs, `${kind}-journal.ndjson`),
        '--revision': frontRevision(STORE_FRONT_FILES),
      }),
      ...extra(ctx),
    ],
    probe: (ctx) =>
      httpProbe(
        `http://${LOOPBACK}:${port(ctx, name, 'http')}/_front/health`,
        (r) => r.status === 200,
      ),
  };
}

/**
 * Vault as rdsflow sees it: OpenBao behind a front that journals every write and removal under
 * rdsflow/ with the secret's owner just before it, and a SHA-256 of every password written.
 */
const vaultFront: ServerSpec = {
  name: 'vault-front',
  what: 'journaling front of OpenBao: secret writes and removals under rdsflow/, with owners',
  ports: { http: 8210 },
  ...storeFront('vault', 'vault', (ctx) => [
    '--passwords',
    join(ctx.layout.logs, 'vault-passwords.ndjson'),
  ]),
  secretEnv: (ctx) => ({ RDSFLOW_FRONT_VAULT_TOKEN: ctx.secrets.vaultToken }),
  env: (ctx) => ({ VAULT_ADDR: `http://${LOOPBACK}:${port(ctx, 'vault-front', 'http')}` }),
};

const consul: ServerSpec = {
  name: 'consul',
  what: 'Consul 1.8.7 dev agent (in memory)',
  ports: { http: 8500, server: 8300, serfLan: 8301, serfWan: 8302 },
  startupTimeoutMs: 30_000,
  binary: (bin) => bin.consul,
  args: (ctx) => [
    'agent',
    ...flags({
      '-dev': true,
      '-node': 'rdsflow-dev',
      '-client': LOOPBACK,
      '-bind': LOOPBACK,
      '-http-port': port(ctx, 'consul', 'http'),
      '-server-port': port(ctx, 'consul', 'server'),
      '-serf-lan-port': port(ctx, 'consul', 'serfLan'),
      '-serf-wan-port': port(ctx, 'consul', 'serfWan'),
      '-dns-port': -1,
      '-grpc-port': -1,
      '-log-level': 'warn',
    }),
  ],
  // a leader means the dev agent's raft is up and KV writes will succeed
  probe: (ctx) =>
    httpProbe(
      `http://${LOOPBACK}:${port(ctx, 'consul', 'http')}/v1/status/leader`,
      (r) => r.status === 200 && r.body.length > 2,
    ),
  // the agent itself, for tests that check what is really there (CONSUL_HTTP_ADDR is its front)
  env: (ctx) => ({ RDSFLOW_CONSUL_ADDR: `${LOOPBACK}:${port(ctx, 'consul', 'http')}` }),
};

/** Consul as rdsflow sees it: the agent behind a front that journals changes to rdsflow's entries. */
const consulFront: ServerSpec = {
  name: 'consul-front',
  what: 'journaling front of Consul: KV and transactions under rdsflow/, catalog changes',
  ports: { http: 8510 },
  ...storeFront('consul', 'consul'),
  env: (ctx) => ({ CONSUL_HTTP_ADDR: `${LOOPBACK}:${port(ctx, 'consul-front', 'http')}` }),
};

/**
 * The stack's Kubernetes control plane, in start order. A test that needs a second cluster runs
 * these very specs in a directory and on ports of its own (test/support/second-cluster.ts).
 */
export const KUBE_SERVERS: readonly ServerSpec[] = [etcd, kubeApiserver];

/** In start order; a server's `after` is always earlier in the list. */
export const SERVERS: readonly ServerSpec[] = [
  ...KUBE_SERVERS,
  temporal,
  moto,
  rdsFront,
  vault,
  vaultFront,
  consul,
  consulFront,
];

/** Tools (not servers) the tests and scripts use. */
export function toolEnv(layout: Layout): Record<string, string> {
  const bin = binaries(layout);
  return {
    RDSFLOW_WATCHER_KUBECONFIG: kubeconfigPath(layout, 'watcher'),
    RDSFLOW_WORKER_KUBECONFIG: kubeconfigPath(layout, 'worker'),
    RDSFLOW_TEMPORAL_TEST_SERVER: bin.temporalTestServer,
    RDSFLOW_TEMPORAL_CLI: bin.temporal,
    RDSFLOW_KUBECTL: bin.kubectl,
    RDSFLOW_COMPOSE_CHECK: bin.composeCheck,
  };
}

/** The service accounts of deploy/rbac, as `namespace:name`, by role. */
export const SERVICE_ACCOUNTS: Readonly<Record<string, string>> = {
  watcher: 'rdsflow-system:rdsflow-watcher',
  worker: 'rdsflow-system:rdsflow-worker',
};

/** Derived from the admin token, so an existing stack's secrets file needs no new entries. */
function serviceAccountToken(secrets: Secrets, role: string): string {
  return createHmac('sha256', secrets.kubeToken).update(`service-account:${role}`).digest('hex');
}

/** The admin kubeconfig, or with a role the one of that service account (least privilege). */
export function kubeconfigPath(layout: Layout, role?: string): string {
  return join(layout.state, role ? `kubeconfig-${role}` : 'kubeconfig');
}

/** The apiserver's serving certificate: for loopback and the names in-cluster clients use. */
const APISERVER_CERT_EXTENSIONS = [
  'basicConstraints=CA:FALSE',
  'keyUsage=digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
  '',
].join('\n');

async function ensurePki(ctx: ServerContext): Promise<void> {
  const pki = join(ctx.dataDir, 'pki');
  if (existsSync(join(pki, 'sa.pub'))) return;
  mkdirSync(pki, { recursive: true });
  const log = join(ctx.layout.logs, 'kube-pki.log');
  const openssl = (...args: string[]) => runLogged('openssl', args, log, { cwd: pki });
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '3650',
    '-subj',
    '/CN=rdsflow-local-ca',
  );
  await openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'apiserver.key',
    '-out',
    'apiserver.csr',
    '-subj',
    '/CN=kube-apiserver',
  );
  writeFileSync(join(pki, 'apiserver.ext'), APISERVER_CERT_EXTENSIONS);
  await openssl(
    'x509',
    '-req',
    '-in',
    'apiserver.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'apiserver.crt',
    '-days',
    '3650',
    '-extfile',
    'apiserver.ext',
  );
  await openssl('genrsa', '-out', 'sa.key', '2048');
  await openssl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
}

function writeKubeconfig(ctx: ServerContext, path: string, user: string, token: string): void {
  const ca = readFileSync(join(ctx.dataDir, 'pki', 'ca.crt')).toString('base64');
  const server = `https://${LOOPBACK}:${port(ctx, 'kube-apiserver', 'https')}`;
  const yaml = `apiVersion: v1
kind: Config
clusters:
  - name: rdsflow-local
    cluster:
      server: ${server}
      certificate-authority-data: ${ca}
users:
  - name: ${user}
    user:
      token: ${token}
contexts:
  - name: rdsflow-local
    context:
      cluster: rdsflow-local
      user: ${user}
      namespace: default
current-context: rdsflow-local
`;
  writeFileSync(path, yaml, { mode: 0o600 });
}
