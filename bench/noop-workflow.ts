// The yardstick of `npm run bench`'s provisioning row: a workflow of rdsflow's shape (the same
// number of activities, one after another) whose activities do nothing, so the same Temporal
// server's cost of that shape can be set beside rdsflow's.
import { proxyActivities } from '@temporalio/workflow';

export interface NoopActivities {
  step(): Promise<void>;
}

const { step } = proxyActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });

export async function noopShaped(steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) await step();
}
