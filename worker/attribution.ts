// Names, on every Vault and Consul request made from an activity, the workflow run (and the
// activity) it was made for, as attributeRdsCalls does for RDS: a proxy, a server log or the test
// suite's destruction audit (the stack's journaling fronts) can then hold each call against the
// object that asked for it. Wired here, where the worker builds its clients, so that no activity
// has to know.
import { activityInfo } from '@temporalio/activity';
import type Consul from 'consul';
import type vault from 'node-vault';

/** The headers; the RDS client sends the first two too (attributeRdsCalls). */
export const ATTRIBUTION_HEADERS = {
  workflowId: 'x-rdsflow-workflow-id',
  runId: 'x-rdsflow-run-id',
  activity: 'x-rdsflow-activity',
} as const;

/** The headers for the activity running now; none outside an activity. */
export function attributionHeaders(): Record<string, string> {
  let info: ReturnType<typeof activityInfo>;
  try {
    info = activityInfo();
  } catch {
    // not inside an activity: nothing to attribute
    return {};
  }
  const execution = info.workflowExecution;
  return {
    // NOTE: an activity started on its own (not by a workflow) has no workflow execution
    ...(execution
      ? {
          [ATTRIBUTION_HEADERS.workflowId]: execution.workflowId,
          [ATTRIBUTION_HEADERS.runId]: execution.runId,
        }
      : {}),
    [ATTRIBUTION_HEADERS.activity]: info.activityType,
  };
}

/** Every node-vault call goes through `request`, which is looked up on the client at each call. */
export function attributeVaultCalls(client: vault.client): void {
  const request = client.request.bind(client);
  client.request = (options) => {
    const headers = (options.headers ?? {}) as Record<string, string>;
    return request({ ...options, headers: { ...headers, ...attributionHeaders() } });
  };
}

interface PapiRequest {
  readonly opts: { headers?: Record<string, string> };
}

/**
 * consul 2.x is a papi client: an `onCreate` extension runs for every request, synchronously in
 * the caller's context (where activityInfo() still answers), before its headers are merged.
 */
export function attributeConsulCalls(client: Consul): void {
  const papi = client as unknown as {
    _ext(event: 'onCreate', fn: (request: PapiRequest, next: () => void) => void): void;
  };
  papi._ext('onCreate', (request, next) => {
    request.opts.headers = { ...request.opts.headers, ...attributionHeaders() };
    next();
  });
}
