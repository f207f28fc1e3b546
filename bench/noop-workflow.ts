// The yardstick of `npm run bench`'s provisioning row: a workflow of rdsflow's shape (the same
// activities and local activities, one after another, in the same order) whose steps do
// nothing, so the same Temporal server's cost of that shape can be set beside rdsflow's.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface NoopActivities {
  step(): Promise<void>;
}

export type Step = 'activity' | 'local';

const regular = proxyActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });

export async function noopShaped(steps: Step[]): Promise<void> {
  for (const kind of steps) await (kind === 'local' ? local : regular).step();
}
