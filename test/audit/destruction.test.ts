// The destruction audit, run after every other layer (test/run.ts): every call that changed or
// deleted an RDS instance, a Vault secret or Consul entries through the stack's fronts during the
// suite is held against records that are not rdsflow's own: the fronts' journals (the target's
// owner just before the call, the workflow that made it), the apiserver's audit log (who deleted
// which Database, with which spec) and, for a removal no delete asked for, the run's history (a
// cancel). Every change must hit something marked with the requesting object's UID (or a
// retained one it explicitly adopts), and every removal must follow a user's delete of that
// object under a policy that removes it, or undo what the requesting run itself created.
// Only the suite's own objects are judged (created with the test label, per the audit log): a
// person's objects on the same stack are theirs (`npm start`'s default/orders, say).
// Only the calls of this `npm test` run are judged (RDSFLOW_TEST_SINCE): the fronts keep earlier
// runs' calls beside a long-running stack.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../config/clients.js';
import { refFromWorkflowId } from '../../contracts/names.js';
import type { ConsulJournalEntry } from '../../infra/consul-front.js';
import { frontRecord } from '../../infra/store-front.js';
import type { VaultJournalEntry } from '../../infra/vault-front.js';
import { config, ofThisRun, tools } from '../support/env.js';
import { databaseWrites, testObjectUids } from '../support/kube-audit.js';
import { stackFront } from '../support/rds.js';
import {
  AUDITED_RDS,
  consulViolations,
  rdsViolations,
  removalRuns,
  vaultViolations,
  type AuditContext,
} from '../support/destruction-audit.js';

/**
 * A run's history; undefined for a run the server does not know (a run ID the header names that
 * no workflow had): no cancel is then on record, and its removals must rest on a user's delete.
 */
async function historyOf(client: Client, run: { workflowId: string; runId: string }) {
  try {
    return await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  } catch (error: unknown) {
    const { code, name } = error as { code?: number; name?: string };
    // gRPC INVALID_ARGUMENT (not a run ID) and NOT_FOUND
    if (code === 3 || code === 5 || name === 'WorkflowNotFoundError') return undefined;
    throw error;
  }
}

/** When a cancel of each run was requested, from the histories of the suite's removing runs. */
async function cancelRequests(
  runs: readonly { workflowId: string; runId: string }[],
  suite: ReadonlySet<string>,
): Promise<Map<string, number>> {
  const at = new Map<string, number>();
  const client = await connectTemporal(config.temporal);
  try {
    for (const run of runs) {
      const ref = refFromWorkflowId(run.workflowId);
      if (!ref || !suite.has(ref.uid)) continue;
      const history = await historyOf(client, run);
      if (!history) continue;
      const cancel = history.events?.find((e) => e.workflowExecutionCancelRequestedEventAttributes);
      if (!cancel?.eventTime) continue;
      const time = cancel.eventTime;
      at.set(run.runId, Number(time.seconds ?? 0) * 1_000 + Math.floor((time.nanos ?? 0) / 1e6));
    }
  } finally {
    await client.connection.close();
  }
  return at;
}

/** How many of the journal's calls were made for the suite's objects, and for others. */
function split(entries: readonly { workflowId?: string }[], suite: ReadonlySet<string>) {
  const refs = entries.map((e) => (e.workflowId ? refFromWorkflowId(e.workflowId) : undefined));
  return {
    suite: refs.filter((r) => r && suite.has(r.uid)).length,
    others: refs.filter((r) => r && !suite.has(r.uid)).length,
    unattributed: refs.filter((r) => !r).length,
  };
}

describe('destruction audit of the whole suite', () => {
  const writes = databaseWrites();
  const suite = testObjectUids(writes);

  it('every change and delete of an RDS instance was proven and asked for', async () => {
    const journal = ofThisRun(await stackFront().journal()).filter((e) =>
      AUDITED_RDS.has(e.action),
    );
    assert.ok(writes.length > 0, 'the apiserver audit log is empty: is it switched on?');
    assert.ok(suite.size > 0, 'the audit log records no object with the test label');
    const count = split(journal, suite);
    const deletes = journal.filter((e) => {
      const ref = e.workflowId ? refFromWorkflowId(e.workflowId) : undefined;
      return ref && suite.has(ref.uid) && e.action === 'DeleteDBInstance' && e.outcome === 'ok';
    });
    assert.ok(deletes.length > 0, 'no rdsflow delete to audit: did the e2e layer run first?');
    const problems = rdsViolations(journal, { writes, testUids: suite, cancelledAt: new Map() });
    process.stdout.write(
      `# audited ${journal.length} mutating RDS calls (${count.suite} by rdsflow for the ` +
        `suite's ${suite.size} objects, ${deletes.length} deletes; ${count.others} for other ` +
        `objects not judged; ${count.unattributed} unattributed) against ${writes.length} ` +
        `Database writes\n`,
    );
    assert.deepEqual(problems, []);
  });

  it('every write and removal of Vault secrets and Consul entries was proven and asked for', async () => {
    const vault = ofThisRun(await frontRecord<VaultJournalEntry[]>(tools.vaultFrontUrl, 'journal'));
    const consul = ofThisRun(
      await frontRecord<ConsulJournalEntry[]>(tools.consulFrontUrl, 'journal'),
    );
    const ctx: AuditContext = {
      writes,
      testUids: suite,
      cancelledAt: await cancelRequests(removalRuns(vault, consul), suite),
    };
    const removals = vault.filter((e) => e.effect === 'remove' && e.outcome === 'ok').length;
    assert.ok(removals > 0, 'no Vault secret removed through the front: did the e2e layer run?');
    const problems = [...vaultViolations(vault, ctx), ...consulViolations(consul, ctx)];
    const v = split(vault, suite);
    const c = split(consul, suite);
    process.stdout.write(
      `# audited ${vault.length} Vault calls (${v.suite} for the suite's objects, ${removals} ` +
        `removals; ${v.others} for others and ${v.unattributed} unattributed, judged by what ` +
        `they touched) and ${consul.length} Consul calls (${c.suite} for the suite's objects; ` +
        `${c.others} for others, ${c.unattributed} unattributed); ${ctx.cancelledAt.size} ` +
        `cancelled runs\n`,
    );
    assert.deepEqual(problems, []);
  });
});
