// The worker's metrics: activity outcomes and durations, plus process metrics (served by
// runtime/http.ts with /healthz).
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  Next,
} from '@temporalio/worker';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly activities = new Counter({
    name: 'rdsflow_activity_total',
    help: 'Activity attempts by activity type and outcome',
    labelNames: ['activity', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly durations = new Histogram({
    name: 'rdsflow_activity_duration_seconds',
    help: 'Activity attempt durations by activity type',
    labelNames: ['activity'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [this.registry],
  });

  readonly kubeTimeouts = new Counter({
    name: 'rdsflow_worker_kube_timeouts_total',
    help: 'Kubernetes calls that did not answer within RDSFLOW_KUBE_TIMEOUT, by call (verb and resource)',
    labelNames: ['call'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rdsflow_worker_' });
  }

  /** An activity interceptor that counts and times every attempt. */
  interceptor(activityType: string): ActivityInboundCallsInterceptor {
    return {
      execute: async (
        input: ActivityExecuteInput,
        next: Next<ActivityInboundCallsInterceptor, 'execute'>,
      ) => {
        const stop = this.durations.startTimer({ activity: activityType });
        try {
          const result: unknown = await next(input);
          this.activities.inc({ activity: activityType, outcome: 'completed' });
          return result;
        } catch (error: unknown) {
          const type = (error as { type?: string }).type ?? 'error';
          this.activities.inc({ activity: activityType, outcome: type });
          throw error;
        } finally {
          stop();
        }
      },
    };
  }
}
