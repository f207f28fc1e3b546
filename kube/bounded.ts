// Every Kubernetes call bounded in time. client-node's calls (node-fetch v2) have no timeout of
// their own: a connect that hangs, or a server that accepts and never answers, would hold a
// list, a status write or a Lease renewal forever. Here each API call carries an abort signal
// that fires after the limit, and a watch gets node-fetch's response-header timeout, so a hung
// call fails like any other error (counted by `onTimeout`) and is retried by its caller.
import { Agent } from 'node:http';
import {
  ServerConfiguration,
  Watch,
  createConfiguration,
  type Configuration,
  type KubeConfig,
  type Middleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

export interface KubeBounds {
  /** connect, response headers and body of one call (for a watch: until its headers arrive) */
  readonly timeoutMs: number;
  /** told of each call that ran out of time, e.g. to count it in metrics */
  readonly onTimeout?: (call: string) => void;
}

/** A Kubernetes call that did not answer within its limit. */
export class KubeTimeoutError extends Error {
  override name = 'KubeTimeoutError';
  constructor(
    readonly call: string,
    readonly timeoutMs: number,
  ) {
    super(`Kubernetes ${call}: no answer within ${timeoutMs / 1_000}s`);
  }
}

function isAbort(error: unknown): boolean {
  const e = error as { name?: string; type?: string } | undefined;
  return e?.name === 'AbortError' || e?.type === 'aborted' || e?.type === 'request-timeout';
}

/**
 * An API client like `kc.makeApiClient(Api)` whose every call is aborted after the limit and
 * then fails with a KubeTimeoutError.
 */
export function boundedApiClient<T extends object>(
  kc: KubeConfig,
  Api: new (configuration: Configuration) => T,
  bounds: KubeBounds,
): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const deadline: Middleware = {
    pre: (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(bounds.timeoutMs));
      return Promise.resolve(context);
    },
    post: (response: ResponseContext) => Promise.resolve(response),
  };
  const client = new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [deadline],
    }),
  );
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const call = String(property);
      return (...args: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch((error) => {
          if (!isAbort(error)) throw error;
          bounds.onTimeout?.(call);
          throw new KubeTimeoutError(call, bounds.timeoutMs);
        });
    },
  });
}

/**
 * A watch whose connection must answer (response headers) within the limit, and that gives up
 * a pending connection at once when `signal` aborts (a prompt shutdown even while connecting).
 * Once streaming, the caller's idle watchdog takes over.
 */
export interface BoundedWatch {
  /** Starts a watch; resolves once its response headers came (or it failed: `done` says so). */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
    signal: AbortSignal,
  ): Promise<AbortController>;
}

export function boundedWatch(kc: KubeConfig, bounds: KubeBounds): BoundedWatch {
  return {
    async watch(
      path: string,
      query: Record<string, string | number | boolean | undefined>,
      onEvent: (type: string, object: unknown) => void,
      done: (error: unknown) => void,
      signal: AbortSignal,
    ): Promise<AbortController> {
      let agent: Agent | undefined;
      // the only two things Watch asks of its KubeConfig (https.Agent extends http.Agent)
      const config = {
        getCurrentCluster: () => kc.getCurrentCluster(),
        applyToFetchOptions: async (options: object) => {
          const init = (await kc.applyToFetchOptions(options)) as { agent?: unknown };
          if (init.agent instanceof Agent) agent = init.agent;
          // node-fetch v2: fails the request when no response headers came within this time
          return { ...init, timeout: bounds.timeoutMs };
        },
      } as unknown as KubeConfig;
      const giveUp = () => agent?.destroy();
      signal.addEventListener('abort', giveUp, { once: true });
      try {
        return await new Watch(config).watch(path, query, onEvent, (error: unknown) => {
          if (isAbort(error) && !signal.aborted) {
            bounds.onTimeout?.('watch');
            done(new KubeTimeoutError('watch', bounds.timeoutMs));
          } else {
            done(error);
          }
        });
      } finally {
        signal.removeEventListener('abort', giveUp);
      }
    },
  };
}
