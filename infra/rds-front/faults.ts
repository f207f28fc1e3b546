// Faults a test injects: an AWS error (throttling, 5xx, anything) instead of the answer, or a
// delay before the call is handled, for the next calls that match.
export interface Fault {
  /** only this action (e.g. CreateDBInstance); any when absent */
  readonly action?: string;
  /** only identifiers starting with this; any when absent */
  readonly match?: string;
  /** answer with this AWS error; without it the call goes ahead (after `delayMs`) */
  readonly code?: string;
  readonly status?: number;
  /** hold the call this long before handling it (a create that lands late) */
  readonly delayMs?: number;
  /** how many calls it answers (1 by default) */
  readonly count?: number;
}

export class Faults {
  readonly #pending: (Fault & { left: number })[] = [];

  add(fault: Fault): void {
    this.#pending.push({ ...fault, left: fault.count ?? 1 });
  }

  /** The first fault for this call, used up by one; undefined when none matches. */
  take(action: string, id: string): Fault | undefined {
    const index = this.#pending.findIndex(
      (f) =>
        f.left > 0 &&
        (f.action === undefined || f.action === action) &&
        (f.match === undefined || id.startsWith(f.match)),
    );
    const fault = this.#pending[index];
    if (!fault) return undefined;
    fault.left--;
    if (fault.left === 0) this.#pending.splice(index, 1);
    return fault;
  }
}
