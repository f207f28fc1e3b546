// A database's history as a person reads it: from the raw Temporal histories of every run of
// its workflow, the steps (activities) with their attempts, durations and errors, the signals
// it received, and where each run (stage) began and ended. Pure: no I/O, tested on the
// committed replay histories.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;

export interface RunHistory {
  readonly runId: string;
  readonly history: History;
}

export type Entry =
  | {
      readonly kind: 'run';
      readonly runId: string;
      readonly stage: string;
      readonly at?: number;
      /** how the run ended: continued-as-new, completed, failed, cancelled, terminated, running */
      readonly end: string;
    }
  | {
      readonly kind: 'step';
      readonly step: string;
      readonly attempts: number;
      readonly at?: number;
      readonly durationMs?: number;
      readonly outcome: 'completed' | 'failed' | 'timed out' | 'cancelled' | 'running';
      /** the last attempt's error, or the one before a success */
      readonly error?: string;
    }
  | { readonly kind: 'signal'; readonly name: string; readonly at?: number }
  | { readonly kind: 'timer'; readonly durationMs?: number; readonly at?: number };

/** Milliseconds of a protobuf Timestamp whose seconds may be a Long, a number or a string. */
function optionalTsToMs(
  ts: { seconds?: unknown; nanos?: number | null } | null | undefined,
): number | undefined {
  if (!ts) return undefined;
  const seconds = ts.seconds as { toNumber?: () => number } | number | string | null | undefined;
  const whole =
    typeof seconds === 'object' && seconds !== null && typeof seconds.toNumber === 'function'
      ? seconds.toNumber()
      : Number(seconds ?? 0);
  return whole * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

function decode<T>(payload: Payload | null | undefined): T | undefined {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload<T>(payload);
  } catch {
    return undefined;
  }
}

const durationMs = optionalTsToMs;

function runEnd(events: Event[]): string {
  const last = events.at(-1);
  if (!last) return 'running';
  if (last.workflowExecutionContinuedAsNewEventAttributes) return 'continued';
  if (last.workflowExecutionCompletedEventAttributes) return 'completed';
  if (last.workflowExecutionFailedEventAttributes) return 'failed';
  if (last.workflowExecutionCanceledEventAttributes) return 'cancelled';
  if (last.workflowExecutionTerminatedEventAttributes) return 'terminated';
  if (last.workflowExecutionTimedOutEventAttributes) return 'timed out';
  return 'running';
}

type Outcome = 'completed' | 'failed' | 'timed out' | 'cancelled';

/** How an activity ended, if this event ends one: the step it ends, how, and why. */
function activityEnd(
  event: Event,
): { scheduledEventId: unknown; outcome: Outcome; error?: string } | undefined {
  const done = event.activityTaskCompletedEventAttributes;
  if (done) return { scheduledEventId: done.scheduledEventId, outcome: 'completed' };
  const failed = event.activityTaskFailedEventAttributes;
  if (failed) {
    const error = failed.failure?.message;
    return {
      scheduledEventId: failed.scheduledEventId,
      outcome: 'failed',
      ...(error ? { error } : {}),
    };
  }
  const timedOut = event.activityTaskTimedOutEventAttributes;
  if (timedOut) return { scheduledEventId: timedOut.scheduledEventId, outcome: 'timed out' };
  const cancelled = event.activityTaskCanceledEventAttributes;
  if (cancelled) return { scheduledEventId: cancelled.scheduledEventId, outcome: 'cancelled' };
  return undefined;
}

/** What the SDK records of a local activity (a status write) in its marker's `data`. */
interface LocalActivityMarker {
  activity_type?: string;
  attempt?: number;
  complete_time?: { seconds?: number; nanos?: number };
  original_schedule_time?: { seconds?: number; nanos?: number };
}

/** Milliseconds from a local activity's schedule to its completion, when both are recorded. */
function localDuration(data: LocalActivityMarker | undefined): { durationMs?: number } {
  const begun = optionalTsToMs(data?.original_schedule_time);
  const done = optionalTsToMs(data?.complete_time);
  if (begun === undefined || done === undefined || done < begun) return {};
  return { durationMs: done - begun };
}

