// The RDS DB instance identifier of a Database. Apart from contracts/names.ts because it hashes
// with node:crypto, which the workflow sandbox does not allow (the workflow never derives it:
// it arrives in the validated spec).
import { createHash } from 'node:crypto';

const RDS_IDENTIFIER_MAX = 63;
/** 13 base-36 digits: 67 bits of SHA-256, out of reach of a name crafted to collide */
export const IDENTIFIER_HASH_LENGTH = 13;

/** The first IDENTIFIER_HASH_LENGTH base-36 digits of the SHA-256 of the text. */
function digest(text: string): string {
  const bits = BigInt(`0x${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 18)}`);
  return bits.toString(36).padStart(IDENTIFIER_HASH_LENGTH, '0').slice(-IDENTIFIER_HASH_LENGTH);
}

/**
 * The RDS DB instance identifier of an object: letters, digits and single hyphens, starting
 * with a letter, at most 63 characters, for any input whatsoever. The readable part may be the
 * same for two objects (`team/x-a` and `team-x/a`); the hash covers the unambiguous pair
 * (namespace, name) with a cryptographic hash, so no name can be chosen to meet another's.
 */
export function rdsIdentifier(namespace: string, name: string): string {
  const slug = `${namespace}-${name}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const readable = /^[a-z]/.test(slug) ? slug : `db-${slug}`.replace(/-+$/, '');
  const room = RDS_IDENTIFIER_MAX - IDENTIFIER_HASH_LENGTH - 1;
  const base = readable.slice(0, room).replace(/-+$/, '');
  return `${base}-${digest(JSON.stringify([namespace, name]))}`;
}
