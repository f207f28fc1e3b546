// DB parameter groups as RDS keeps them, where moto knows a group's name, family and the values
// set in it but no parameter of its own: what DescribeDBParameters, DescribeEngineDefaultParameters
// and ResetDBParameterGroup answer (from the catalogue, parameters.ts, merged with moto's values),
// and each instance's ParameterApplyStatus: `applying` for a while after a dynamic change,
// `pending-reboot` after a static one (or a group newly attached) until the instance reboots.
import { type Answer } from '../forward.js';
import { type Moto } from './moto.js';
import { parametersOf, type ParameterSpec } from './parameters.js';
import { errorAnswer, field, queryAnswer, xmlText, type Scope } from './query.js';
import { type Refusal } from './refusals.js';

/** A value set in a group (moto's record), with how it was asked to apply. */
export interface SetValue {
  readonly name: string;
  readonly value: string;
  readonly applyMethod: string;
}

const PARAMETER = /<Parameter>[\s\S]*?<\/Parameter>/g;
const GROUP_OF_INSTANCE = /<DBParameterGroupName>([^<]*)<\/DBParameterGroupName>/g;

/** RDS's answer for a parameter group that does not exist. */
export function groupMissing(name: string): Refusal {
  return {
    code: 'DBParameterGroupNotFound',
    status: 404,
    message: `DBParameterGroup not found: ${name}`,
  };
}

export function groupNotFound(name: string): Answer {
  const { code, status, message } = groupMissing(name);
  return errorAnswer(status ?? 404, code, message);
}

/** The names of the parameter groups an instance's XML block says it is attached to. */
export function groupsOfInstance(block: string): string[] {
  return [...block.matchAll(GROUP_OF_INSTANCE)].map((m) => m[1] ?? '');
}

export class ParameterGroups {
  /** names reset in each group (moto cannot forget a value): `region/group` → names */
  readonly #reset = new Map<string, Set<string>>();

  constructor(private readonly moto: Moto) {}

  /** The family of a group, or undefined when there is no such group in the scope. */
  async familyOf(name: string, scope: Scope): Promise<string | undefined> {
    const answer = await this.moto.call(
      { Action: 'DescribeDBParameterGroups', DBParameterGroupName: name },
      scope,
    );
    return answer.status === 200
      ? field(answer.body.toString(), 'DBParameterGroupFamily')
      : undefined;
  }

  /** The values set in a group (not reset since), as moto keeps them. */
  async setValues(name: string, scope: Scope): Promise<SetValue[]> {
    const answer = await this.moto.call(
      { Action: 'DescribeDBParameters', DBParameterGroupName: name },
      scope,
    );
    const reset = this.#reset.get(`${scope.region}/${name}`) ?? new Set();
    return [...answer.body.toString().matchAll(PARAMETER)]
      .map((m) => ({
        name: field(m[0], 'ParameterName') ?? '',
        value: field(m[0], 'ParameterValue') ?? '',
        applyMethod: field(m[0], 'ApplyMethod') ?? 'pending-reboot',
      }))
      .filter((p) => p.name && !reset.has(p.name));
  }

  /** Forgets the values of `names` in a group (or of every one): ResetDBParameterGroup. */
  reset(name: string, names: readonly string[], scope: Scope): void {
    const key = `${scope.region}/${name}`;
    this.#reset.set(key, new Set([...(this.#reset.get(key) ?? []), ...names]));
  }

  /** Values set again after a reset count again. */
  set(name: string, names: readonly string[], scope: Scope): void {
    const reset = this.#reset.get(`${scope.region}/${name}`);
    for (const n of names) reset?.delete(n);
  }

  /** DescribeDBParameters: every parameter of the group's family, with its values and sources. */
  async describe(name: string, source: string | null, scope: Scope): Promise<Answer> {
    const family = await this.familyOf(name, scope);
    if (!family) return groupNotFound(name);
    const rows = merged(parametersOf(family) ?? [], await this.setValues(name, scope));
    const shown = rows.filter((r) => !source || r.source === source);
    return queryAnswer(
      'DescribeDBParameters',
      `<Parameters>${shown.map(parameterXml).join('')}</Parameters>`,
    );
  }
}

