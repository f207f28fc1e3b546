// The delete-signal audit, run after every other layer: every delete request any watcher (or
// test) sent to a database workflow during the suite is matched to a user's delete of that very
// object (same namespace, name and UID) that the apiserver recorded before the request, or else
// the workflow refused it, visibly (a SignalRefused Event recorded in the same run: the suite
// sends forged requests on purpose). A delete request for an object that merely left a watcher's
// view and was acted on fails the suite, and so does a delete stage that began without a user's
// delete before it. Only the workflows of the suite's own objects are judged (created with the
// test label): a person's objects on the same stack are theirs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectTemporal } from '../../config/clients.js';
import { refFromWorkflowId } from '../../contracts/names.js';
import { WORKFLOW_TYPE } from '../../contracts/workflow.js';
import { auditedWorkflows, config } from '../support/env.js';
import { databaseWrites, testObjectUids } from '../support/kube-audit.js';

const text = new TextDecoder();

/** When an event happened, in ms. */
function timeOf(
  event: { eventTime?: { seconds?: unknown; nanos?: number | null } | null } | undefined,
): number {
  return (
    Number(event?.eventTime?.seconds ?? 0) * 1_000 +
    Math.floor((event?.eventTime?.nanos ?? 0) / 1e6)
  );
}

/** The payloads' JSON text, joined ('' when none). */
function decoded(payloads: readonly { data?: Uint8Array | null }[] | null | undefined): string {
  return (payloads ?? []).map((p) => (p.data ? text.decode(p.data) : '')).join('\n');
}

/** The stage a run was started with (its input's `stage`). */
function inputStage(data: Uint8Array | null | undefined): string | undefined {
  if (!data) return undefined;
  try {
    return (JSON.parse(text.decode(data)) as { stage?: string }).stage;
  } catch {
    return undefined;
  }
}

describe('delete-signal audit of the whole suite', () => {
  it('every delete request follows a user delete of that object', async () => {
    const writes = databaseWrites();
    const deletes = writes.filter((w) => w.verb === 'delete' && w.code < 300 && w.uid);
    // a stack older than its audit log (made before it was switched on) holds earlier requests
    const since = writes[0]?.at ?? Number.POSITIVE_INFINITY;
    let before = 0;
    let others = 0;
    const suite = testObjectUids(writes);
    const client = await connectTemporal(config.temporal);
    const unmatched: string[] = [];
    let requests = 0;
    let refused = 0;
    try {
      for await (const execution of client.workflow.list({
        query: auditedWorkflows(WORKFLOW_TYPE),
      })) {
        const ref = refFromWorkflowId(execution.workflowId);
        if (!ref) continue;
        if (!suite.has(ref.uid)) {
          others++;
          continue;
        }
        const history = await client.workflow
          .getHandle(execution.workflowId, execution.runId)
          .fetchHistory();
        const events = history.events ?? [];
        const userDeletedBy = (at: number) =>
          deletes.some(
            (w) =>
              w.receivedAt <= at &&
              w.namespace === ref.namespace &&
              w.name === ref.name &&
              w.uid === ref.uid,
          );
        const started = events[0]?.workflowExecutionStartedEventAttributes;
        if (started && inputStage(started.input?.payloads?.[0]?.data) === 'delete') {
          const at = timeOf(events[0]);
          if (at >= since && !userDeletedBy(at)) {
            unmatched.push(
              `${execution.workflowId} run ${execution.runId}: a delete stage began at ` +
                `${new Date(at).toISOString()} with no user delete before it`,
            );
          }
        }
        for (const [index, event] of events.entries()) {
          if (event.workflowExecutionSignaledEventAttributes?.signalName !== 'delete') continue;
          const at = timeOf(event);
          if (at < since) {
            before++;
            continue;
          }
          requests++;
          if (userDeletedBy(at)) continue;
          const refusedLater = events
            .slice(index + 1)
            .some((e) =>
              decoded(e.activityTaskScheduledEventAttributes?.input?.payloads).includes(
                'A delete signal was refused and not applied',
              ),
            );
          if (refusedLater) {
            refused++;
            continue;
          }
          unmatched.push(
            `${execution.workflowId} run ${execution.runId}: delete at ${new Date(at).toISOString()} ` +
              `by ${event.workflowExecutionSignaledEventAttributes.identity ?? '?'}, acted on`,
          );
        }
      }
    } finally {
      await client.connection.close();
    }
    process.stdout.write(
      `# audited ${requests} delete requests against ${deletes.length} user deletes, ` +
        `${refused} of them refused by the workflow` +
        (before > 0 ? ` (${before} older than the audit log not judged)` : '') +
        ` (${others} runs of objects the suite did not create not judged)` +
        '\n',
    );
    assert.ok(requests > 0, 'no delete request to audit: did the watcher and e2e layers run?');
    assert.deepEqual(unmatched, []);
  });
});
