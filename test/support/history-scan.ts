// Looks for master passwords in workflow histories (test/audit/history-scan.test.ts). A history's
// payloads are bytes (base64 in its JSON form), so searching its JSON text sees none of what
// activities and signals carried. This decodes every Payload-shaped value wherever it sits
// (activity inputs and results, local-activity markers, signals, workflow input and result,
// continue-as-new input, memos, search attributes, headers, failure details), found by its
// shape rather than by a list of event types, including payloads nested in a decoded one.
//
// The passwords themselves are not at hand: the stack's Vault front keeps a SHA-256 of each
// (infra/vault-front.ts). So every window of the decoded text that could be a password is hashed
// and looked up: each stretch of `length` characters inside a maximal run of letters and digits
// (a superset of rdsflow's password alphabet, activities/vault.ts).
import { createHash } from 'node:crypto';

/** What the scan looks for: a password's hex SHA-256 and its length. */
export interface PasswordHash {
  readonly sha256: string;
  readonly length: number;
}

type Bytes = Uint8Array | string;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBytes(value: unknown): value is Bytes {
  if (value instanceof Uint8Array) return true;
  // the JSON form of a history writes bytes as base64
  return typeof value === 'string' && value.length % 4 === 0 && BASE64.test(value);
}

function bytesOf(value: Bytes): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.from(value);
}

/** A Payload: `metadata` maps names to bytes, `data` is bytes (absent for an empty one). */
function isPayload(value: object): value is { metadata: Record<string, Bytes>; data?: Bytes } {
  const { metadata, data } = value as { metadata?: unknown; data?: unknown };
  if (typeof metadata !== 'object' || metadata === null || metadata instanceof Uint8Array)
    return false;
  const entries = Object.values(metadata);
  return entries.length > 0 && entries.every(isBytes) && (data === undefined || isBytes(data));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Appends to `out` every text in `value`: each string (unless `inside` a decoded payload, whose
 * whole text is there already), and each payload's data decoded, payloads nested in a decoded
 * one too; bytes are read only as a payload's data.
 */
export function textsIn(value: unknown, out: string[] = [], inside = false): string[] {
  if (typeof value === 'string' && !inside) out.push(value);
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return out;
  if (isPayload(value)) {
    const text = value.data === undefined ? '' : bytesOf(value.data).toString('utf8');
    out.push(text);
    // a payload may carry payloads of its own (a JSON value holding encoded ones)
    textsIn(parseJson(text), out, true);
    return out;
  }
  for (const child of Object.values(value)) textsIn(child, out, inside);
  return out;
}

/** Everything a history says: its strings and every payload decoded. */
export function historyTexts(history: unknown): string[] {
  return textsIn(history);
}

const RUN = /[A-Za-z0-9]+/g;

/** The hashes among `wanted` of some window of `texts`, and how many windows were hashed. */
export function findPasswords(
  texts: readonly string[],
  wanted: readonly PasswordHash[],
): { found: Set<string>; windows: number } {
  const hashes = new Set(wanted.map((w) => w.sha256));
  const lengths = [...new Set(wanted.map((w) => w.length))];
  const shortest = Math.min(...lengths);
  const found = new Set<string>();
  let windows = 0;
  for (const text of texts) {
    for (const [run] of text.matchAll(RUN)) {
      if (run.length < shortest) continue;
      for (const length of lengths) {
        for (let i = 0; i + length <= run.length; i++) {
          const sha = createHash('sha256')
            .update(run.slice(i, i + length), 'utf8')
            .digest('hex');
          windows++;
          if (hashes.has(sha)) found.add(sha);
        }
      }
    }
  }
  return { found, windows };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