/** DescribeEngineDefaultParameters: a family's parameters as a new group has them. */
export function engineDefaults(family: string): Answer {
  const specs = parametersOf(family);
  if (!specs) {
    return errorAnswer(
      400,
      'InvalidParameterValue',
      `Invalid DB parameter group family: ${family}`,
    );
  }
  const rows = merged(specs, []);
  return queryAnswer(
    'DescribeEngineDefaultParameters',
    `<EngineDefaults><DBParameterGroupFamily>${xmlText(family)}</DBParameterGroupFamily><Parameters>${rows.map(parameterXml).join('')}</Parameters></EngineDefaults>`,
  );
}

interface Row {
  readonly spec?: ParameterSpec;
  readonly name: string;
  readonly value?: string;
  readonly source: 'user' | 'engine-default' | 'system';
  readonly applyMethod: string;
}

/** The catalogue's parameters with the values set over them, and any set value it lacks. */
function merged(specs: readonly ParameterSpec[], set: readonly SetValue[]): Row[] {
  const byName = new Map(set.map((s) => [s.name, s]));
  const rows: Row[] = specs.map((spec) => {
    const user = byName.get(spec.name);
    if (user)
      return {
        spec,
        name: spec.name,
        value: user.value,
        source: 'user',
        applyMethod: user.applyMethod,
      };
    const source = spec.modifiable === false ? 'system' : 'engine-default';
    return {
      spec,
      name: spec.name,
      ...(spec.value ? { value: spec.value } : {}),
      source,
      applyMethod: 'pending-reboot',
    };
  });
  const known = new Set(specs.map((s) => s.name));
  const extra = set.filter((s) => !known.has(s.name));
  return [
    ...rows,
    ...extra.map((s): Row => ({
      name: s.name,
      value: s.value,
      source: 'user',
      applyMethod: s.applyMethod,
    })),
  ];
}

function parameterXml(row: Row): string {
  const { spec } = row;
  const tag = (name: string, value: string | undefined) =>
    value === undefined ? '' : `<${name}>${xmlText(value)}</${name}>`;
  return (
    '<Parameter>' +
    tag('ParameterName', row.name) +
    tag('ParameterValue', row.value) +
    tag('Description', spec?.description) +
    tag('Source', row.source) +
    tag('ApplyType', spec?.applyType) +
    tag('DataType', spec?.dataType) +
    tag('AllowedValues', spec?.allowed) +
    tag('IsModifiable', spec ? String(spec.modifiable !== false) : undefined) +
    tag('ApplyMethod', row.applyMethod) +
    '</Parameter>'
  );
}

/** Each instance's ParameterApplyStatus where it is not `in-sync`. */
export class ApplyStatuses {
  readonly #status = new Map<string, { status: string; until: number }>();

  /** The status now, or undefined for `in-sync`. */
  of(id: string): string | undefined {
    const entry = this.#status.get(id);
    if (entry && Date.now() < entry.until) return entry.status;
    this.#status.delete(id);
    return undefined;
  }

  /** A dynamic change being applied for `ms` (a reboot still pending stays pending). */
  applying(id: string, ms: number): void {
    if (this.of(id) === 'pending-reboot') return;
    this.#status.set(id, { status: 'applying', until: Date.now() + ms });
  }

  /** A change that waits for the instance's reboot. */
  pendingReboot(id: string): void {
    this.#status.set(id, { status: 'pending-reboot', until: Number.POSITIVE_INFINITY });
  }

  /** A reboot that takes `ms` applies what was pending once it is done. */
  rebooting(id: string, ms: number): void {
    if (this.of(id) === 'pending-reboot') {
      this.#status.set(id, { status: 'pending-reboot', until: Date.now() + ms });
    }
  }

  /** A new instance is in sync with its group. */
  clear(id: string): void {
    this.#status.delete(id);
  }
}

/** An instance's XML block with its parameter group's apply status set. */
export function withApplyStatus(block: string, status: string): string {
  return block.replace(
    /<ParameterApplyStatus>[^<]*<\/ParameterApplyStatus>/,
    `<ParameterApplyStatus>${status}</ParameterApplyStatus>`,
  );
}
