// Runs activities outside a worker, in a mock activity context (heartbeats and sleeps work,
// logs are quiet), and unwraps the failures they raise.
import assert from 'node:assert/strict';
import type { Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export async function run<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  ...args: A
): Promise<R> {
  return new MockActivityEnvironment({ attempt: 1 }, { logger: quiet }).run(fn, ...args);
}

/** Like run(), as an activity of the given workflow run (what RDS tags and attribution see). */
export async function runIn<A extends unknown[], R>(
  execution: { workflowId: string; runId: string },
  fn: (...args: A) => Promise<R>,
  ...args: A
): Promise<R> {
  const info: Partial<Info> = { attempt: 1, workflowExecution: execution };
  return new MockActivityEnvironment(info, { logger: quiet }).run(fn, ...args);
}

/** The ApplicationFailure `promise` rejects with; fails the test if it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApplicationFailure, `not an ApplicationFailure: ${String(error)}`);
  return error;
}
