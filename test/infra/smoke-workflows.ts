// Trivial workflows for the Temporal smoke tests: one calls an activity, one sleeps an hour.
import { condition, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { SmokeActivities } from './smoke-activities.js';

const { greet } = proxyActivities<SmokeActivities>({ startToCloseTimeout: '10 seconds' });

export async function greetWorkflow(name: string): Promise<string> {
  return await greet(name);
}

/** Returns workflow time before and after a one-hour timer, in ms since the epoch. */
export async function sleepAnHour(): Promise<{ before: number; after: number }> {
  const before = Date.now();
  await sleep('1 hour');
  return { before, after: Date.now() };
}

export const releaseSignal = defineSignal('release');

/** Waits for the `release` signal, then returns; survives a server restart in between. */
export async function waitForRelease(): Promise<string> {
  let released = false;
  setHandler(releaseSignal, () => {
    released = true;
  });
  await condition(() => released);
  return 'released';
}
