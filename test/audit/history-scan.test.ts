// Runs after every other layer (test/run.ts runs the audit layer last): every databaseWorkflow
// history on the server is scanned for every master password Vault holds under rdsflow/.
// None may appear: passwords go from an activity straight to Vault, never through history.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectTemporal, vaultClient } from '../../config/clients.js';
import { WORKFLOW_TYPE } from '../../contracts/workflow.js';
import { historyText } from '../support/database.js';
import { auditedWorkflows, config } from '../support/env.js';

const vault = vaultClient(config.vault);

async function list(path: string): Promise<string[]> {
  try {
    return ((await vault.list(path)) as { data: { keys: string[] } }).data.keys;
  } catch {
    return [];
  }
}

describe('workflow histories produced by the suite', () => {
  it('never contain a master password', async () => {
    const passwords: string[] = [];
    for (const ns of await list('secret/metadata/rdsflow/')) {
      for (const name of await list(`secret/metadata/rdsflow/${ns}`)) {
        if (name.endsWith('/')) continue;
        const secret = (await vault.read(`secret/data/rdsflow/${ns}${name}`)) as {
          data: { data: { password?: string } };
        };
        if (secret.data.data.password) passwords.push(secret.data.data.password);
      }
    }
    assert.ok(
      passwords.length > 0,
      'no password in Vault to look for: the e2e tests did not run first',
    );
    const client = await connectTemporal(config.temporal);
    try {
      let scanned = 0;
      const seen = new Set<string>();
      for await (const execution of client.workflow.list({
        query: auditedWorkflows(WORKFLOW_TYPE),
      })) {
        if (seen.has(execution.workflowId)) continue;
        seen.add(execution.workflowId);
        const text = await historyText(client, execution.workflowId);
        scanned++;
        for (const password of passwords)
          assert.ok(
            !text.includes(password),
            `a password is in the history of ${execution.workflowId}`,
          );
      }
      assert.ok(scanned > 0);
      process.stdout.write(
        `# scanned ${scanned} workflows' histories for ${passwords.length} passwords\n`,
      );
    } finally {
      await client.connection.close();
    }
  });
});
