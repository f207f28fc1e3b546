// Stubbed activities for workflow tests: a few lines of in-memory state standing in for RDS,
// Vault, Consul and the object's status, recording every call. Validation is the real one.
import type { ClassView } from '../../contracts/class.js';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities/index.js';
import type { DeletionPolicy, StatusUpdate } from '../../contracts/database.js';
import { NOT_YET } from '../../activities/rds.js';
import { resolveDatabase } from '../../contracts/spec.js';
import { mostProtective } from '../../contracts/resolved.js';
import {
  FAILURE,
  type ObjectView,
  type DeleteInstanceRequest,
  type Endpoint,
} from '../../contracts/workflow.js';

export interface FakeWorld {
  readonly activities: Activities;
  readonly calls: string[];
  readonly statuses: StatusUpdate[];
  /** what waitUntilAvailable does on each call: `available`, `not-yet` or an RDS status */
  rds: string;
  /** delay the server waits before retrying a not-yet instance */
  pollDelay: string;
  /** how many more times waitUntilDeleted answers "still there" (a deletion that takes time) */
  deleteWaits: number;
  /** while it holds for an update, that status write is refused (as after all its retries) */
  refuseStatus: ((update: StatusUpdate) => boolean) | undefined;
  /** status writes refused so far */
  refusedStatuses: number;
  /** how many more times writeDbSecret fails with a transient error */
  vaultOutages: number;
  /** the object vanished before the workflow could put its finalizer on it */
  objectGone: boolean;
  /**
   * The object as Kubernetes has it, read back to prove a delete: `present` (not being
   * deleted), `deleting` (a user deleted it: `object` is what is read), or `gone`.
   */
  kube: { state: 'present' | 'deleting' | 'gone'; object?: ObjectView };
  /** the object's policy read right before the destructive call (undefined: the request's) */
  livePolicy: DeletionPolicy | undefined;
  /** an instance of another owner sits under the object's identifier */
  foreignInstance: boolean;
  /** createDbInstance finds our own instance (adopts it) instead of creating one */
  adopt: boolean;
  /** with `adopt`: the instance was retained by this (deleted) UID and is taken over */
  adoptFrom: string | undefined;
  /** modifyDbInstance finds something to change (an adopted instance) */
  drift: boolean;
  deletedWith: DeleteInstanceRequest[];
  /** the DatabaseClass validation finds (none: the worker's own account and region) */
  databaseClass: ClassView | undefined;
  /** each releaseDbInstance call's `retainedFrom` (undefined: the object's own UID) */
  releasedFrom: (string | undefined)[];
  /** each retainDbSecret call's `owner` (undefined: the object's own UID) */
  secretOwners: (string | undefined)[];
  /** while set, createDbInstance waits for it (a create call in flight) */
  createGate: Promise<void> | undefined;
  events: { reason: string; message: string }[];
  /** each createDbInstance call's resolved spec */
  createdWith: unknown[];
  modifiedWith: unknown[];
  waitCalls: number;
  /** ensureParameterGroup creates the group (else finds it) and what it sets at a reboot */
  parameterGroup: { created: boolean; pendingReboot: string[] };
  /** each ensureParameterGroup call's `previous` */
  parametersBefore: (readonly string[] | undefined)[];
  /** each deleteParameterGroups call's `only` (undefined: every group of the identifier) */
  groupDeletes: (readonly string[] | undefined)[];
  /** the instance's ParameterApplyStatus */
  applyStatus: string;
}

export const ENDPOINT: Endpoint = { host: 'orders.abc.us-east-1.rds.amazonaws.com', port: 5432 };

