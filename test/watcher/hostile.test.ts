// @exclusive: loosens the Database CRD, which every test shares
// Objects stored before the schema tightened, and hostile ones: each gets a clear status and a
// Kubernetes Event naming the problem, no workflow, no retry storm, while the watcher keeps
// serving the good objects beside them. The CRD is loosened for the length of the test (as an
// older release of it would have been), the objects stored, and the real CRD put back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { connectTemporal } from '../../config/clients.js';
import type { DatabaseObject } from '../../contracts/database.js';
import { config, eventually, tools } from '../support/env.js';
import { health, metric, startWatcher, type AppProcess } from '../support/processes.js';
import { NO_SPEC, Watched } from '../support/watched.js';

const run = promisify(execFile);
const crdFile = fileURLToPath(
  new URL('../../deploy/crds/databases.rdsflow.io.yaml', import.meta.url),
);

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(tools.kubectl, [
    '--kubeconfig',
    config.kube.kubeconfigPath ?? '',
    ...args,
  ]);
  return stdout;
}

/** The CRD as an older, permissive release would have had it: spec can be anything. */
function looseCrd(): string {
  const crd = parse(readFileSync(crdFile, 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: Record<string, unknown> } }[] };
  };
  const version = crd.spec.versions[0];
  assert.ok(version);
  const schema = version.schema.openAPIV3Schema as {
    required?: string[];
    properties: Record<string, unknown>;
  };
  delete schema.required;
  schema.properties['spec'] = { 'x-kubernetes-preserve-unknown-fields': true };
  const dir = mkdtempSync(join(tmpdir(), 'rdsflow-crd-'));
  const file = join(dir, 'loose.yaml');
  writeFileSync(file, stringify(crd));
  return file;
}

const HOSTILE: Record<string, { spec: unknown; field: RegExp; noStatus?: boolean }> = {
  oracle: { spec: { engine: 'oracle' }, field: /spec\.engine/ },
  nospec: { spec: NO_SPEC, field: /spec: is missing/ },
  // the apiserver refuses even a status write on this one (its CEL rules cannot evaluate a
  // string): the Event is all the watcher can leave
  stringspec: { spec: 'DROP TABLE databases;', field: /spec: must be an object/, noStatus: true },
  huge: {
    spec: { engine: 'postgres', databaseName: 'x'.repeat(100_000) },
    field: /spec\.databaseName/,
  },
  tags: { spec: { engine: 'postgres', tags: { 'aws:owner': 'me', n: 5 } }, field: /spec\.tags/ },
  storage: {
    spec: { engine: 'mysql', storageGiB: 'lots', multiAZ: 'yes' },
    field: /spec\.storageGiB/,
  },
};

describe('malformed and hostile objects', () => {
  let client: Client;
  let watched: Watched;
  let watcher: AppProcess | undefined;
  const stored = new Map<string, DatabaseObject>();

  before(async () => {
    client = await connectTemporal(config.temporal);
    watched = await Watched.create(client);
    await kubectl('apply', '--server-side', '--force-conflicts', '-f', looseCrd());
    try {
      for (const [suffix, { spec }] of Object.entries(HOSTILE)) {
        const object = await eventually(
          `loose schema accepts ${suffix}`,
          () => watched.create(suffix, spec).catch(() => undefined),
          30_000,
        );
        stored.set(suffix, object);
      }
    } finally {
      await kubectl('apply', '--server-side', '--force-conflicts', '-f', crdFile);
      await kubectl('wait', '--for=condition=Established', '-f', crdFile);
    }
    // the real schema is back: the apiserver refuses what it stored a moment ago
    await eventually(
      'strict schema in force',
      () =>
        watched.create('probe', { engine: 'oracle' }).then(
          () => undefined,
          () => true,
        ),
      30_000,
    );
  });

  after(async () => {
    await watcher?.stop();
    await watched.cleanup();
    await client.connection.close();
  });

  it('rejects each on its status and with an Event, starts nothing, and serves the good ones', async () => {
    watcher = await startWatcher({ taskQueue: watched.taskQueue, selector: watched.selector });
    const good = await watched.create('good');
    await eventually('watcher ready', async () =>
      (await health(watcher as AppProcess)).status === 200 ? true : undefined,
    );
    for (const [suffix, { field, noStatus }] of Object.entries(HOSTILE)) {
      const events = await eventually(`${suffix} Event`, async () => {
        const list = await watched.events(suffix);
        return list.length > 0 ? list : undefined;
      });
      assert.equal(events[0]?.reason, 'InvalidSpec');
      assert.equal(events[0]?.type, 'Warning');
      assert.match(events[0]?.message ?? '', field);
      if (noStatus) continue;
      const object = await eventually(
        `${suffix} rejected on its status`,
        async () => {
          const found = (await watched.objects()).find(
            (o) => o.metadata.name === watched.name(suffix),
          );
          return found?.status?.phase === 'Failed' ? found : undefined;
        },
        20_000,
      );
      const ready = object.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.reason, 'InvalidSpec', suffix);
      assert.match(object.status?.message ?? '', /^invalid spec: /);
      assert.match(object.status?.message ?? '', field, suffix);
      assert.ok((object.status?.message ?? '').length < 2_000, `${suffix}: a bounded message`);
      assert.equal(object.status?.observedGeneration, object.metadata.generation);
      // never guarded: nothing was provisioned, so nothing holds the object back
      assert.equal(object.metadata.finalizers, undefined, suffix);
    }
    const records = await eventually('the good object started', async () => {
      const found = await watched.workflows();
      return found.size > 0 ? found : undefined;
    });
    assert.deepEqual([...records.keys()], [watched.workflowIdOf(good)]);

    // no retry storm: rejections are counted once each and stay put
    const rejected = await metric(watcher, 'rdsflow_watcher_rejected_total');
    assert.equal(rejected, Object.keys(HOSTILE).length);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(await metric(watcher, 'rdsflow_watcher_rejected_total'), rejected);
    assert.equal(await metric(watcher, 'rdsflow_watcher_retries_total'), 0);
    assert.match(watcher.output(), /"msg":"invalid spec; no workflow started"/);
    assert.equal((await health(watcher)).status, 200);
  });

  it('starts the workflow once the user fixes the spec', async () => {
    const oracle = stored.get('oracle');
    assert.ok(oracle);
    await watched.patchSpec('oracle', { engine: 'postgres' });
    const record = await eventually('fixed object started', async () =>
      (await watched.workflows()).get(watched.workflowIdOf(oracle)),
    );
    const generation = Math.max(
      record.startGeneration ?? 0,
      ...record.signals.map((s) => s.generation ?? 0),
    );
    assert.equal(generation, 2);
  });

  it('a restarted watcher does not reject a generation its status already rejects', async () => {
    await watcher?.stop();
    const before = (await watched.events('tags')).length;
    watcher = await startWatcher({ taskQueue: watched.taskQueue, selector: watched.selector });
    await eventually('watcher ready', async () =>
      (await health(watcher as AppProcess)).status === 200 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    // only the object whose status cannot be written is said again (one Event per start)
    assert.equal(await metric(watcher, 'rdsflow_watcher_rejected_total'), 1);
    assert.equal((await watched.events('tags')).length, before);
  });
});
