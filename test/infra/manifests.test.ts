// The real kube-apiserver validates deploy/crds, deploy/rbac and deploy/k8s (server-side dry
// run: every field checked against the served schemas, the CRD's structural schema and CEL
// rules compiled, nothing created or changed).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { config, tools } from '../support/env.js';

const run = promisify(execFile);
const deploy = fileURLToPath(new URL('../../deploy/', import.meta.url));

describe('deploy manifests on the real apiserver', () => {
  it('are accepted as they are', async () => {
    const { stdout } = await run(tools.kubectl, [
      ...['--kubeconfig', config.kube.kubeconfigPath ?? ''],
      ...['apply', '--dry-run=server', '--server-side', '--field-manager=rdsflow-test'],
      // the stack's CRD is applied by `infra up`: a dry run of this one takes its fields over
      '--force-conflicts',
      ...['-f', `${deploy}crds`, '-f', `${deploy}rbac`, '-f', `${deploy}k8s`],
    ]);
    assert.match(
      stdout,
      /customresourcedefinition\.apiextensions\.k8s\.io\/databases\.rdsflow\.io .*\(server dry run\)/,
    );
    assert.match(stdout, /deployment\.apps\/rdsflow-worker .*\(server dry run\)/);
    assert.match(stdout, /deployment\.apps\/rdsflow-watcher .*\(server dry run\)/);
    assert.match(stdout, /configmap\/rdsflow-config .*\(server dry run\)/);
  });
});
