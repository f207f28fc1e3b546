// Which DatabaseClass a Database gets, and what the class makes of its spec: defaults for the
// fields it leaves out, the enforced network and encryption key, the limits. Pure and
// key-agnostic: it works on the spec as written, before the Database schema parses it, so a
// field added to the class's defaults needs nothing here. Every violation is named at once.
import { CREATE_DEFAULTS, DEFAULT_CLASS_ANNOTATION } from './database.js';
import type { DatabaseClassSpec } from './class-schema.js';
import type { AwsTarget } from './resolved.js';

/** A DatabaseClass as the worker read it: plain data, no client. */
export interface ClassView {
  readonly name: string;
  readonly generation: number;
  readonly annotations?: Readonly<Record<string, string>>;
  /** as stored; checked against the class schema before use (contracts/spec.ts) */
  readonly spec: unknown;
}

/** Which class applies: none, one, or why none can be chosen. */
export type ClassChoice =
  { readonly class?: ClassView; readonly problem?: undefined } | { readonly problem: string };

/** The one class annotated default, from a list of every class. */
export function chooseDefaultClass(classes: readonly ClassView[]): ClassChoice {
  const defaults = classes.filter((c) => c.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  if (defaults.length <= 1) return defaults[0] ? { class: defaults[0] } : {};
  const names = defaults.map((c) => c.name).sort();
  return {
    problem:
      `spec.className: not set, and ${defaults.length} DatabaseClasses are marked ` +
      `${DEFAULT_CLASS_ANNOTATION}: ${names.join(', ')}; name one in spec.className or ` +
      'leave one class marked default',
  };
}

/** The class a spec names, if it names one (a string, as the schema will require). */
export function classNameOf(spec: unknown): string | undefined {
  if (typeof spec !== 'object' || spec === null) return undefined;
  const name: unknown = (spec as Record<string, unknown>)['className'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** What a class made of a spec: the spec to parse, and what it violates. */
export interface ClassApplied {
  readonly spec: Record<string, unknown>;
  readonly problems: readonly string[];
}

/** The class's enforced values, by the Database field each fills. */
function enforced(spec: DatabaseClassSpec): Record<string, unknown> {
  return {
    ...(spec.network?.subnetGroup !== undefined ? { subnetGroup: spec.network.subnetGroup } : {}),
    ...(spec.network?.securityGroupIds !== undefined
      ? { securityGroupIds: spec.network.securityGroupIds }
      : {}),
    ...(spec.kmsKeyId !== undefined ? { kmsKeyId: spec.kmsKeyId } : {}),
  };
}

/** The same value: a list is compared as a set (the order of security groups means nothing). */
function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const left = new Set(a.map((v) => JSON.stringify(v)));
    return a.length === b.length && b.every((v) => left.has(JSON.stringify(v)));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

const shown = (value: unknown) => JSON.stringify(value);

/** Each limit the spec (with the class's defaults filled) exceeds, by field. */
function limitProblems(
  spec: Record<string, unknown>,
  cls: DatabaseClassSpec,
  by: string,
): string[] {
  const limits = cls.limits ?? {};
  const problems: string[] = [];
  const engine = spec['engine'];
  if (limits.engines && !limits.engines.some((e) => e === engine)) {
    problems.push(
      `spec.engine: ${shown(engine)} is not allowed by ${by} (allowed: ${limits.engines.join(', ')})`,
    );
  }
  // left out and not defaulted by the class, a create takes CREATE_DEFAULTS: that is held too
  const instanceClass = spec['instanceClass'] ?? CREATE_DEFAULTS.instanceClass;
  if (limits.instanceClasses && !limits.instanceClasses.some((c) => c === instanceClass)) {
    problems.push(
      `spec.instanceClass: ${shown(instanceClass)} is not allowed by ${by} ` +
        `(allowed: ${limits.instanceClasses.join(', ')})`,
    );
  }
  const max = limits.maxStorageGiB;
  const storage = spec['storageGiB'] ?? CREATE_DEFAULTS.storageGiB;
  for (const [field, value] of [
    ['storageGiB', storage],
    ['maxAllocatedStorage', spec['maxAllocatedStorage']],
  ] as const) {
    if (max !== undefined && typeof value === 'number' && value > max) {
      problems.push(`spec.${field}: ${value} GiB exceeds ${by}'s maxStorageGiB ${max}`);
    }
  }
  return problems;
}

/** Fields that exclude each other: a Database stating one gets no class default for the other. */
const ALTERNATIVES: Readonly<Record<string, readonly string[]>> = {
  parameters: ['parameterGroup'],
  parameterGroup: ['parameters'],
};

/**
 * The spec as the class makes it: its defaults fill what the spec leaves out, its enforced
 * values fill their fields (a Database stating another value violates the class), its limits
 * hold, and its requireApproval forces approval. Every violation is named, with the class.
 */
export function applyClass(
  written: unknown,
  cls: ClassView,
  spec: DatabaseClassSpec,
): ClassApplied {
  const raw: Record<string, unknown> =
    typeof written === 'object' && written !== null ? { ...written } : {};
  const by = `DatabaseClass ${cls.name}`;
  const problems: string[] = [];
  for (const [field, value] of Object.entries(spec.defaults ?? {})) {
    const stated = [field, ...(ALTERNATIVES[field] ?? [])].some((f) => f in raw);
    if (!stated && value !== undefined) raw[field] = value;
  }
  for (const [field, value] of Object.entries(enforced(spec))) {
    if (field in raw && !same(raw[field], value)) {
      problems.push(`spec.${field}: must be ${shown(value)} or left out (${by} enforces it)`);
    }
    raw[field] = value;
  }
  problems.push(...limitProblems(raw, spec, by));
  if (spec.limits?.requireApproval) raw['requireApproval'] = true;
  return { spec: raw, problems };
}

/** Where a Database of the class lives and whose it is: names only, never a secret. */
export function targetOf(cls: ClassView, spec: DatabaseClassSpec): AwsTarget {
  const { secretRef, assumeRole } = spec.credentials ?? {};
  const credentials = {
    ...(secretRef ? { secretName: secretRef.name } : {}),
    ...(assumeRole ? { roleArn: assumeRole.roleArn } : {}),
    ...(assumeRole?.externalId ? { externalId: assumeRole.externalId } : {}),
  };
  return {
    className: cls.name,
    classGeneration: cls.generation,
    region: spec.region,
    ...(spec.account ? { account: spec.account } : {}),
    ...(Object.keys(credentials).length > 0 ? { credentials } : {}),
  };
}
