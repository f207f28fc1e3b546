// The yardstick of `npm run bench`'s provisioning row: a workflow of rdsflow's shape (the same
// activities and local activities, one after another, in the same order; with `full`, also the
// phase upserts and the continue-as-new into the next stage) whose steps do nothing, so the
// same Temporal server's cost of that shape can be set beside rdsflow's.
import {
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes.js';

export interface NoopActivities {
  step(): Promise<void>;
}

/** what a provisioning run did, in order: what the yardstick repeats */
export type Step = 'activity' | 'local' | 'upsert' | 'continue';

const regular = proxyActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });

/** `input`: rdsflow's start input, carried as it is (its size is part of the shape) */
export async function noopShaped(steps: Step[], input?: unknown): Promise<void> {
  for (const kind of steps) {
    if (kind === 'upsert') upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: 'X' }]);
    else if (kind === 'continue') return continueAsNew<typeof noopShaped>([], input);
    else await (kind === 'local' ? local : regular).step();
  }
}
