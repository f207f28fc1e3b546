// Test-side composition root: the environment `npm test` received from the local stack, parsed
// by the same schema the processes use.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { kubeClientConfig } from '../../config/control-clients.js';
import { loadConfig } from '../../config/config.js';
import { taskQueueFor, workflowIdFor } from '../../contracts/names.js';
import type { DatabaseRef } from '../../contracts/database.js';
import { TEST_LABEL } from '../../infra/apps.js';
import { boundedApiClient } from '../../kube/bounded.js';
import { clusterIdentity } from '../../kube/cluster.js';

/** Every object a test creates carries it: `npm start`'s watcher leaves them alone. */
export { TEST_LABEL };

/**
 * The stack's clients as the tests use them. VAULT_ADDR and CONSUL_HTTP_ADDR name the stack's
 * journaling fronts (infra/vault-front.ts, infra/consul-front.ts), which the worker and watcher
 * processes a test starts inherit; a test's own clients read and set up OpenBao and Consul
 * themselves (RDSFLOW_VAULT_URL, RDSFLOW_CONSUL_ADDR), so that what a test finds there is what
 * the servers hold, and what it plants there is not mistaken for a call of rdsflow's.
 */
export const config = loadConfig(
  {
    ...process.env,
    ...(process.env['RDSFLOW_VAULT_URL'] ? { VAULT_ADDR: process.env['RDSFLOW_VAULT_URL'] } : {}),
    ...(process.env['RDSFLOW_CONSUL_ADDR']
      ? { CONSUL_HTTP_ADDR: process.env['RDSFLOW_CONSUL_ADDR'] }
      : {}),
  },
  ['temporal', 'kube', 'aws', 'vault', 'consul'],
);

let cluster: Promise<string> | undefined;

/** The stack's cluster identity, as the worker and the watcher read it (kube/cluster.ts). */
export function stackCluster(): Promise<string> {
  cluster ??= clusterIdentity(
    boundedApiClient(kubeClientConfig(config.kube), CoreV1Api, config.kube),
    config.kube.clusterId,
  );
  return cluster;
}

/** The workflow ID of an object of the stack's cluster. */
export async function workflowIdOf(ref: DatabaseRef): Promise<string> {
  return workflowIdFor(ref, await stackCluster());
}

/** The task queue a worker and watcher started with `base` use on the stack's cluster. */
export async function clusterQueue(base: string): Promise<string> {
  return taskQueueFor(base, await stackCluster());
}

/**
 * The database workflows an audit looks at: those of this `npm test` run (RDSFLOW_TEST_SINCE,
 * set by test/run.ts: runs still open or closed since it began), else every one the server has.
 * The dev server keeps every run of every earlier test run; scanning them all grows without end.
 */
export function auditedWorkflows(workflowType: string): string {
  const since = process.env['RDSFLOW_TEST_SINCE'];
  const all = `WorkflowType = '${workflowType}'`;
  return since ? `${all} AND (ExecutionStatus = 'Running' OR CloseTime >= '${since}')` : all;
}

/**
 * The journal entries an audit judges: those of this `npm test` run (RDSFLOW_TEST_SINCE), else
 * all. The fronts keep the calls of earlier runs beside a long-running stack, made by earlier
 * code (with other names, say) that this run's code cannot judge.
 */
export function ofThisRun<E extends { readonly at: number }>(entries: readonly E[]): E[] {
  const since = process.env['RDSFLOW_TEST_SINCE'];
  const from = since ? Date.parse(since) : Number.NEGATIVE_INFINITY;
  return entries.filter((e) => e.at >= from);
}

/** A name no other test run has used: lowercase, DNS-label safe. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Polls `check` until it returns a value other than undefined, or fails with `what`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(100);
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: run the tests with \`npm test\` after \`npm run infra -- up\``,
    );
  return value;
}

/** Tools from the local stack that are not servers. */
export const tools = {
  get temporalTestServer(): string {
    return required('RDSFLOW_TEMPORAL_TEST_SERVER');
  },
  get temporalCli(): string {
    return required('RDSFLOW_TEMPORAL_CLI');
  },
  get kubectl(): string {
    return required('RDSFLOW_KUBECTL');
  },
  /** compose-go's loader (infra/compose-check): docker-compose.yml as Docker Compose reads it */
  get composeCheck(): string {
    return required('RDSFLOW_COMPOSE_CHECK');
  },
  /** moto itself, behind the stack's RDS front: what is really there */
  get motoUrl(): string {
    return required('RDSFLOW_MOTO_URL');
  },
  /** the stack's etcd (v3 JSON gateway), behind the apiserver */
  get etcdUrl(): string {
    return required('RDSFLOW_ETCD_URL');
  },
  /** the stack's Vault front (VAULT_ADDR as the worker has it): its journal and password ledger */
  get vaultFrontUrl(): string {
    return required('VAULT_ADDR');
  },
  /** the stack's Consul front (CONSUL_HTTP_ADDR as the worker has it): its journal */
  get consulFrontUrl(): string {
    const address = required('CONSUL_HTTP_ADDR');
    return address.includes('://') ? address : `http://${address}`;
  },
  /** the apiserver's audit log: every write to a Database object */
  get kubeAuditLog(): string {
    return required('RDSFLOW_KUBE_AUDIT_LOG');
  },
};
