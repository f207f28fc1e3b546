// One term of a watcher's activity (all of it without leader election, a leader's term with
// it): list+watch every scope, hand every observation to the reconciler, check the running
// workflows once the first list is handled, and stop when the signal aborts.
import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { boundedWatch, type KubeBounds } from '../kube/bounded.js';
import type { EventApi } from '../kube/databases.js';
import { systemClock, type Clock } from './clock.js';
import { createEffects } from './effects.js';
import { ListWatch, kubeSource, type ListWatchHooks } from './list-watch.js';
import type { WatcherMetrics } from './metrics.js';
import { Reconciler } from './reconciler.js';

export interface TermContext {
  readonly config: Pick<Config, 'temporal' | 'watcher'>;
  readonly kc: KubeConfig;
  readonly bounds: KubeBounds;
  readonly objects: CustomObjectsApi;
  readonly events: EventApi;
  readonly temporal: Client;
  /** this cluster's identity: the watcher acts on this cluster's workflows only */
  readonly cluster: string;
  readonly metrics: WatcherMetrics;
  readonly log: Logger;
  /** told when the first list of every scope has been handled */
  readonly ready: () => void;
  /** the real clock unless a test passes a fake one */
  readonly clock?: Clock;
}

/** What the sweep of running workflows needs of a term's context. */
export type SweepContext = Pick<TermContext, 'log' | 'ready' | 'clock'> & {
  readonly config: { readonly watcher: Pick<Config['watcher'], 'sweepIntervalMs'> };
};

const NOTES = {
  relist: 'listed',
  'relist-restarted': 'continue token expired mid-list (410); listing again from the start',
  expired: 'watch expired (410); relisting',
} as const;

/** The watcher's scope in words, for logs and the Event of an object that left it. */
export function scopeText(watcher: Config['watcher']): string {
  return [
    watcher.namespaces.length > 0
      ? `RDSFLOW_WATCH_NAMESPACES=${watcher.namespaces.join(',')}`
      : 'all namespaces',
    ...(watcher.labelSelector ? [`RDSFLOW_WATCH_SELECTOR=${watcher.labelSelector}`] : []),
  ].join(', ');
}

function reconcilerFor(ctx: TermContext, fence?: () => number): Reconciler {
  const { metrics, log } = ctx;
  const effects = createEffects({
    temporal: ctx.temporal,
    taskQueue: ctx.config.temporal.taskQueue,
    cluster: ctx.cluster,
    kube: ctx.objects,
    events: ctx.events,
    callTimeoutMs: 10_000,
    ...(fence ? { fence } : {}),
    onCall: (call, outcome) => metrics.temporalCalls.inc({ call, outcome }),
    onSearchAttributesMissing: (missing) =>
      log.warn(
        {
          missing,
          register: missing.map(
            (name) => `temporal operator search-attribute create --name ${name} --type Keyword`,
          ),
        },
        'search attributes not registered: workflows start without them (the UI cannot filter by database)',
      ),
  });
  return new Reconciler(effects, metrics, log, {
    concurrency: ctx.config.watcher.concurrency,
    scope: scopeText(ctx.config.watcher),
    ...(ctx.clock ? { clock: ctx.clock } : {}),
  });
}

/** What list-watch reports goes to the reconciler, the metrics and the log. */
function hooksFor(
  ctx: TermContext,
  reconciler: Reconciler,
  namespace: string | undefined,
  listed: (handled: Promise<void>) => void,
): ListWatchHooks {
  const { metrics, log } = ctx;
  return {
    observe: (observation, receivedAt, type) => reconciler.observe(observation, receivedAt, type),
    malformed: (object, problem) => {
      metrics.errors.inc({ stage: 'malformed' });
      const metadata = (object as { metadata?: Record<string, unknown> } | null)?.metadata;
      const name = `${String(metadata?.['namespace'])}/${String(metadata?.['name'])}`;
      log.warn({ object: name, problem }, 'malformed object ignored');
    },
    listed: (count, handled) => {
      log.info({ scope: namespace ?? '*', objects: count }, 'initial list received');
      listed(handled);
    },
    note: (event, detail) => {
      if (event === 'bookmark') return metrics.bookmarks.inc();
      if (event === 'relist') metrics.relists.inc();
      if (event === 'relist-restarted') metrics.relistRestarts.inc();
      if (event !== 'reconnect') return log.info(detail, NOTES[event]);
      metrics.errors.inc({ stage: 'watch' });
      log.warn(detail, 'watch interrupted; reconnecting');
    },
  };
}

/** Resolves when the signal aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** One check of the running workflows against their objects, retried until it is done. */
async function sweep(
  ctx: SweepContext,
  reconciler: Reconciler,
  listWatches: readonly Pick<ListWatch, 'knownUids'>[],
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      const listed = new Set(listWatches.flatMap((lw) => lw.knownUids()));
      const orphans = await reconciler.sweepOrphans(listed);
      ctx.log.info({ orphans }, 'running workflows checked against their objects');
      return;
    } catch (error: unknown) {
      ctx.log.warn({ err: error, attempt }, 'orphan check failed; retrying');
      await (ctx.clock ?? systemClock).sleep(Math.min(60_000, 2_000 * attempt), signal);
    }
  }
}

/**
 * Once every scope's first list is handled: ready, then the running workflows are checked, and
 * again every sweep interval (an object deleted while outside the scope, or one whose finalizer
 * was removed by hand, is found without a restart).
 */
export async function afterFirstList(
  ctx: SweepContext,
  reconciler: Reconciler,
  listWatches: readonly Pick<ListWatch, 'knownUids'>[],
  firstLists: Promise<unknown>,
  signal: AbortSignal,
): Promise<void> {
  // a stop before the first list is done must not leave this waiting forever
  await Promise.race([firstLists, aborted(signal)]);
  if (signal.aborted) return;
  ctx.ready();
  ctx.log.info('initial list handled; ready');
  while (!signal.aborted) {
    await sweep(ctx, reconciler, listWatches, signal);
    await (ctx.clock ?? systemClock).sleep(ctx.config.watcher.sweepIntervalMs, signal);
  }
}

/** One term: list+watch every scope until `signal` aborts; `fence` bounds a leader's calls. */
export async function runTerm(
  ctx: TermContext,
  signal: AbortSignal,
  fence?: () => number,
): Promise<void> {
  const { config } = ctx;
  const reconciler = reconcilerFor(ctx, fence);
  const scopes = config.watcher.namespaces.length > 0 ? config.watcher.namespaces : [undefined];
  const firstLists: Promise<void>[] = [];
  const listWatches = scopes.map((namespace) => {
    let listed: (handled: Promise<void>) => void = () => undefined;
    firstLists.push(
      new Promise((resolve, reject) => {
        listed = (handled) => {
          handled.then(resolve, reject);
        };
      }),
    );
    const source = kubeSource({
      watcher: boundedWatch(ctx.kc, ctx.bounds),
      api: ctx.objects,
      ...(namespace ? { namespace } : {}),
      ...(config.watcher.labelSelector ? { labelSelector: config.watcher.labelSelector } : {}),
      pageSize: config.watcher.pageSize,
    });
    return new ListWatch(source, hooksFor(ctx, reconciler, namespace, listed));
  });
  const loops = listWatches.map((listWatch) => listWatch.run(signal));
  const sweeping = afterFirstList(
    ctx,
    reconciler,
    listWatches,
    Promise.all(firstLists),
    signal,
  ).catch((error: unknown) => ctx.log.error({ err: error }, 'first list not handled'));
  try {
    await Promise.all(loops);
    await sweeping;
  } finally {
    await reconciler.close();
  }
}