/** A local activity's marker: a step that ran inside a workflow task, whole in one event. */
function localStep(event: Event): Entry | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return undefined;
  const data = decode<LocalActivityMarker>(marker.details?.['data']?.payloads?.[0]);
  const error = marker.failure?.message;
  return {
    kind: 'step',
    step: data?.activity_type ?? '?',
    attempts: data?.attempt ?? 1,
    ...atOf(event),
    ...localDuration(data),
    outcome: marker.failure ? 'failed' : 'completed',
    ...(error ? { error } : {}),
  };
}

/** A signal or a timer: an entry of its own. */
function otherEntry(event: Event): Entry | undefined {
  const signal = event.workflowExecutionSignaledEventAttributes;
  if (signal) return { kind: 'signal', name: signal.signalName ?? '?', ...atOf(event) };
  const timer = event.timerStartedEventAttributes;
  if (!timer) return undefined;
  const ms = durationMs(timer.startToFireTimeout);
  return { kind: 'timer', ...(ms !== undefined ? { durationMs: ms } : {}), ...atOf(event) };
}

/** The steps of one run: an entry per scheduled activity, updated as it starts and ends. */
class Steps {
  /** step entries by the id of their ActivityTaskScheduled event */
  private readonly byId = new Map<string, { index: number; scheduledAt?: number }>();

  constructor(private readonly entries: Entry[]) {}

  scheduled(event: Event, name: string): void {
    const at = optionalTsToMs(event.eventTime);
    this.byId.set(String(event.eventId), {
      index: this.entries.length,
      ...(at !== undefined ? { scheduledAt: at } : {}),
    });
    this.entries.push({
      kind: 'step',
      step: name,
      attempts: 1,
      ...atOf(event),
      outcome: 'running',
    });
  }

  started(scheduledEventId: unknown, attempt: number, lastFailure: string | undefined): void {
    this.update(scheduledEventId, (before) => ({
      ...before,
      attempts: attempt,
      ...(lastFailure ? { error: lastFailure } : {}),
    }));
  }

  ended(event: Event, end: NonNullable<ReturnType<typeof activityEnd>>): void {
    const found = this.byId.get(String(end.scheduledEventId));
    const at = optionalTsToMs(event.eventTime);
    this.update(end.scheduledEventId, (before) => ({
      ...before,
      outcome: end.outcome,
      ...(at !== undefined && found?.scheduledAt !== undefined
        ? { durationMs: at - found.scheduledAt }
        : {}),
      ...(end.error ? { error: end.error } : {}),
    }));
  }

  private update(
    scheduledEventId: unknown,
    change: (before: Extract<Entry, { kind: 'step' }>) => Entry,
  ): void {
    const found = this.byId.get(String(scheduledEventId));
    const before = found ? this.entries[found.index] : undefined;
    if (found && before?.kind === 'step') this.entries[found.index] = change(before);
  }
}

/** The entries of one run, in event order. */
function runEntries(run: RunHistory): Entry[] {
  const events = run.history.events ?? [];
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const input = decode<{ stage?: string }>(started?.input?.payloads?.[0]);
  const entries: Entry[] = [
    {
      kind: 'run',
      runId: run.runId,
      stage: input?.stage ?? '?',
      ...atOf(events[0]),
      end: runEnd(events),
    },
  ];
  const steps = new Steps(entries);
  for (const event of events) read(event, steps, entries);
  return entries;
}

/** One event of a run: a step scheduled, started or ended, or an entry of its own. */
function read(event: Event, steps: Steps, entries: Entry[]): void {
  const scheduled = event.activityTaskScheduledEventAttributes;
  if (scheduled) return steps.scheduled(event, scheduled.activityType?.name ?? '?');
  const begun = event.activityTaskStartedEventAttributes;
  if (begun) {
    const lastFailure = begun.lastFailure?.message ?? undefined;
    return steps.started(begun.scheduledEventId, begun.attempt ?? 1, lastFailure);
  }
  const end = activityEnd(event);
  if (end) return steps.ended(event, end);
  const other = otherEntry(event) ?? localStep(event);
  if (other) entries.push(other);
}

function atOf(event: Event | undefined): { at?: number } {
  const at = optionalTsToMs(event?.eventTime);
  return at === undefined ? {} : { at };
}

/** Every run's entries, runs in the order they started. */
export function timeline(runs: readonly RunHistory[]): Entry[] {
  const startOf = (run: RunHistory) => optionalTsToMs(run.history.events?.[0]?.eventTime) ?? 0;
  return [...runs].sort((a, b) => startOf(a) - startOf(b)).flatMap(runEntries);
}
