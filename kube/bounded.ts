// Every Kubernetes call bounded in time. client-node's calls (node-fetch v2) have no timeout of
// their own: a connect that hangs, or a server that accepts and never answers, would hold a
// list, a status write or a Lease renewal forever. Here each API call carries an abort signal
// that fires after the limit, and a watch gets node-fetch's response-header timeout, so a hung
// call fails like any other error (counted by `onTimeout`) and is retried by its caller.
//
// And every API call reuses its connection. client-node 1.x gives each request a new agent,
// so each one paid a TCP connect and a full TLS handshake (on both sides: at 50 objects/s the
// watcher spent a quarter of its CPU there, and the apiserver more); here the agent it makes
// is swapped for a keep-alive one shared by every call with the same TLS settings.
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import {
  ServerConfiguration,
  Watch,
  createConfiguration,
  type Configuration,
  type KubeConfig,
  type Middleware,
  type RequestContext,
  type ResponseContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';

export interface KubeBounds {
  /** connect, response headers and body of one call (for a watch: until its headers arrive) */
  readonly timeoutMs: number;
  /** told of each call that ran out of time, e.g. to count it in metrics */
  readonly onTimeout?: (call: string) => void;
  /** the connections to share (e.g. between a process's API clients); a new pool if not given */
  readonly agents?: AgentPool;
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

/** what makes two agents interchangeable: where they connect and with which TLS material */
function agentKey(options: AgentOptions): string {
  const hash = createHash('sha256');
  for (const part of [
    options.ca,
    options.cert,
    options.key,
    options.pfx,
    options.passphrase,
    options.servername,
    options.rejectUnauthorized,
  ]) {
    const values: unknown[] = Array.isArray(part) ? part : [part];
    for (const value of values) {
      hash.update(Buffer.isBuffer(value) ? value : String(value));
      hash.update('\0');
    }
    hash.update('\x01');
  }
  return hash.digest('hex');
}

const KEPT_AGENTS = 4;

/**
 * Keep-alive agents in place of the one-request agents client-node makes: one per set of TLS
 * settings (a rotated client certificate gets a new one; the oldest of more than four is
 * closed). Agents of other kinds (a proxy's) are left as they are.
 */
export class AgentPool {
  private readonly agents = new Map<string, HttpsAgent>();

  take(made: Agent | undefined): Agent | undefined {
    if (!made || made.constructor !== HttpsAgent) return made;
    const options = (made as HttpsAgent & { options: AgentOptions }).options;
    const key = agentKey(options);
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new HttpsAgent({ ...options, keepAlive: true });
      this.agents.set(key, agent);
      for (const [old, oldest] of this.agents) {
        if (this.agents.size <= KEPT_AGENTS) break;
        this.agents.delete(old);
        oldest.destroy();
      }
    }
    return agent;
  }

  /** closes every kept connection (a process that stops) */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/**
 * An API client like `kc.makeApiClient(Api)` whose every call is aborted after the limit and
 * then fails with a KubeTimeoutError, over kept-alive connections.
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
  const agents = bounds.agents ?? new AgentPool();
  const auth: SecurityAuthentication = {
    getName: () => kc.getName(),
    async applySecurityAuthentication(context: RequestContext) {
      await kc.applySecurityAuthentication(context);
      const agent = agents.take(context.getAgent());
      if (agent) context.setAgent(agent);
    },
  };
  const client = new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: auth },
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
