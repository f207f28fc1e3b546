// The committed CRD is the one the zod schemas generate, and the check `npm run check` runs
// catches a CRD edited by hand or a schema changed without regenerating.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { z } from 'zod';
import { INSTANCE_SETTINGS } from '../../contracts/database.js';
import { databaseCrd, structuralSchema, type JsonSchema } from '../../contracts/crd.js';
import { databaseSpecSchema } from '../../contracts/schema.js';
import { CRD_FILE, crdDrift, renderCrd } from '../../scripts/crd.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../scripts/crd.ts', import.meta.url));
const committed = readFileSync(CRD_FILE, 'utf8');

/** `npm run crd -- --check` on a file: its exit code and what it printed. */
async function check(file: string): Promise<{ code: number; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', script, '--check', '--file', file]).then(
    ({ stderr }) => ({ code: 0, stderr }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
}

/** The spec's structural schema as the committed CRD holds it. */
function specOf(crd: unknown): JsonSchema {
  const doc = crd as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: JsonSchema } } } }[] };
  };
  const version = doc.spec.versions[0];
  assert.ok(version);
  return version.schema.openAPIV3Schema.properties.spec;
}

describe('the Database CRD', () => {
  it('is committed exactly as contracts/schema.ts generates it', async () => {
    assert.equal(crdDrift(committed, await renderCrd()), undefined);
    // what the apiserver reads (YAML 1.1, as Kubernetes parses it) is the generated document
    assert.deepEqual(parse(committed, { version: '1.1' }), databaseCrd());
  });

  it('fails the check when the YAML is edited by hand, saying how to regenerate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rdsflow-crd-'));
    try {
      const edited = join(dir, 'edited.yaml');
      writeFileSync(edited, committed.replace('maxLength: 32', 'maxLength: 33'));
      const result = await check(edited);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /committed: "\s+maxLength: 33"/);
      assert.match(result.stderr, /generated: "\s+maxLength: 32"/);
      assert.match(result.stderr, /npm run crd/);
      const same = join(dir, 'same.yaml');
      writeFileSync(same, committed);
      assert.equal((await check(same)).code, 0, 'the committed text itself passes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the check when the schema changes and the CRD is not regenerated', async () => {
    const grown = databaseSpecSchema.safeExtend({ replicas: z.number().int().min(1).optional() });
    const generated = await renderCrd(databaseCrd({ spec: grown }));
    assert.match(generated, /^ +replicas:\n +type: integer\n +minimum: 1$/m);
    const drift = crdDrift(committed, generated);
    assert.ok(drift, 'a new field must show as drift');
    assert.match(drift, /npm run crd/);
  });

  it('carries no default for an instance setting: an adopted instance keeps its own', () => {
    const properties = specOf(databaseCrd())['properties'] as Record<string, JsonSchema>;
    for (const setting of INSTANCE_SETTINGS) {
      assert.ok(properties[setting], `spec.${setting} is in the CRD`);
      assert.equal(properties[setting]['default'], undefined, `spec.${setting} has a default`);
    }
    assert.equal(properties['deletionPolicy']?.['default'], 'Snapshot');
  });

  it('refuses a schema the apiserver could not take as a structural schema', () => {
    assert.throws(
      () => structuralSchema(z.object({ size: z.union([z.string(), z.number()]) }), '.spec'),
      /\.spec\.size: "anyOf" has no place/,
    );
    assert.throws(() => structuralSchema(z.object({ any: z.unknown() }), '.spec'), /needs a type/);
  });
});
