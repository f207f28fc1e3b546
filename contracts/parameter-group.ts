// DB parameter groups: the family an engine version belongs to and the name of the group a
// Database owns. Pure, no zod: the workflow bundle may import it.
import type { Engine } from './database.js';

/** RDS takes at most this many parameters in one ModifyDBParameterGroup or Reset call. */
export const PARAMETERS_PER_CALL = 20;

/** RDS's limit on a DB parameter group's name. */
const GROUP_NAME_MAX = 255;

/**
 * The parameter group family of an engine version, as RDS names it: `postgres16` (one number
 * from PostgreSQL 10 on), `postgres9.6`, `mysql8.0`, `mariadb10.11`. Undefined when the version
 * does not say (a bare `8` for mysql).
 */
export function parameterGroupFamily(engine: Engine, version: string): string | undefined {
  const [major, minor] = version.split('.');
  if (!major || !/^[0-9]+$/.test(major)) return undefined;
  if (engine === 'postgres' && Number(major) >= 10) return `postgres${Number(major)}`;
  if (!minor || !/^[0-9]+$/.test(minor)) return undefined;
  return `${engine}${Number(major)}.${Number(minor)}`;
}

/**
 * The name of the group a Database's spec.parameters become: its instance identifier (a valid
 * RDS name: a letter first, letters, digits and single hyphens, no hyphen at the end) and the
 * family with hyphens for dots, so a new major version gets a group of its own.
 */
export function ownedParameterGroupName(dbInstanceIdentifier: string, family: string): string {
  const suffix = family.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return `${dbInstanceIdentifier}-${suffix}`.slice(0, GROUP_NAME_MAX).replace(/-+$/, '');
}
