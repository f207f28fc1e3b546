// Kubernetes clients whose every call is bounded in time and rides the process's kept-alive
// connections: the generated API clients of @kubernetes/client-node, configured through their
// documented `createConfiguration` with rdsflow's HTTP layer (kube/http.ts) as `httpApi`, and
// the watch of a collection through the same layer. client-node's own request path (node-fetch
// v2, a new agent per request, no timeout) is never used, so an upgrade of it cannot drop either.
import {
  ServerConfiguration,
  createConfiguration,
  wrapHttpLibrary,
  type Configuration,
  type KubeConfig,
} from '@kubernetes/client-node';
import { KubeHttp, type KubeBounds } from './http.js';

export { KubeConnections, KubeTimeoutError, type KubeBounds } from './http.js';

/**
 * An API client like `kc.makeApiClient(Api)` whose every call fails with a KubeTimeoutError
 * when it has no complete answer within the limit, over the shared kept-alive connections.
 */
export function boundedApiClient<T extends object>(
  kc: KubeConfig,
  Api: new (configuration: Configuration) => T,
  bounds: KubeBounds,
): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      httpApi: wrapHttpLibrary(new KubeHttp(kc, bounds)),
      // no auth method: the HTTP layer applies the kubeconfig's credentials to every request
      authMethods: {},
    }),
  );
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
  return new KubeHttp(kc, bounds);
}
