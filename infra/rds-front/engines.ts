// The engines and versions the front knows, as DescribeDBEngineVersions shows them (moto does not
// answer it), and the parameter group family of each: a group of another family cannot be
// attached to an instance. A realistic subset: a few real minor versions of each major.
import { type Answer } from '../forward.js';
import { queryAnswer, xmlText } from './query.js';

interface Engine {
  readonly description: string;
  /** each major's family and its minor versions, oldest first; the last major's last is the default */
  readonly majors: readonly { readonly family: string; readonly versions: readonly string[] }[];
  /** the longest password RDS takes for the engine's master user */
  readonly maxPassword: number;
}

export const ENGINES: Readonly<Record<string, Engine>> = {
  postgres: {
    description: 'PostgreSQL',
    maxPassword: 128,
    majors: [
      { family: 'postgres15', versions: ['15.7', '15.8', '15.10'] },
      { family: 'postgres16', versions: ['16.3', '16.4', '16.6'] },
      { family: 'postgres17', versions: ['17.1', '17.2'] },
    ],
  },
  mysql: {
    description: 'MySQL Community Edition',
    maxPassword: 41,
    majors: [
      { family: 'mysql8.0', versions: ['8.0.36', '8.0.39', '8.0.40'] },
      { family: 'mysql8.4', versions: ['8.4.3', '8.4.4'] },
    ],
  },
  mariadb: {
    description: 'MariaDB Community Edition',
    maxPassword: 41,
    majors: [
      { family: 'mariadb10.11', versions: ['10.11.8', '10.11.9', '10.11.10'] },
      { family: 'mariadb11.4', versions: ['11.4.3', '11.4.4'] },
    ],
  },
};

export interface EngineVersion {
  readonly engine: string;
  readonly version: string;
  readonly family: string;
  /** the version RDS picks when a create names the engine only (of its major, when asked by one) */
  readonly isDefault: boolean;
}

/** Every known version, each engine's oldest first, as RDS lists them. */
export function engineVersions(): EngineVersion[] {
  return Object.entries(ENGINES).flatMap(([engine, e]) => {
    const newest = e.majors.at(-1)?.versions.at(-1);
    return e.majors.flatMap((m) =>
      m.versions.map((version) => ({
        engine,
        version,
        family: m.family,
        isDefault: version === newest,
      })),
    );
  });
}

/** The version RDS creates when the call names none: the engine's newest. */
export function defaultVersion(engine: string): string | undefined {
  return ENGINES[engine]?.majors.at(-1)?.versions.at(-1);
}

/**
 * The parameter group family of an engine version: postgres by major (`16.4` → `postgres16`),
 * MySQL and MariaDB by major.minor (`8.0.39` → `mysql8.0`, `10.11.9` → `mariadb10.11`).
 */
export function familyOf(engine: string, version: string): string {
  const parts = version.split('.');
  const major = engine === 'postgres' ? parts[0] : parts.slice(0, 2).join('.');
  return `${engine}${major ?? ''}`;
}

/** A version filter as RDS reads it: the exact version, or a major (`16`, `8.0`) naming all its. */
function versionMatches(asked: string | null, version: string): boolean {
  return !asked || version === asked || version.startsWith(`${asked}.`);
}

/** DescribeDBEngineVersions, honouring Engine, EngineVersion, DBParameterGroupFamily, DefaultOnly. */
export function describeEngineVersions(params: URLSearchParams): Answer {
  const engine = params.get('Engine');
  const asked = params.get('EngineVersion');
  const family = params.get('DBParameterGroupFamily');
  let found = engineVersions().filter(
    (v) =>
      (!engine || v.engine === engine) &&
      versionMatches(asked, v.version) &&
      (!family || v.family === family),
  );
  if (params.get('DefaultOnly') === 'true') found = defaultsOf(found, asked !== null);
  const members = found.map((v) => engineVersionXml(v)).join('');
  return queryAnswer('DescribeDBEngineVersions', `<DBEngineVersions>${members}</DBEngineVersions>`);
}

/** One version per engine: its default, or (asked by version) the newest that matched. */
function defaultsOf(found: readonly EngineVersion[], byVersion: boolean): EngineVersion[] {
  const engines = [...new Set(found.map((v) => v.engine))];
  return engines.flatMap((engine) => {
    const mine = found.filter((v) => v.engine === engine);
    const pick = byVersion ? mine.at(-1) : mine.find((v) => v.isDefault);
    return pick ? [pick] : [];
  });
}

function engineVersionXml(v: EngineVersion): string {
  const e = ENGINES[v.engine];
  return (
    `<DBEngineVersion><Engine>${v.engine}</Engine><EngineVersion>${v.version}</EngineVersion>` +
    `<DBParameterGroupFamily>${v.family}</DBParameterGroupFamily>` +
    `<DBEngineDescription>${xmlText(e?.description ?? v.engine)}</DBEngineDescription>` +
    `<DBEngineVersionDescription>${xmlText(`${e?.description ?? v.engine} ${v.version}`)}</DBEngineVersionDescription>` +
    `<Status>available</Status></DBEngineVersion>`
  );
}
