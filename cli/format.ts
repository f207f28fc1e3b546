// Human output of the rdsflow CLI: tables, the describe view, the history timeline and the
// one-line progress of --watch. Pure string building, unit-tested; --json bypasses all of it.
import type { DatabaseObject, PendingApproval } from '../contracts/database.js';
import type { DatabaseWorkflowResult, LiveStatus } from '../contracts/workflow.js';
import type { Entry } from './timeline.js';

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '-';
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1_000)}s`;
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`;
}

/** kubectl-style age: 45s, 12m, 3h, 2d. */
export function age(since: string | undefined, now: number): string {
  if (!since) return '-';
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1_000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3_600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function clock(at: number | undefined): string {
  return at === undefined ? '--:--:--' : new Date(at).toISOString().slice(11, 19);
}

export function listView(objects: readonly DatabaseObject[], now: number): string {
  if (objects.length === 0) return 'no Databases found\n';
  return table(
    ['NAMESPACE', 'NAME', 'PHASE', 'ENGINE', 'ENDPOINT', 'AGE', 'MESSAGE'],
    objects.map((o) => [
      o.metadata.namespace,
      o.metadata.name,
      o.status?.phase ?? '-',
      (o.spec as { engine?: unknown } | undefined)?.engine?.toString() ?? '-',
      o.status?.endpoint ? `${o.status.endpoint.host}:${o.status.endpoint.port}` : '-',
      age((o.metadata as { creationTimestamp?: string }).creationTimestamp, now),
      (o.status?.message ?? '').slice(0, 80),
    ]),
  );
}

export interface WorkflowView {
  readonly workflowId: string;
  readonly runId?: string;
  readonly status: string;
  readonly live?: LiveStatus;
  /** how a completed workflow ended: a deletion's policy and final snapshot */
  readonly result?: DatabaseWorkflowResult;
  readonly uiUrl?: string;
}

/**
 * What a finished deletion left, and how to come back from it: the final snapshot and the
 * spec line that restores it (a Database of the same namespace only).
 */
export function deletionLines(result: DatabaseWorkflowResult | undefined): string[] {
  if (!result) return [];
  const lines = [`${result.outcome} (deletionPolicy ${result.deletionPolicy})`];
  if (result.snapshot) {
    lines.push(`final snapshot ${result.snapshot}`);
    lines.push(
      `restore it with a Database of this namespace: spec.source: {snapshot: ${result.snapshot}}`,
    );
  }
  return lines;
}

type Row = readonly [string, string | undefined];

/** A spec field as text, or undefined when the spec does not set it. */
function specField(spec: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = spec?.[key];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function specLine(object: DatabaseObject): string {
  const spec = object.spec as unknown as Record<string, unknown> | undefined;
  const storage = specField(spec, 'storageGiB');
  const policy = specField(spec, 'deletionPolicy');
  return [
    specField(spec, 'engine'),
    specField(spec, 'engineVersion'),
    specField(spec, 'instanceClass'),
    storage === undefined ? undefined : `${storage} GiB`,
    policy === undefined ? undefined : `deletionPolicy ${policy}`,
  ]
    .filter((v) => v !== undefined)
    .join(', ');
}

function approvalText(pending: PendingApproval): string {
  return (
    `approval of generation ${pending.generation}: ${pending.engine} ${pending.instanceClass}, ` +
    `${pending.storageGiB} GiB, Multi-AZ ${pending.multiAZ ? 'yes' : 'no'}, ` +
    `deletionPolicy ${pending.deletionPolicy} (rdsflow approve)`
  );
}

function parametersText(parameters: NonNullable<DatabaseObject['status']>['parameters']): string {
  const waiting = parameters?.pendingReboot ?? [];
  return (
    `group ${parameters?.group ?? '-'}` +
    (waiting.length > 0 ? `; waiting for a reboot: ${waiting.join(', ')}` : '')
  );
}

/** Where the database is: instance, endpoint, the secret's and the Consul keys' paths. */
function whereRows(object: DatabaseObject): Row[] {
  const { metadata, status } = object;
  const endpoint = status?.endpoint;
  return [
    ['instance', status?.dbInstanceIdentifier],
    ['restored from', status?.restoredFrom],
    ['parameters', status?.parameters ? parametersText(status.parameters) : undefined],
    ['endpoint', endpoint ? `${endpoint.host}:${endpoint.port}` : undefined],
    ['vault', status?.secretRef?.vaultPath],
    ['consul', status?.consulKey],
    ['deleting', metadata.deletionTimestamp ? `since ${metadata.deletionTimestamp}` : undefined],
  ];
}

function objectRows(object: DatabaseObject): Row[] {
  const { metadata, status } = object;
  return [
    ['database', `${metadata.namespace}/${metadata.name}`],
    ['uid', metadata.uid],
    [
      'phase',
      `${status?.phase ?? '-'} (generation ${metadata.generation ?? '-'}, observed ${status?.observedGeneration ?? '-'})`,
    ],
    ['message', status?.message],
    ['spec', specLine(object)],
    ['awaiting', status?.pendingApproval ? approvalText(status.pendingApproval) : undefined],
    ...whereRows(object),
  ];
}

function workflowRows(workflow: WorkflowView | undefined): Row[] {
  if (!workflow) return [['workflow', 'none yet (is the watcher running?)']];
  const live = workflow.live;
  const silent = !live && workflow.status === 'RUNNING';
  return [
    ['workflow', `${workflow.workflowId} (${workflow.status})`],
    ['stage', live ? `${live.stage}: ${live.step}, attempt ${live.attempt}` : undefined],
    ['live phase', live ? `${live.phase}: ${live.message}` : undefined],
    ['last error', live?.lastError],
    ['outcome', workflow.result ? deletionLines(workflow.result)[0] : undefined],
    ['final snapshot', workflow.result?.snapshot],
    [
      'restore with',
      workflow.result?.snapshot
        ? `spec.source: {snapshot: ${workflow.result.snapshot}}`
        : undefined,
    ],
    [
      'live status',
      silent ? 'no worker answered (is a worker polling the task queue?)' : undefined,
    ],
    ['temporal ui', workflow.uiUrl],
  ];
}

export function describeView(
  object: DatabaseObject | undefined,
  workflow: WorkflowView | undefined,
): string {
  const rows = [...(object ? objectRows(object) : []), ...workflowRows(workflow)].filter(
    (row): row is [string, string] => row[1] !== undefined && row[1] !== '',
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

export function historyView(workflowId: string, entries: readonly Entry[]): string {
  const lines = [`history of ${workflowId}`];
  for (const entry of entries) {
    switch (entry.kind) {
      case 'run':
        lines.push(`${clock(entry.at)}  run ${entry.stage} (${entry.end})`);
        break;
      case 'step': {
        const attempts = `${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'}`;
        const error = entry.error
          ? `  ${entry.outcome === 'completed' ? 'after' : 'error'}: ${entry.error}`
          : '';
        lines.push(
          `${clock(entry.at)}    ${entry.step.padEnd(22)} ${attempts.padEnd(11)} ${duration(entry.durationMs).padStart(7)}  ${entry.outcome}${error}`,
        );
        break;
      }
      case 'signal':
        lines.push(`${clock(entry.at)}    ← signal ${entry.name}`);
        break;
      case 'timer':
        lines.push(`${clock(entry.at)}    … wait ${duration(entry.durationMs)}`);
        break;
    }
  }
  return lines.join('\n') + '\n';
}

const BAR = 20;

/** One line of --watch: phase, a step bar for the provisioning story, step and attempt. */
export function progressLine(live: LiveStatus, elapsedMs: number): string {
  const story = [
    'validateSpec',
    'ensureFinalizer',
    'awaitApproval',
    'ensureMasterPassword',
    'createDbInstance',
    'waitUntilAvailable',
    'writeDbSecret',
    'publishToConsul',
  ];
  const index = story.indexOf(live.step);
  const done = live.phase === 'Available' ? story.length : Math.max(0, index);
  const filled = Math.round((done / story.length) * BAR);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}]`;
  const attempt = live.attempt > 1 ? ` (attempt ${live.attempt})` : '';
  return `${bar} ${live.phase.padEnd(16)} ${live.step}${attempt}  ${duration(elapsedMs)}  ${live.message}`;
}
