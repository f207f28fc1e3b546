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
  /** step entries by the id of their ActivityTaskScheduled event */
  const steps = new Map<string, { index: number; scheduledAt?: number }>();
  const finish = (
    scheduledEventId: unknown,
    event: Event,
    outcome: 'completed' | 'failed' | 'timed out' | 'cancelled',
    error?: string,
  ) => {
    const found = steps.get(String(scheduledEventId));
    if (!found) return;
    const before = entries[found.index];
    if (before?.kind !== 'step') return;
    const at = optionalTsToMs(event.eventTime);
    entries[found.index] = {
      ...before,
      outcome,
      ...(at !== undefined && found.scheduledAt !== undefined
        ? { durationMs: at - found.scheduledAt }
        : {}),
      ...(error ? { error } : {}),
    };
  };
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const at = optionalTsToMs(event.eventTime);
      steps.set(String(event.eventId), {
        index: entries.length,
        ...(at !== undefined ? { scheduledAt: at } : {}),
      });
      entries.push({
        kind: 'step',
        step: scheduled.activityType?.name ?? '?',
        attempts: 1,
        ...atOf(event),
        outcome: 'running',
      });
      continue;
    }
    const startedAttrs = event.activityTaskStartedEventAttributes;
    if (startedAttrs) {
      const found = steps.get(String(startedAttrs.scheduledEventId));
      const before = found ? entries[found.index] : undefined;
      if (found && before?.kind === 'step') {
        const lastFailure = startedAttrs.lastFailure?.message;
        entries[found.index] = {
          ...before,
          attempts: startedAttrs.attempt ?? 1,
          ...(lastFailure ? { error: lastFailure } : {}),
        };
      }
      continue;
    }
    if (event.activityTaskCompletedEventAttributes) {
      finish(event.activityTaskCompletedEventAttributes.scheduledEventId, event, 'completed');
    } else if (event.activityTaskFailedEventAttributes) {
      const failure = event.activityTaskFailedEventAttributes.failure;
      finish(
        event.activityTaskFailedEventAttributes.scheduledEventId,
        event,
        'failed',
        failure?.message ?? undefined,
      );
    } else if (event.activityTaskTimedOutEventAttributes) {
      finish(event.activityTaskTimedOutEventAttributes.scheduledEventId, event, 'timed out');
    } else if (event.activityTaskCanceledEventAttributes) {
      finish(event.activityTaskCanceledEventAttributes.scheduledEventId, event, 'cancelled');
    } else if (event.workflowExecutionSignaledEventAttributes) {
      entries.push({
        kind: 'signal',
        name: event.workflowExecutionSignaledEventAttributes.signalName ?? '?',
        ...atOf(event),
      });
    } else if (event.timerStartedEventAttributes) {
      const ms = durationMs(event.timerStartedEventAttributes.startToFireTimeout);
      entries.push({
        kind: 'timer',
        ...(ms !== undefined ? { durationMs: ms } : {}),
        ...atOf(event),
      });
    }
  }
  return entries;
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
