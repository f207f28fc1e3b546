// List, then watch, Database objects in one scope (all namespaces or one), for as long as the
// signal allows: resume from the last resourceVersion, ask for bookmarks, relist when the
// server says the version is too old (410 Gone), reconnect with capped backoff on any error.
// A complete relist reports objects that vanished meanwhile as gone (the reconciler then proves
// they were deleted before anything is deleted), so nothing is missed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseObject, DatabaseRef } from '../contracts/database.js';
import type { BoundedWatch } from '../kube/bounded.js';
import {
  listDatabasePage,
  watchDatabases,
  type DatabaseListApi,
  type DatabaseListPage,
} from '../kube/databases.js';
import { malformed, type Observation } from './decide.js';
import { backoffMs } from './queue.js';

export type WatchEnd = 'closed' | 'expired';

/** Where an observation came from: a watch event, or a (re)list. */
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'LISTED' | 'VANISHED';

/** The two calls list-watch needs; kubeSource() is the real one. */
export interface WatchSource {
  readonly scope: string;
  /** one page; `unpaged` asks for the whole list at once (the fallback when pages keep expiring) */
  list(continueToken: string | undefined, unpaged?: boolean): Promise<DatabaseListPage>;
  /** Streams events from `resourceVersion` until the server closes (or the signal aborts). */
  watch(
    resourceVersion: string,
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
  ): Promise<WatchEnd>;
}

export interface ListWatchHooks {
  /** resolves once the observation (or a newer one of the object) has been handled */
  observe(observation: Observation, receivedAt: number, type: EventType): Promise<void>;
  /** an object the API returned that cannot be addressed or keyed */
  malformed(object: unknown, problem: string): void;
  /** the first list of this scope: how many objects, and when all of them are handled */
  listed(count: number, handled: Promise<void>): void;
  /** for logs and metrics: relists, reconnects and their causes */
  note(
    event: 'relist' | 'relist-restarted' | 'reconnect' | 'expired' | 'bookmark',
    detail?: Record<string, unknown>,
  ): void;
}

const PAGE_SIZE = 500;
/** After this many lists whose continue token expired, the next one is asked for unpaged. */
const PAGED_ATTEMPTS = 3;
const WATCH_TIMEOUT_SECONDS = 300;
/**
 * No event and no bookmark (the apiserver sends one about every minute) for this long means the
 * connection is dead without having said so (a partition, a lost peer): reconnect.
 */
const WATCH_IDLE_MS = (WATCH_TIMEOUT_SECONDS + 60) * 1_000;
const BACKOFF = { initialMs: 500, maxMs: 15_000 };

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpStatusError';
  }
}

function isExpired(error: unknown): boolean {
  // a watch the server ended (its timeout, or a slow reader cut off) ends with no error at all
  if (typeof error !== 'object' || error === null) return false;
  const status =
    (error as { statusCode?: unknown }).statusCode ?? (error as { code?: unknown }).code;
  return status === 410;
}

export interface KubeSourceOptions {
  /** a bounded watch (kube/bounded.ts) */
  readonly watcher: BoundedWatch;
  readonly api: DatabaseListApi;
  /** undefined: every namespace */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly idleMs?: number;
  readonly pageSize?: number;
  /** how long the server keeps one watch open before it ends it (default 300 s) */
  readonly watchTimeoutSeconds?: number;
}

/** Fires `onIdle` when `arm()` has not been called for `ms`; `stop()` ends it. */
function watchdog(ms: number, onIdle: () => void) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    arm(): void {
      clearTimeout(timer);
      if (stopped) return;
      timer = setTimeout(onIdle, ms);
      timer.unref();
    },
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * One watch of the scope from `resourceVersion` until the server closes it ('closed'), says the
 * version is too old ('expired'), or the signal aborts; a watch silent for longer than the idle
 * limit is given up (an error: the caller reconnects).
 */
function watchScope(
  options: KubeSourceOptions,
  resourceVersion: string,
  onEvent: (type: string, object: unknown) => void,
  signal: AbortSignal,
): Promise<WatchEnd> {
  const idleMs = options.idleMs ?? WATCH_IDLE_MS;
  return new Promise<WatchEnd>((resolve, reject) => {
    let expired = false;
    let stalled = false;
    let controller: AbortController | undefined;
    const abort = () => controller?.abort();
    const idle = watchdog(idleMs, () => {
      stalled = true;
      abort();
    });
    const done = (error: unknown) => {
      idle.stop();
      signal.removeEventListener('abort', abort);
      if (stalled) reject(new Error(`watch stalled: nothing for ${idleMs / 1_000}s`));
      else if (expired || isExpired(error)) resolve('expired');
      else if (error && !signal.aborted)
        reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
      else resolve('closed');
    };
    const event = (type: string, object: unknown) => {
      idle.arm();
      if (type !== 'ERROR') return onEvent(type, object);
      const status = object as { code?: number; message?: string };
      if (status.code === 410) expired = true;
      else done(new HttpStatusError(status.code ?? 500, status.message ?? 'watch error'));
      abort();
    };
    const from = {
      resourceVersion,
      timeoutSeconds: options.watchTimeoutSeconds ?? WATCH_TIMEOUT_SECONDS,
    };
    watchDatabases(options.watcher, options, from, { event, done }, signal).then((c) => {
      controller = c;
      if (signal.aborted) return c.abort();
      signal.addEventListener('abort', abort, { once: true });
      idle.arm();
    }, done);
  });
}