function instanceNotOurs(): ApplicationFailure {
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
    refuseStatus: undefined,
    refusedStatuses: 0,
    deleteWaits: 0,
    objectGone: false,
    kube: { state: 'present' },
    livePolicy: undefined,
    foreignInstance: false,
    adopt: false,
    adoptFrom: undefined,
    drift: false,
    deletedWith: [],
    databaseClass: undefined,
    releasedFrom: [],
    secretOwners: [],
    createGate: undefined,
    events: [],
    createdWith: [],
    modifiedWith: [],
    waitCalls: 0,
    parameterGroup: { created: true, pendingReboot: [] },
    parametersBefore: [],
    groupDeletes: [],
    applyStatus: 'in-sync',
    activities: undefined as unknown as Activities,
  };
  const call = <T>(name: string, result: T): Promise<T> => {
    world.calls.push(name);
    return Promise.resolve(result);
  };
  const activities: Activities = {
    // the class in effect stays (null: none), as the worker's validation keeps it
    validateSpec: (object, inEffect) =>
      call(
        'validateSpec',
        resolveDatabase(
          object,
          world.databaseClass && inEffect !== null ? { class: world.databaseClass } : {},
        ),
      ),
    reportStatus: (_ref, update) => {
      if (world.refuseStatus?.(update)) {
        world.refusedStatuses++;
        const message = 'Kubernetes reportStatus: no answer within 10s';
        return Promise.reject(ApplicationFailure.nonRetryable(message, 'Unavailable'));
      }
      world.statuses.push(update);
      return Promise.resolve({ written: true });
    },
    ensureFinalizer: () => call('ensureFinalizer', { present: !world.objectGone }),
    readObject: (ref) => {
      world.calls.push('readObject');
      const { state, object } = world.kube;
      if (state === 'gone') return Promise.resolve({ state });
      // no object set: one that is no newer than what any workflow has (generation 0)
      return Promise.resolve({
        state,
        object: object ?? { metadata: { ...ref, generation: 0 }, spec: { engine: 'postgres' } },
      });
    },
    recordOrphaned: () => call('recordOrphaned', { recorded: true }),
    releaseDbInstance: (_names, from) => {
      world.releasedFrom.push(from);
      return call('releaseDbInstance', { state: 'released' as const });
    },
    releaseFinalizer: () => call('releaseFinalizer', { released: true }),
    ensureMasterPassword: (db) =>
      call('ensureMasterPassword', {
        created: true,
        vaultPath: `secret/${db.vaultPath}`,
        ...(world.adoptFrom ? { takenOverFrom: world.adoptFrom } : {}),
      }),
    createDbInstance: async (db) => {
      world.calls.push('createDbInstance');
      world.createdWith.push(db);
      if (world.foreignInstance) throw instanceNotOurs();
      if (world.createGate) {
        await world.createGate;
        world.calls.push('createDbInstance:done');
      }
      return {
        adopted: world.adopt,
        status: 'creating',
        ...(world.adoptFrom ? { retainedFrom: world.adoptFrom } : {}),
        ...(db.source && !world.adopt ? { restoredFrom: db.source.snapshot } : {}),
      };
    },
    ensureParameterGroup: (db, previous) => {
      world.parametersBefore.push(previous);
      return call('ensureParameterGroup', {
        name: `${db.dbInstanceIdentifier}-postgres16`,
        family: 'postgres16',
        ...world.parameterGroup,
      });
    },
    deleteParameterGroups: (_names, only) => {
      world.groupDeletes.push(only);
      return call('deleteParameterGroups', { deleted: only ? [...only] : [] });
    },
    readParameterStatus: (names) =>
      call('readParameterStatus', {
        group: `${names.dbInstanceIdentifier}-postgres16`,
        applyStatus: world.applyStatus,
      }),
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
      world.deletedWith.push(request);
      if (world.foreignInstance) {
        world.calls.push('deleteDbInstance');
        return Promise.reject(instanceNotOurs());
      }
      if (world.kube.state === 'gone')
        return call('deleteDbInstance', { state: 'orphaned' as const });
      const { finalSnapshot, createdByRun } = request;
      const policy = world.livePolicy
        ? mostProtective(request.policy, world.livePolicy)
        : request.policy;
      return call(
        'deleteDbInstance',
        createdByRun !== undefined && (world.adopt || policy === 'Retain')
          ? { state: 'kept' as const, policy }
          : policy === 'Retain'
            ? { state: 'retained' as const, policy }
            : {
                state: 'deleting' as const,
                policy,
                ...(policy === 'Snapshot' ? { snapshot: finalSnapshot } : {}),
              },
      );
    },
    waitUntilDeleted: (target) => {
      if (world.deleteWaits > 0) {
        world.deleteWaits--;
        world.calls.push('waitUntilDeleted:not-yet');
        return Promise.reject(
          ApplicationFailure.create({
            type: NOT_YET,
            message: 'deleting',
            nextRetryDelay: '1 second',
          }),
        );
      }
      return call('waitUntilDeleted', {
        polls: 1,
        ...(target.snapshot ? { snapshot: target.snapshot } : {}),
      });
    },
    deleteDbSecret: () => call('deleteDbSecret', { removed: true }),
    retainDbSecret: (_names, owner) => {
      world.secretOwners.push(owner);
      return call('retainDbSecret', { retained: true });
    },
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
  'ensureParameterGroup',
  'readParameterStatus',
  'createDbInstance',
  'waitUntilAvailable',
  'modifyDbInstance',
  'deleteDbInstance',
  'waitUntilDeleted',
];
