// Determinism: every committed history (recorded by `npm run record-histories`) replays
// cleanly against the workflow bundle the build ships (dist/workflow-bundle.js, what a compiled
// worker loads), offline. A change that alters the command sequence fails here: before the first
// release the stories are recorded again; after it, the change needs patched() (docs/testing.md).
// `npm test` builds first; a bundle older than the workflow sources fails instead of testing
// yesterday's code.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { BUNDLE_FILE } from '../../worker/bundle.js';
import { built, repo } from '../support/built.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const dir = join(repo, 'test', 'replay', 'histories/');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('committed workflow histories', () => {
  it('exist for every story the workflow tells (provision, modify, delete, orphan, refusals, cancel)', () => {
    for (const story of [
      'provision-modify-delete',
      'bad-spec-then-delete',
      'cancel-during-wait',
      'delete-during-provisioning',
      'object-gone-before-finalizer',
      'object-gone-while-serving',
      'refused-signals',
      'approval-rebinding',
      'retain-then-delete',
      'foreign-instance-then-delete',
      'cancel-in-failed',
      'cancelled-adoption',
      'cancel-during-delete',
    ]) {
      assert.ok(
        files.some((f) => f.startsWith(story)),
        `no history for ${story}`,
      );
    }
  });

  it('replay without nondeterminism against the shipped bundle', async () => {
    const bundle = built(BUNDLE_FILE);
    const histories = files.map((file) => ({
      workflowId: file,
      history: JSON.parse(readFileSync(`${dir}${file}`, 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: bundle } },
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
    assert.equal(histories.length, files.length);
  });
});