export function kubeSource(options: KubeSourceOptions): WatchSource {
  return {
    scope: options.namespace ?? '*',
    list: (continueToken, unpaged = false) =>
      listDatabasePage(options.api, options, {
        ...(unpaged ? {} : { limit: options.pageSize ?? PAGE_SIZE }),
        continueToken,
      }),
    watch: (resourceVersion, onEvent, signal) =>
      watchScope(options, resourceVersion, onEvent, signal),
  };
}

export class ListWatch {
  /** objects of this scope as of the last event, by UID: what a relist compares against */
  private readonly known = new Map<string, DatabaseRef>();
  private resourceVersion: string | undefined;
  private synced = false;

  constructor(
    private readonly source: WatchSource,
    private readonly hooks: ListWatchHooks,
  ) {}

  /** UIDs of the objects this scope currently knows of. */
  knownUids(): string[] {
    return [...this.known.keys()];
  }

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) {
          this.resourceVersion = await this.relist(signal);
          if (this.resourceVersion === undefined) break; // stopped mid-list: nothing reported
          failures = 0;
        }
        const startedAt = Date.now();
        let events = 0;
        const end = await this.source.watch(
          this.resourceVersion,
          (type, object) => {
            events++;
            this.event(type, object);
          },
          signal,
        );
        if (end === 'expired') {
          this.hooks.note('expired', { scope: this.source.scope });
          this.resourceVersion = undefined;
        } else if (events === 0 && Date.now() - startedAt < 1_000) {
          // a server that closes at once, over and over, must not become a busy loop
          throw new Error('watch closed immediately');
        } else {
          failures = 0;
        }
      } catch (error: unknown) {
        if (signal.aborted) break;
        if (isExpired(error)) {
          this.resourceVersion = undefined;
          continue;
        }
        failures++;
        const delay = backoffMs(failures, BACKOFF.initialMs, BACKOFF.maxMs);
        this.hooks.note('reconnect', {
          scope: this.source.scope,
          attempt: failures,
          retryInMs: delay,
          error: error instanceof Error ? error.message : String(error),
        });
        await sleep(delay, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /**
   * Lists every object, in pages of one consistent list, then reports each as present and the
   * ones no longer listed as gone. Only a complete list reports anything: an expired continue
   * token starts the whole list over (after a few, unpaged), and a stop between pages reports
   * nothing at all. Returns undefined when stopped.
   */
  private async relist(signal: AbortSignal): Promise<string | undefined> {
    const receivedAt = Date.now();
    let complete:
      { items: DatabaseObject[]; bad: [unknown, string][]; version: string } | undefined;
    for (let attempt = 1; !complete; attempt++) {
      complete = await this.listAll(signal, attempt > PAGED_ATTEMPTS);
      if (signal.aborted) return undefined;
      if (!complete) this.hooks.note('relist-restarted', { scope: this.source.scope, attempt });
    }
    for (const [item, problem] of complete.bad) this.hooks.malformed(item, problem);
    const listed = new Map(complete.items.map((o) => [o.metadata.uid, o]));
    this.hooks.note('relist', { scope: this.source.scope, objects: listed.size });
    const handled: Promise<void>[] = [];
    for (const [uid, ref] of this.known) {
      if (!listed.has(uid))
        handled.push(this.hooks.observe({ kind: 'gone', ref }, receivedAt, 'VANISHED'));
    }
    this.known.clear();
    for (const [uid, object] of listed) {
      const { namespace, name } = object.metadata;
      this.known.set(uid, { namespace, name, uid });
      handled.push(this.hooks.observe({ kind: 'present', object }, receivedAt, 'LISTED'));
    }
    if (!this.synced) {
      this.synced = true;
      this.hooks.listed(
        listed.size,
        Promise.all(handled).then(() => undefined),
      );
    }
    return complete.version;
  }

  /**
   * Every page of one list; undefined when its continue token expired (the list must start
   * over: pages of different lists are not one consistent list) or when stopped.
   */
  private async listAll(signal: AbortSignal, unpaged: boolean) {
    const items: DatabaseObject[] = [];
    const bad: [unknown, string][] = [];
    let version = '';
    let continueToken: string | undefined;
    do {
      if (signal.aborted) return undefined;
      let page: DatabaseListPage;
      try {
        page = await this.source.list(continueToken, unpaged);
      } catch (error: unknown) {
        // NOTE: a continue token expires like a resourceVersion (410) once etcd compacts past it
        if (isExpired(error) && continueToken) return undefined;
        throw error;
      }
      if (!continueToken) version = page.resourceVersion;
      for (const item of page.items) {
        const problem = malformed(item);
        if (problem) bad.push([item, problem]);
        else items.push(item as DatabaseObject);
      }
      continueToken = page.continueToken;
    } while (continueToken);
    return signal.aborted ? undefined : { items, bad, version };
  }

  private event(type: string, object: unknown): void {
    const receivedAt = Date.now();
    const version = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata
      ?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (typeof version === 'string') this.resourceVersion = version;
      this.hooks.note('bookmark', { scope: this.source.scope });
      return;
    }
    const problem = malformed(object);
    if (problem) {
      this.hooks.malformed(object, problem);
    } else {
      const database = object as DatabaseObject;
      const { namespace, name, uid } = database.metadata;
      if (type === 'DELETED') {
        this.known.delete(uid);
        void this.hooks.observe(
          { kind: 'gone', ref: { namespace, name, uid }, last: database },
          receivedAt,
          type,
        );
      } else if (type === 'ADDED' || type === 'MODIFIED') {
        this.known.set(uid, { namespace, name, uid });
        void this.hooks.observe({ kind: 'present', object: database }, receivedAt, type);
      }
    }
    if (typeof version === 'string') this.resourceVersion = version;
  }
}
