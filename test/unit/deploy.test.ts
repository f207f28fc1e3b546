// deploy/: the image holds everything its entry points import, runs as non-root, and the
// Kubernetes manifests wire probes, service accounts, config and secrets the way the processes
// read them. (test/infra/manifests.test.ts has the real apiserver validate the manifests.)
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../config/config.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

/** Every repo file reachable from `entry` through relative imports. */
function importGraph(entry: string, visited = new Set<string>()): Set<string> {
  if (visited.has(entry)) return visited;
  visited.add(entry);
  const source = readFileSync(join(repo, entry), 'utf8');
  for (const match of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(repo, resolve(dirname(join(repo, entry)), match[1] ?? '')).replace(
      /\.js$/,
      '.ts',
    );
    if (existsSync(join(repo, target))) importGraph(target, visited);
  }
  return visited;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: {
        serviceAccountName: string;
        securityContext?: { runAsNonRoot?: boolean };
        containers: {
          args: string[];
          env?: { name: string; value?: string }[];
          envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
          ports: { name: string; containerPort: number }[];
          readinessProbe: { httpGet: { path: string; port: string } };
          livenessProbe: { httpGet: { path: string; port: string } };
          resources: { requests: { cpu: string; memory: string } };
        }[];
      };
    };
  };
}

function manifests(dir: string): K8sObject[] {
  return readdirSync(join(repo, dir))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read(join(dir, f))).map((d) => d.toJS() as K8sObject));
}

describe('the container image', () => {
  const containerfile = read('deploy/Containerfile');
  const stages = containerfile.split(/^(?=FROM )/m).slice(1);
  const [build = '', runtime = ''] = stages;
  const copied = [...build.matchAll(/^COPY (?!--from)(\S+) /gm)].map((m) => m[1] ?? '');

  it('is built in two stages on one base, and runs as a non-root user', () => {
    assert.equal(stages.length, 2);
    assert.match(containerfile, /^ARG BASE=\S*node:22\S*$/m);
    assert.ok(stages.every((s) => s.startsWith('FROM ${BASE}')));
    assert.match(build, /RUN npm run build && npm prune --omit=dev/);
    assert.match(runtime, /^USER 1000:1000$/m);
    assert.match(runtime, /COPY --from=build \/app\/dist /);
    assert.doesNotMatch(
      runtime,
      /^COPY (?!--from|bin |deploy\/entrypoint\.sh )/m,
      'no sources at run time',
    );
  });

  it('compiles every file the worker, the watcher and the CLI import', () => {
    for (const entry of ['worker/main.ts', 'watcher/main.ts', 'cli/rdsflow.ts']) {
      for (const file of importGraph(entry)) {
        assert.ok(
          copied.some((c) => file === c || file.startsWith(`${c}/`)),
          `${entry} imports ${file}, which the Containerfile does not copy`,
        );
      }
    }
  });

  it('starts each role from the build output on plain node', () => {
    const entrypoint = read('deploy/entrypoint.sh');
    assert.match(entrypoint, /worker\) exec node dist\/worker\/main\.js/);
    assert.match(entrypoint, /watcher\) exec node dist\/watcher\/main\.js/);
    assert.match(entrypoint, /cli\) exec node dist\/cli\/rdsflow\.js/);
    assert.doesNotMatch(entrypoint, /tsx/);
  });
});

describe('the Kubernetes manifests', () => {
  const objects = [...manifests('deploy/k8s'), ...manifests('deploy/rbac')];
  const config = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === 'rdsflow-config',
  );
  const deployments = objects.filter((o) => o.kind === 'Deployment');

  it('configure only variables rdsflow reads, and enough for each process', () => {
    assert.ok(config?.data);
    const known = new Set(Object.values(CONFIG_VARIABLES).flat());
    for (const key of Object.keys(config.data))
      assert.ok(known.has(key), `unknown variable ${key}`);
    // with a VAULT_TOKEN from the Secret, the schema accepts the worker's and watcher's config
    const env = { ...config.data, VAULT_TOKEN: 'x' };
    loadConfig(env, ['temporal', 'kube', 'aws', 'vault', 'consul', 'worker', 'process']);
    loadConfig(env, ['temporal', 'kube', 'watcher', 'process']);
  });

  it('run worker and watcher as their RBAC service accounts, non-root, probed and sized', () => {
    assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), [
      'rdsflow-watcher',
      'rdsflow-worker',
    ]);
    for (const deployment of deployments) {
      const pod = deployment.spec?.template.spec;
      assert.ok(pod);
      const role = deployment.metadata.name.replace('rdsflow-', '');
      assert.ok(
        objects.some(
          (o) => o.kind === 'ServiceAccount' && o.metadata.name === pod.serviceAccountName,
        ),
        `${role}: service account ${pod.serviceAccountName} is not in deploy/rbac`,
      );
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      const [container] = pod.containers;
      assert.ok(container);
      assert.deepEqual(container.args, [role]);
      const addr = container.env?.find((e) => e.name === 'RDSFLOW_HTTP_ADDR')?.value ?? '';
      const port = container.ports.find((p) => p.name === 'http')?.containerPort;
      assert.equal(addr, `:${port}`, `${role}: probes hit the port the process listens on`);
      assert.equal(container.readinessProbe.httpGet.path, '/healthz');
      assert.equal(container.livenessProbe.httpGet.path, '/livez');
      assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
      const from = container.envFrom ?? [];
      assert.ok(from.some((f) => f.configMapRef?.name === 'rdsflow-config'));
      assert.ok(from.some((f) => f.secretRef?.name === 'rdsflow-secrets'));
    }
  });
});
