// A realistic RDS in front of moto. moto is instant and permissive; real RDS is neither. This
// loopback front forwards the RDS Query API to moto and adds what real RDS does:
// - instances go `creating` (no endpoint) → `backing-up` → `available`, a change goes
//   `modifying` (a password reset `resetting-master-credentials`), a delete `deleting`, each for
//   a configurable time; a deleting instance keeps its identifier until it is gone;
// - refusals where RDS gives them: InvalidDBInstanceState for a change while not available, a
//   delete of an instance already being deleted, a final snapshot while creating (or in any
//   state RDS cannot snapshot from); DBInstanceAlreadyExists for an identifier still deleting;
//   KMS keys, security groups, subnet groups, parameter groups and parameters, and master
//   passwords as RDS judges them, asking moto's KMS and EC2 in the caller's region;
// - answers moto lacks: engine versions, parameters of a family and of a group, a group's reset,
//   and each instance's parameter apply status (applying, pending-reboot until a reboot);
// - injected faults (throttling, 5xx, any AWS error) and forced statuses;
// - a journal of every mutating call, with the instance's status and tags just before it and
//   the workflow that asked (the `x-rdsflow-workflow-id` header the worker adds), so a test can
//   audit every destructive call rdsflow made.
// It runs in-process for a test, or as a server of the local stack (infra/rds-front-main.ts)
// controlled over /_front/ (see frontClient). One concern per module under rds-front/: the
// Query API (query.ts), each action's behaviour (actions.ts), the order of a call (calls.ts),
// the lifecycle of an instance (lifecycle.ts), what is shown of it (instances.ts), refusals
// (refusals.ts, and checks.ts for those that ask moto), engines (engines.ts), parameters
// (parameters.ts), parameter groups (parameter-groups.ts), faults (faults.ts), the journal
// (journal.ts) and moto (moto.ts).
import { frontCall, serveFront, type FrontHandlers, type RunningFront } from './store-front.js';
import { type Front, handleCall } from './rds-front/calls.js';
import { Faults, type Fault } from './rds-front/faults.js';
import { Instances } from './rds-front/instances.js';
import { Journal, type JournalEntry } from './rds-front/journal.js';
import { type Timings } from './rds-front/lifecycle.js';
import { Moto } from './rds-front/moto.js';
import { ParameterGroups } from './rds-front/parameter-groups.js';

export { INSTANT, type Timings } from './rds-front/lifecycle.js';
export { type Fault } from './rds-front/faults.js';
export { type JournalEntry } from './rds-front/journal.js';

export interface FrontControl {
  setTimings(timings: Partial<Timings>, match?: string): Promise<void>;
  fault(fault: Fault): Promise<void>;
  /** report this status for the identifier whatever happens; undefined lifts it */
  forceStatus(identifier: string, status: string | undefined): Promise<void>;
  journal(): Promise<JournalEntry[]>;
  /** DescribeDBInstances calls answered so far */
  describeCalls(): Promise<number>;
  /** when the front first showed the instance `available` (ms since epoch) */
  availableAt(identifier: string): Promise<number | undefined>;
}

export interface RdsFront extends FrontControl, RunningFront {}

const TIMING_KEYS = ['creatingMs', 'backingUpMs', 'modifyingMs', 'deletingMs'] as const;

/** The timings named in a control call's input (the rest of it, `match`, says for whom). */
function timingsIn(input: Record<string, unknown>): Partial<Timings> {
  return Object.fromEntries(TIMING_KEYS.filter((k) => k in input).map((k) => [k, input[k]]));
}

const optional = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : undefined;

/** The front's controls, in this process. */
function controlsOf(front: Front): FrontControl {
  const { instances, faults, journal } = front;
  return {
    setTimings: (timings, match) =>
      Promise.resolve(instances.lifecycles.setTimings(timings, match)),
    fault: (fault) => Promise.resolve(faults.add(fault)),
    forceStatus: (identifier, status) => Promise.resolve(instances.force(identifier, status)),
    journal: () => Promise.resolve(journal.all()),
    describeCalls: () => Promise.resolve(front.describeCalls),
    availableAt: (identifier) => Promise.resolve(instances.availableAt(identifier)),
  };
}

/** The same controls over HTTP, as /_front/ endpoints (see frontClient). */
function endpointsOf(controls: FrontControl): FrontHandlers['control'] {
  return {
    timings: (input) => controls.setTimings(timingsIn(input), optional(input['match'])),
    fault: (input) => controls.fault(input),
    status: (input) => controls.forceStatus(String(input['identifier']), optional(input['status'])),
    journal: () => controls.journal(),
    'describe-calls': () => controls.describeCalls(),
    'available-at': (input) => controls.availableAt(String(input['identifier'])),
  };
}

export async function startRdsFront(options: {
  readonly target: string;
  readonly host?: string;
  readonly port?: number;
  readonly timings?: Partial<Timings>;
  /** also append every journal entry to this file, one JSON line each */
  readonly journalFile?: string;
}): Promise<RdsFront> {
  const moto = new Moto(new URL(options.target));
  const front: Front = {
    moto,
    instances: new Instances(moto, options.timings),
    groups: new ParameterGroups(moto),
    faults: new Faults(),
    journal: new Journal(options.journalFile),
    describeCalls: 0,
  };
  const controls = controlsOf(front);
  const running = await serveFront(options, {
    call: (req, body) => handleCall(front, req, body),
    control: endpointsOf(controls),
  });
  return { ...running, ...controls };
}

/** Controls a front that runs elsewhere (the local stack's) over its /_front/ endpoints. */
export function frontClient(url: string): FrontControl {
  return {
    setTimings: (timings, match) =>
      frontCall(url, 'timings', { ...timings, ...(match ? { match } : {}) }),
    fault: (fault) => frontCall(url, 'fault', fault),
    forceStatus: (identifier, status) => frontCall(url, 'status', { identifier, status }),
    journal: () => frontCall(url, 'journal'),
    describeCalls: () => frontCall(url, 'describe-calls'),
    availableAt: async (identifier) =>
      (await frontCall<number | null>(url, 'available-at', { identifier })) ?? undefined,
  };
}
