// The journal of every mutating call: the instance's status and tags just before it and the
// workflow that asked (the attribution headers the worker adds), so that a test can audit every
// destructive call rdsflow made. It never holds a password.
import { type IncomingMessage } from 'node:http';
import { attributionOf, Ledger } from '../store-front.js';
import { type RdsCall, tagsIn } from './query.js';
import { type Shown } from './instances.js';

/** One mutating call as the front saw it. */
export interface JournalEntry {
  readonly seq: number;
  readonly at: number;
  readonly action: string;
  readonly identifier: string;
  /** the workflow whose activity made the call (the worker sets the header), if any */
  readonly workflowId?: string;
  readonly runId?: string;
  /** the instance just before the call, as RDS would have shown it; absent if there was none */
  readonly statusBefore?: string;
  readonly tagsBefore?: Readonly<Record<string, string>>;
  /** the request's parameters, the master password replaced by *** */
  readonly params: Readonly<Record<string, string>>;
  /** `ok`, or the error code RDS (or the front) answered */
  readonly outcome: string;
}

export class Journal {
  readonly #ledger: Ledger<JournalEntry>;

  /** `file`: also append every entry to it, one JSON line each (the previous file kept as .1) */
  constructor(file?: string) {
    this.#ledger = new Ledger<JournalEntry>(file);
  }

  record(req: IncomingMessage, call: RdsCall, before: Shown | undefined, outcome: string): void {
    const { workflowId, runId } = attributionOf(req);
    this.#ledger.add({
      at: Date.now(),
      action: call.action,
      identifier: call.identifier,
      ...(workflowId ? { workflowId } : {}),
      ...(runId ? { runId } : {}),
      ...(before ? { statusBefore: before.status, tagsBefore: tagsIn(before.block) } : {}),
      params: Object.fromEntries(
        [...call.params].map(([k, v]) => [k, k === 'MasterUserPassword' ? '***' : v]),
      ),
      outcome,
    });
  }

  all(): JournalEntry[] {
    return this.#ledger.all();
  }
}
