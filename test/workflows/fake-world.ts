// Stubbed activities for workflow tests: a few lines of in-memory state standing in for RDS,
// Vault, Consul and the object's status, recording every call. Validation is the real one.
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities/index.js';
import type { StatusUpdate } from '../../contracts/database.js';
import { NOT_YET } from '../../activities/rds.js';
import { resolveDatabase } from '../../contracts/spec.js';
import { FAILURE, type DeleteInstanceRequest, type Endpoint } from '../../contracts/workflow.js';

export interface FakeWorld {
  readonly activities: Activities;
  readonly calls: string[];
  readonly statuses: StatusUpdate[];
  /** what waitUntilAvailable does on each call: `available`, `not-yet` or an RDS status */
  rds: string;
  /** delay the server waits before retrying a not-yet instance */
  pollDelay: string;
  /** how many more times writeDbSecret fails with a transient error */
  vaultOutages: number;
  /** the object vanished before the workflow could put its finalizer on it */
  objectGone: boolean;
  /** an instance of another owner sits under the object's identifier */
  foreignInstance: boolean;
  /** createDbInstance finds our own instance (adopts it) instead of creating one */
  adopt: boolean;
  /** modifyDbInstance finds something to change (an adopted instance) */
  drift: boolean;
  deletedWith: DeleteInstanceRequest[];
  /** while set, createDbInstance waits for it (a create call in flight) */
  createGate: Promise<void> | undefined;
  events: { reason: string; message: string }[];
  modifiedWith: unknown[];
  waitCalls: number;
}

export const ENDPOINT: Endpoint = { host: 'orders.abc.us-east-1.rds.amazonaws.com', port: 5432 };

function notOurs(): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE.instanceNotOurs,
    message: 'RDS instance shop-orders belongs to nobody known to rdsflow (no rdsflow.io/uid tag)',
    nonRetryable: true,
  });
}

export function fakeWorld(): FakeWorld {
  const world: FakeWorld = {
    calls: [],
    statuses: [],
    rds: 'available',
    pollDelay: '30 seconds',
    vaultOutages: 0,
    objectGone: false,
    foreignInstance: false,
    adopt: false,
    drift: false,
    deletedWith: [],
    createGate: undefined,
    events: [],
    modifiedWith: [],
    waitCalls: 0,
    activities: undefined as unknown as Activities,
  };
  const call = <T>(name: string, result: T): Promise<T> => {
    world.calls.push(name);
    return Promise.resolve(result);
  };
  const activities: Activities = {
    validateSpec: (object) => call('validateSpec', resolveDatabase(object)),
    reportStatus: (_ref, update) => {
      world.statuses.push(update);
      return Promise.resolve({ written: true });
    },
    ensureFinalizer: () => call('ensureFinalizer', { present: !world.objectGone }),
    releaseFinalizer: () => call('releaseFinalizer', { released: true }),
    ensureMasterPassword: (db) =>
      call('ensureMasterPassword', { created: true, vaultPath: `secret/${db.vaultPath}` }),
    createDbInstance: async () => {
      world.calls.push('createDbInstance');
      if (world.foreignInstance) throw notOurs();
      if (world.createGate) {
        await world.createGate;
        world.calls.push('createDbInstance:done');
      }
      return { adopted: world.adopt, status: 'creating' };
    },
    waitUntilAvailable: () => {
      world.calls.push('waitUntilAvailable');
      world.waitCalls++;
      if (world.rds === 'available') return Promise.resolve({ endpoint: ENDPOINT, polls: 1 });
      if (world.rds === 'not-yet') {
        return Promise.reject(
          ApplicationFailure.create({
            type: NOT_YET,
            message: 'creating',
            nextRetryDelay: world.pollDelay,
          }),
        );
      }
      return Promise.reject(
        ApplicationFailure.create({
          type: FAILURE.instanceFailed,
          message: `RDS instance is ${world.rds}`,
          nonRetryable: true,
        }),
      );
    },
    writeDbSecret: (db) => {
      world.calls.push('writeDbSecret');
      if (world.vaultOutages > 0) {
        world.vaultOutages--;
        return Promise.reject(
          ApplicationFailure.create({
            type: FAILURE.transient,
            message: 'Vault unavailable: ECONNREFUSED',
            nextRetryDelay: '1 second',
          }),
        );
      }
      return Promise.resolve({ vaultPath: `secret/${db.vaultPath}` });
    },
    publishToConsul: (db) =>
      call('publishToConsul', { consulKey: db.consulKey, service: db.dbInstanceIdentifier }),
    modifyDbInstance: (db) => {
      world.modifiedWith.push(db);
      const changed = world.drift;
      world.drift = false;
      return call('modifyDbInstance', { status: 'modifying', changed });
    },
    deleteDbInstance: (request) => {
      if ('names' in request) world.deletedWith.push(request);
      if (world.foreignInstance) {
        world.calls.push('deleteDbInstance');
        return Promise.reject(notOurs());
      }
      const { policy, finalSnapshot, createdByRun } =
        'names' in request
          ? request
          : { policy: 'Snapshot', finalSnapshot: 'final', createdByRun: undefined };
      return call(
        'deleteDbInstance',
        createdByRun !== undefined && (world.adopt || policy === 'Retain')
          ? { state: 'kept' as const }
          : policy === 'Retain'
            ? { state: 'retained' as const }
            : {
                state: 'deleting' as const,
                ...(policy === 'Snapshot' ? { snapshot: finalSnapshot } : {}),
              },
      );
    },
    waitUntilDeleted: (target) =>
      call('waitUntilDeleted', {
        polls: 1,
        ...(typeof target === 'object' && target.snapshot ? { snapshot: target.snapshot } : {}),
      }),
    deleteDbSecret: () => call('deleteDbSecret', { removed: true }),
    retainDbSecret: () => call('retainDbSecret', { retained: true }),
    removeFromConsul: () => call('removeFromConsul', { removed: true }),
    recordEvent: (_ref, event) => {
      world.events.push({ reason: event.reason, message: event.message });
      return call('recordEvent', { recorded: true });
    },
  };
  return Object.assign(world, { activities });
}

/** AWS-touching calls: a bad spec must produce none of these. */
export const AWS_CALLS = [
  'createDbInstance',
  'waitUntilAvailable',
  'modifyDbInstance',
  'deleteDbInstance',
  'waitUntilDeleted',
];
