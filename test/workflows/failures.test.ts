// Failure kinds through the workflow, in the time-skipping test server: an activity with a bug
// (a TypeError, behind the real activity edge) is tried a bounded number of times by Temporal,
// then the database ends Failed with reason Bug and advice, no stack in its status, and is not
// tried again until a person asks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUG_ATTEMPTS } from '../../activities/errors.js';
import { atActivityEdge } from '../../activities/index.js';
import { FAILURE } from '../../contracts/failures.js';
import { retrySignal } from '../../contracts/workflow.js';
import { client, env, reported, scenario, objectView, until } from './harness.js';

describe('database workflow: failure kinds', () => {
  it(`ends a bug in Failed after ${BUG_ATTEMPTS} attempts, with advice and no stack, and waits for a retry`, async () => {
    let attempts = 0;
    const buggy = atActivityEdge({
      async createDbInstance(): Promise<never> {
        attempts++;
        await Promise.resolve();
        const instance = JSON.parse('{}') as { DBInstance?: { DBInstanceStatus: string } };
        // a bug: reads a property of undefined
        throw new Error(instance.DBInstance!.DBInstanceStatus);
      },
    });
    await scenario(
      (world) => {
        world.activities.createDbInstance = buggy.createDbInstance;
      },
      async ({ world, start }) => {
        const handle = await start(objectView({}));
        const failed = await until(handle, 'Failed', (s) => s.phase === 'Failed');
        assert.equal(attempts, BUG_ATTEMPTS);
        assert.equal(failed.step, 'awaitFix');
        const status = await reported(world, 'Failed');
        assert.equal(status?.reason, FAILURE.bug);
        assert.match(
          status?.message ?? '',
          new RegExp(
            // the error's name only: a TypeError's message may quote a value (a header, a token)
            `^createDbInstance: internal error \\(TypeError\\), ${BUG_ATTEMPTS} attempts\\. ` +
              'This is a bug in rdsflow',
          ),
        );
        assert.doesNotMatch(status?.message ?? '', /\n|failures\.test\.ts/);

        // hours later, nothing has tried it again: a bug waits for a person
        await env.sleep('3 hours');
        assert.equal(attempts, BUG_ATTEMPTS);
        await client.workflow.getHandle(handle.workflowId).signal(retrySignal);
        await until(handle, 'tried again after retry', () => attempts > BUG_ATTEMPTS);
      },
    );
  });
});
