// Human output of the rdsflow CLI: tables, the describe view, the history timeline and the
// one-line progress of --watch. Pure string building, unit-tested; --json bypasses all of it.
import type { DatabaseObject } from '../contracts/database.js';
import type { LiveStatus } from '../contracts/workflow.js';
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
  readonly uiUrl?: string;
}

export function describeView(
  object: DatabaseObject | undefined,
  workflow: WorkflowView | undefined,
): string {
  const rows: [string, string][] = [];
  if (object) {
    const { metadata, status } = object;
    const spec = object.spec as unknown as Record<string, unknown> | undefined;
    rows.push(['database', `${metadata.namespace}/${metadata.name}`]);
    rows.push(['uid', metadata.uid]);
    rows.push([
      'phase',
      `${status?.phase ?? '-'} (generation ${metadata.generation ?? '-'}, observed ${status?.observedGeneration ?? '-'})`,
    ]);
    if (status?.message) rows.push(['message', status.message]);
    const field = (key: string) => {
      const value = spec?.[key];
      return value === undefined
        ? undefined
        : typeof value === 'string'
          ? value
          : JSON.stringify(value);
    };
    const storage = field('storageGiB');
    const policy = field('deletionPolicy');
    rows.push([
      'spec',
      [
        field('engine'),
        field('engineVersion'),
        field('instanceClass'),
        storage === undefined ? undefined : `${storage} GiB`,
        policy === undefined ? undefined : `deletionPolicy ${policy}`,
      ]
        .filter((v) => v !== undefined)
        .join(', '),
    ]);
    const pending = status?.pendingApproval;
    if (pending) {
      rows.push([
        'awaiting',
        `approval of generation ${pending.generation}: ${pending.engine} ${pending.instanceClass}, ` +
          `${pending.storageGiB} GiB, Multi-AZ ${pending.multiAZ ? 'yes' : 'no'}, ` +
          `deletionPolicy ${pending.deletionPolicy} (rdsflow approve)`,
      ]);
    }
    if (status?.dbInstanceIdentifier) rows.push(['instance', status.dbInstanceIdentifier]);
    if (status?.endpoint)
      rows.push(['endpoint', `${status.endpoint.host}:${status.endpoint.port}`]);
    if (status?.secretRef) rows.push(['vault', status.secretRef.vaultPath]);
    if (status?.consulKey) rows.push(['consul', status.consulKey]);
    if (metadata.deletionTimestamp) rows.push(['deleting', `since ${metadata.deletionTimestamp}`]);
  }
  if (workflow) {
    rows.push(['workflow', `${workflow.workflowId} (${workflow.status})`]);
    const live = workflow.live;
    if (live) {
      rows.push(['stage', `${live.stage}: ${live.step}, attempt ${live.attempt}`]);
      rows.push(['live phase', `${live.phase}: ${live.message}`]);
      if (live.lastError) rows.push(['last error', live.lastError]);
    } else if (workflow.status === 'RUNNING') {
      rows.push(['live status', 'no worker answered (is a worker polling the task queue?)']);
    }
    if (workflow.uiUrl) rows.push(['temporal ui', workflow.uiUrl]);
  } else {
    rows.push(['workflow', 'none yet (is the watcher running?)']);
  }
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
