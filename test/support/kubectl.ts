// kubectl as a user runs it, against the local stack's apiserver (the admin kubeconfig).
import { execFile } from 'node:child_process';
import { stringify } from 'yaml';
import { API_GROUP, API_VERSION } from '../../contracts/database.js';
import { TEST_LABEL, config, tools } from './env.js';

export function kubectl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      tools.kubectl,
      ['--kubeconfig', config.kube.kubeconfigPath ?? '', ...args],
      (error, stdout, stderr) =>
        error ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `kubectl apply -f -` of a Database (in namespace default unless told). */
export async function applyDatabase(
  name: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
  namespace = 'default',
): Promise<void> {
  const manifest = {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'Database',
    metadata: { name, namespace, labels: { [TEST_LABEL]: 'true', ...labels } },
    spec,
  };
  await kubectl(['apply', '-f', '-'], stringify(manifest));
}

/** `kubectl patch` of a Database's spec (a merge patch, as a user edits it). */
export async function patchDatabase(name: string, spec: Record<string, unknown>): Promise<void> {
  await kubectl([
    'patch',
    'databases.rdsflow.io',
    name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec }),
  ]);
}

/** `kubectl delete database NAME --wait=false`: the finalizer holds it until rdsflow is done. */
export async function deleteDatabase(name: string, namespace = 'default'): Promise<void> {
  await kubectl(['delete', '-n', namespace, 'databases.rdsflow.io', name, '--wait=false']);
}

/** `kubectl label database NAME key=value --overwrite`. */
export async function labelDatabase(name: string, label: string, value: string): Promise<void> {
  await kubectl(['label', 'databases.rdsflow.io', name, `${label}=${value}`, '--overwrite']);
}
