// The watcher's Prometheus metrics: events received, decisions, Temporal calls, errors, and the lag
// from an event's arrival to Temporal acknowledging the call it caused.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class WatcherMetrics {
  readonly registry = new Registry();
  readonly events = new Counter({
    name: 'rdsflow_watcher_events_total',
    help: 'Database observations by source: watch event type, or LISTED/VANISHED from a (re)list',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly bookmarks = new Counter({
    name: 'rdsflow_watcher_bookmarks_total',
    help: 'Watch bookmarks received',
    registers: [this.registry],
  });
  readonly actions = new Counter({
    name: 'rdsflow_watcher_actions_total',
    help: 'Decisions taken: start, specChanged, delete, objectGone, release, reject or none',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly temporalCalls = new Counter({
    name: 'rdsflow_watcher_temporal_calls_total',
    help: 'Temporal calls (start, signalWithStart, signal) by outcome',
    labelNames: ['call', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'rdsflow_watcher_errors_total',
    help: 'Errors by stage: watch, malformed, finalizer, delivery',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'rdsflow_watcher_retries_total',
    help: 'Deliveries that failed and were scheduled again',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'rdsflow_watcher_rejected_total',
    help: 'Objects whose spec was invalid as stored: status and Event written, nothing started',
    registers: [this.registry],
  });
  readonly relists = new Counter({
    name: 'rdsflow_watcher_relists_total',
    help: 'Full lists (the first one, and after 410 Gone)',
    registers: [this.registry],
  });
  readonly kubeTimeouts = new Counter({
    name: 'rdsflow_watcher_kube_timeouts_total',
    help: 'Kubernetes calls that did not answer within RDSFLOW_KUBE_TIMEOUT, by call (verb and resource)',
    labelNames: ['call'] as const,
    registers: [this.registry],
  });
  readonly relistRestarts = new Counter({
    name: 'rdsflow_watcher_relist_restarts_total',
    help: 'Lists started over because their continue token expired between pages',
    registers: [this.registry],
  });
  readonly lag = new Histogram({
    name: 'rdsflow_watcher_lag_seconds',
    help: 'From an event reaching the watcher to Temporal acknowledging the call it caused',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'rdsflow_watcher_queue_depth',
    help: 'Objects with an event waiting, in flight or backing off',
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'rdsflow_watcher_leader',
    help: '1 while this watcher is the active one (always 1 without leader election)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rdsflow_watcher_' });
  }
}
