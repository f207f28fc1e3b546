// Runs after every other layer (test/run.ts runs the audit layer last): every history of the
// workflows of the suite's own objects is scanned for every master password rdsflow wrote under
// rdsflow/: the SHA-256 the stack's Vault front recorded as each was written (so the passwords of
// databases deleted since count too), and those Vault holds now. None may appear: passwords go
// from an activity straight to Vault, never through history. Payloads are decoded first
// (test/support/history-scan.ts): in a history's JSON text they are base64.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectTemporal, vaultClient } from '../../config/clients.js';
import { refFromWorkflowId } from '../../contracts/names.js';
import { WORKFLOW_TYPE } from '../../contracts/workflow.js';
import { frontRecord } from '../../infra/store-front.js';
import type { PasswordRecord } from '../../infra/vault-front.js';
import { auditedWorkflows, config, tools } from '../support/env.js';
import { findPasswords, historyTexts, sha256, type PasswordHash } from '../support/history-scan.js';
import { databaseWrites, testObjectUids } from '../support/kube-audit.js';

const vault = vaultClient(config.vault);

async function list(path: string): Promise<string[]> {
  try {
    return ((await vault.list(path)) as { data: { keys: string[] } }).data.keys;
  } catch {
    return [];
  }
}

/** The passwords OpenBao holds under rdsflow/ now, hashed at once. */
async function passwordsInVault(): Promise<(PasswordHash & { path: string })[]> {
  const found: (PasswordHash & { path: string })[] = [];
  for (const ns of await list('secret/metadata/rdsflow/')) {
    for (const name of await list(`secret/metadata/rdsflow/${ns}`)) {
      if (name.endsWith('/')) continue;
      const path = `rdsflow/${ns}${name}`;
      try {
        const secret = (await vault.read(`secret/data/${path}`)) as {
          data: { data: { password?: string } | null };
        };
        const password = secret.data.data?.password;
        if (password) found.push({ sha256: sha256(password), length: password.length, path });
      } catch {
        // a soft-deleted latest version (404): the ledger has its password if rdsflow wrote it
      }
    }
  }
  return found;
}

describe('workflow histories produced by the suite', () => {
  it('never contain a master password', async () => {
    const ledger = await frontRecord<PasswordRecord[]>(tools.vaultFrontUrl, 'passwords');
    assert.ok(
      ledger.length > 0,
      'the Vault front recorded no password: did the e2e tests run first, through the stack?',
    );
    const wanted = [...ledger, ...(await passwordsInVault())];
    const whose = new Map(wanted.map((w) => [w.sha256, w.path]));
    const suite = testObjectUids(databaseWrites());
    const client = await connectTemporal(config.temporal);
    let scanned = 0;
    let others = 0;
    let windows = 0;
    const leaks: string[] = [];
    try {
      for await (const run of client.workflow.list({ query: auditedWorkflows(WORKFLOW_TYPE) })) {
        const ref = refFromWorkflowId(run.workflowId);
        if (!ref || !suite.has(ref.uid)) {
          others++;
          continue;
        }
        const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        const result = findPasswords(historyTexts(history), wanted);
        scanned++;
        windows += result.windows;
        for (const sha of result.found) {
          leaks.push(
            `${run.workflowId} run ${run.runId}: the password of ${whose.get(sha) ?? '?'}`,
          );
        }
      }
    } finally {
      await client.connection.close();
    }
    process.stdout.write(
      `# scanned ${scanned} runs of the suite's workflows (${others} of other objects not ` +
        `judged) for ${new Set(wanted.map((w) => w.sha256)).size} passwords ` +
        `(${ledger.length} recorded as written); ${windows} windows hashed\n`,
    );
    assert.ok(scanned > 0, 'no workflow of the suite to scan');
    assert.deepEqual(leaks, []);
  });
});
