// Composition root of the watcher: load config once, build the clients, list+watch Database
// objects in the configured scope and turn every event into the right Temporal call; serve
// /healthz (ready once the first list is handled), /livez and /metrics; on SIGTERM stop
// watching, let calls in flight finish, close everything.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:http';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { kubeClientConfig, lazyTemporal } from '../config/clients.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { listening, startHttp } from '../runtime/http.js';
import { createLogger } from '../runtime/log.js';
import { boundedApiClient, boundedWatch } from '../kube/bounded.js';
import { createEffects } from './effects.js';
import { lead } from './lease.js';
import { ListWatch, kubeSource } from './list-watch.js';
import { WatcherMetrics } from './metrics.js';
import { Reconciler } from './reconciler.js';

const log = createLogger('rdsflow-watcher');

type State = 'starting' | 'standby' | 'listing' | 'watching' | 'stopping';

const NOTES = {
  relist: 'listed',
  'relist-restarted': 'continue token expired mid-list (410); listing again from the start',
  expired: 'watch expired (410); relisting',
} as const;

async function main(): Promise<void> {
  const config = loadConfig(process.env, ['temporal', 'kube', 'watcher', 'process']);
  log.level = config.process.logLevel;
  const kc = kubeClientConfig(config.kube);
  const metrics = new WatcherMetrics();
  const bounds = {
    timeoutMs: config.kube.timeoutMs,
    onTimeout: (call: string) => metrics.kubeTimeouts.inc({ call }),
  };
  const objects = boundedApiClient(kc, CustomObjectsApi, bounds);
  const events = boundedApiClient(kc, CoreV1Api, bounds);
  const identity = config.watcher.identity ?? `${hostname()}-${process.pid}`;
  const scopes = config.watcher.namespaces.length > 0 ? config.watcher.namespaces : [undefined];
  const scopeText = [
    config.watcher.namespaces.length > 0
      ? `RDSFLOW_WATCH_NAMESPACES=${config.watcher.namespaces.join(',')}`
      : 'all namespaces',
    ...(config.watcher.labelSelector
      ? [`RDSFLOW_WATCH_SELECTOR=${config.watcher.labelSelector}`]
      : []),
  ].join(', ');

  let state: State = 'starting';
  const stop = new AbortController();
  const onSignal = (signal: string) => {
    log.info({ signal }, 'stopping');
    state = 'stopping';
    stop.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  // lazily: Temporal down at start means calls are retried, not a crash loop
  const temporal = lazyTemporal(config.temporal);
  let server: Server | undefined;
  try {
    server = await startHttp(
      config.process.httpHost,
      config.process.httpPort,
      metrics.registry,
      () => ({
        ok: state === 'watching' || state === 'standby',
        watcher: state,
        identity,
      }),
    );
    log.info(
      {
        temporal: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        scope: config.watcher.namespaces.length > 0 ? config.watcher.namespaces : 'all namespaces',
        labelSelector: config.watcher.labelSelector,
        leaderElection: config.watcher.leaderElection,
        identity,
        http: listening(server),
      },
      'watcher started',
    );

    /** One term of activity: list+watch every scope until `signal` aborts. */
    const watchAll = async (signal: AbortSignal, fence?: () => number): Promise<void> => {
      metrics.leader.set(1);
      state = 'listing';
      const reconciler = new Reconciler(
        createEffects({
          temporal,
          taskQueue: config.temporal.taskQueue,
          kube: objects,
          events,
          callTimeoutMs: 10_000,
          ...(fence ? { fence } : {}),
          onCall: (call, outcome) => metrics.temporalCalls.inc({ call, outcome }),
          onSearchAttributesMissing: (missing) =>
            log.warn(
              {
                missing,
                register: missing.map(
                  (name) =>
                    `temporal operator search-attribute create --name ${name} --type Keyword`,
                ),
              },
              'search attributes not registered: workflows start without them (the UI cannot filter by database)',
            ),
        }),
        metrics,
        log,
        { concurrency: config.watcher.concurrency, scope: scopeText },
      );
      const initial: Promise<void>[] = [];
      const listWatches = scopes.map((namespace) => {
        let resolveListed: (handled: Promise<void>) => void = () => undefined;
        initial.push(
          new Promise<void>((resolve, reject) => {
            resolveListed = (handled) => {
              handled.then(resolve, reject);
            };
          }),
        );
        const source = kubeSource({
          watcher: boundedWatch(kc, bounds),
          api: objects,
          ...(namespace ? { namespace } : {}),
          ...(config.watcher.labelSelector ? { labelSelector: config.watcher.labelSelector } : {}),
          pageSize: config.watcher.pageSize,
        });
        return new ListWatch(source, {
          observe: (observation, receivedAt, type) =>
            reconciler.observe(observation, receivedAt, type),
          malformed: (object, problem) => {
            metrics.errors.inc({ stage: 'malformed' });
            const metadata = (object as { metadata?: Record<string, unknown> } | null)?.metadata;
            log.warn(
              {
                object: `${String(metadata?.['namespace'])}/${String(metadata?.['name'])}`,
                problem,
              },
              'malformed object ignored',
            );
          },
          listed: (count, handled) => {
            log.info({ scope: namespace ?? '*', objects: count }, 'initial list received');
            resolveListed(handled);
          },
          note: (event, detail) => {
            if (event === 'bookmark') metrics.bookmarks.inc();
            else if (event === 'relist') metrics.relists.inc();
            else if (event === 'relist-restarted') metrics.relistRestarts.inc();
            if (event === 'reconnect') {
              metrics.errors.inc({ stage: 'watch' });
              log.warn(detail, 'watch interrupted; reconnecting');
            } else if (event !== 'bookmark') {
              log.info(detail, NOTES[event]);
            }
          },
        });
      });
      const loops = listWatches.map((listWatch) => listWatch.run(signal));
      const stopped = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      const afterFirstList = async () => {
        // a stop before the first list is done must not leave this waiting forever
        await Promise.race([Promise.all(initial), stopped]);
        if (signal.aborted) return;
        state = 'watching';
        log.info('initial list handled; ready');
        const listed = new Set(listWatches.flatMap((lw) => lw.knownUids()));
        for (let attempt = 1; !signal.aborted; attempt++) {
          try {
            const orphans = await reconciler.sweepOrphans(listed);
            log.info({ orphans }, 'running workflows checked against their objects');
            return;
          } catch (error: unknown) {
            log.warn({ err: error, attempt }, 'orphan check failed; retrying');
            await sleep(Math.min(60_000, 2_000 * attempt), undefined, { signal }).catch(
              () => undefined,
            );
          }
        }
      };
      const sweeping = afterFirstList().catch((error: unknown) =>
        log.error({ err: error }, 'first list not handled'),
      );
      try {
        await Promise.all(loops);
        await sweeping;
      } finally {
        await reconciler.close();
        metrics.leader.set(0);
      }
    };

    if (config.watcher.leaderElection) {
      await lead(
        boundedApiClient(kc, CoordinationV1Api, bounds),
        {
          namespace: config.watcher.leaseNamespace,
          name: config.watcher.leaseName,
          identity,
        },
        log,
        {
          standby: () => {
            if (state !== 'stopping') state = 'standby';
          },
          active: watchAll,
        },
        stop.signal,
      );
    } else {
      await watchAll(stop.signal);
    }
    log.info('watcher stopped');
  } finally {
    server?.close();
    await temporal.connection.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) log.fatal(error.message);
  else log.fatal({ err: error }, 'watcher failed');
  process.exitCode = 1;
});
