// Vault (KV v2) activities: the master password is generated here and goes straight to Vault;
// it never leaves an activity as an argument, result, log line or error message. Every secret
// carries, in its custom metadata, the UID of the object that wrote it: only that object's
// workflow overwrites or removes it (docs/ownership.md).
import { randomBytes, randomInt } from 'node:crypto';
import { activityInfo, log } from '@temporalio/activity';
import type vault from 'node-vault';
import { OWNER_KEYS } from '../contracts/names.js';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import { FAILURE, type Endpoint } from '../contracts/workflow.js';
import { httpStatusOf } from '../runtime/failure-type.js';
import { classifyError, terminal } from './errors.js';

export type VaultSlice = Pick<vault.client, 'read' | 'write' | 'delete'>;

export interface VaultDeps {
  readonly vault: VaultSlice;
  /** the KV v2 mount, `secret` by default */
  readonly mount: string;
}

/** The fields of the secret at `rdsflow/<namespace>/<name>` (docs/operating.md). */
export interface DbSecret {
  username: string;
  password: string;
  engine: string;
  dbname: string;
  host?: string;
  port?: string;
  url?: string;
}

/** The password and which one it is (the instance's credential tag names the one it has). */
export interface Credentials {
  readonly password: string;
  readonly credentialId: string;
}

/** What RDS activities need from Vault: this object's credentials, never anyone else's. */
export interface CredentialStore {
  read(db: ResolvedDatabase): Promise<Credentials>;
}

// RDS allows printable ASCII except / " @ and space; letters and digits avoid quoting anywhere
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const PASSWORD_LENGTH = 32;

function generatePassword(): string {
  let out = '';
  for (let i = 0; i < PASSWORD_LENGTH; i++)
    out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/** A secret's metadata as far as ownership goes; undefined when nothing is at the path. */
interface Entry {
  /** UID of the object that wrote it; undefined for an entry rdsflow did not mark */
  readonly uid: string | undefined;
  readonly credentialId: string | undefined;
  /** kept by a deletion under Retain: another object of this name may adopt it */
  readonly retained: boolean;
  /** 0 when the metadata exists but no version was written yet */
  readonly version: number;
  /** the live version's data, if it has not been deleted */
  readonly secret: DbSecret | undefined;
  readonly custom: Readonly<Record<string, string>>;
}

async function readEntry(deps: VaultDeps, path: string): Promise<Entry | undefined> {
  let metadata: {
    custom_metadata?: Record<string, string> | null;
    current_version?: number;
  };
  try {
    metadata = ((await deps.vault.read(`${deps.mount}/metadata/${path}`)) as { data: object }).data;
  } catch (error: unknown) {
    if (httpStatusOf(error) === 404) return undefined;
    throw error;
  }
  const version = metadata.current_version ?? 0;
  let secret: DbSecret | undefined;
  if (version > 0) {
    try {
      const response = (await deps.vault.read(`${deps.mount}/data/${path}`)) as {
        data?: { data?: DbSecret | null };
      };
      secret = response.data?.data ?? undefined;
    } catch (error: unknown) {
      // NOTE: KV v2 answers 404 for a soft-deleted latest version; the metadata remains
      if (httpStatusOf(error) !== 404) throw error;
    }
  }
  return {
    uid: metadata.custom_metadata?.[OWNER_KEYS.uid],
    credentialId: metadata.custom_metadata?.[OWNER_KEYS.credential],
    retained: metadata.custom_metadata?.[OWNER_KEYS.retained] === 'true',
    custom: metadata.custom_metadata ?? {},
    version,
    secret,
  };
}

function ownerText(entry: Entry): string {
  return entry.uid ? `the Database with uid ${entry.uid}` : 'no Database known to rdsflow';
}

function entryNotOurs(deps: VaultDeps, db: DatabaseNames, entry: Entry, hint: string): Error {
  return terminal(
    FAILURE.entryNotOurs,
    `Vault secret ${deps.mount}/${db.vaultPath} was written for ${ownerText(entry)}, not this ` +
      `Database (uid ${db.ref.uid})`,
    { vaultPath: `${deps.mount}/${db.vaultPath}`, ownerUid: entry.uid ?? null },
    hint ? `rdsflow leaves it alone. ${hint}` : undefined,
  );
}

async function guarded<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error: unknown) {
    throw classifyError('Vault', step, error, activityInfo().attempt);
  }
}

/** This object's credentials: its secret must exist and carry its UID. */
export function vaultCredentials(deps: VaultDeps): CredentialStore {
  return {
    read: (db) =>
      guarded('readMasterPassword', async () => {
        const entry = await readEntry(deps, db.vaultPath);
        if (entry && entry.uid !== db.ref.uid) throw entryNotOurs(deps, db, entry, '');
        if (!entry?.secret?.password || !entry.credentialId) {
          throw terminal(
            FAILURE.storeRejected,
            `no master password at ${deps.mount}/${db.vaultPath}; it is created before the instance`,
          );
        }
        return { password: entry.secret.password, credentialId: entry.credentialId };
      }),
  };
}

export function connectionUrl(secret: DbSecret): string | undefined {
  if (!secret.host || !secret.port) return undefined;
  const scheme = secret.engine === 'postgres' ? 'postgresql' : 'mysql';
  const user = encodeURIComponent(secret.username);
  const password = encodeURIComponent(secret.password);
  return `${scheme}://${user}:${password}@${secret.host}:${secret.port}/${encodeURIComponent(secret.dbname)}`;
}

const full = (deps: VaultDeps, db: DatabaseNames): string => `${deps.mount}/${db.vaultPath}`;

/** Marks the path as this object's and writes a new password (check-and-set on `version`). */
async function writeNewPassword(
  deps: VaultDeps,
  db: ResolvedDatabase,
  version: number,
): Promise<void> {
  // the owner goes on first: a crash between the two writes leaves a marked, empty path
  await deps.vault.write(`${deps.mount}/metadata/${db.vaultPath}`, {
    custom_metadata: {
      [OWNER_KEYS.uid]: db.ref.uid,
      [OWNER_KEYS.credential]: randomBytes(8).toString('hex'),
    },
  });
  const secret: DbSecret = {
    username: db.masterUsername,
    password: generatePassword(),
    engine: db.engine,
    dbname: db.databaseName,
  };
  await deps.vault.write(`${deps.mount}/data/${db.vaultPath}`, {
    options: { cas: version },
    data: secret,
  });
}

/**
 * What to do with what is at the path: keep this object's password, write a new one, or refuse
 * (another object's secret: taken over only when it was retained and the spec opts in).
 */
function passwordPlan(
  deps: VaultDeps,
  db: ResolvedDatabase,
  entry: Entry | undefined,
): 'keep' | 'write' | 'take-over' {
  const ours = entry?.uid === db.ref.uid;
  if (ours && entry.secret?.password && entry.credentialId) return 'keep';
  if (!entry || ours || entry.version === 0) return 'write';
  if (!entry.retained) {
    throw entryNotOurs(
      deps,
      db,
      entry,
      'Another Database of this name holds them: an earlier one (its run may be finishing, or ' +
        'its object vanished without a delete and its database is being orphaned), or one of ' +
        'another cluster that shares this Vault. If it is an earlier one, once they are ' +
        `released \`rdsflow adopt ${db.ref.namespace}/${db.ref.name}\` (spec.adoptRetained: true) ` +
        'takes them over. Never remove them while their instance is in use.',
    );
  }
  if (!db.adoptRetained) {
    throw entryNotOurs(
      deps,
      db,
      entry,
      'They were kept, with the instance, when that Database was deleted under deletionPolicy ' +
        'Retain or vanished without a delete (orphaned): set spec.adoptRetained: true ' +
        `(\`rdsflow adopt ${db.ref.namespace}/${db.ref.name}\`) to take both over.`,
    );
  }
  log.info('taking over retained credentials', {
    vaultPath: full(deps, db),
    from: entry.uid ?? 'unmarked',
  });
  return 'take-over';
}

/**
 * Makes sure this object's master password exists, generating one if not. A secret another
 * object wrote (credentials kept by a Retain) is taken over only with spec.adoptRetained;
 * otherwise it is left alone and the step fails with EntryNotOurs.
 */
export async function ensureMasterPassword(
  deps: VaultDeps,
  db: ResolvedDatabase,
): Promise<{ created: boolean; vaultPath: string; takenOverFrom?: string }> {
  const vaultPath = full(deps, db);
  return guarded('ensureMasterPassword', async () => {
    const entry = await readEntry(deps, db.vaultPath);
    const plan = passwordPlan(deps, db, entry);
    if (plan === 'keep') return { created: false, vaultPath };
    // a takeover says whose it was: a cancelled adoption gives it back
    const from = plan === 'take-over' && entry?.uid ? { takenOverFrom: entry.uid } : {};
    try {
      await writeNewPassword(deps, db, entry?.version ?? 0);
    } catch (error: unknown) {
      // NOTE: KV v2 answers 400 when check-and-set fails: another attempt wrote it first
      const now = httpStatusOf(error) === 400 ? await readEntry(deps, db.vaultPath) : undefined;
      if (now?.uid === db.ref.uid && now.secret?.password) return { created: false, vaultPath };
      throw error;
    }
    log.info('master password generated', { vaultPath });
    return { created: true, vaultPath, ...from };
  });
}

/** Completes this object's secret with the endpoint and a connection URL. */
export async function writeDbSecret(
  deps: VaultDeps,
  db: ResolvedDatabase,
  endpoint: Endpoint,
): Promise<{ vaultPath: string }> {
  return guarded('writeDbSecret', async () => {
    const entry = await readEntry(deps, db.vaultPath);
    if (entry && entry.uid !== db.ref.uid) throw entryNotOurs(deps, db, entry, '');
    if (!entry?.secret?.password) {
      throw terminal(
        FAILURE.storeRejected,
        `no master password at ${full(deps, db)}; it is created before the instance`,
      );
    }
    const secret: DbSecret = {
      username: db.masterUsername,
      password: entry.secret.password,
      engine: db.engine,
      dbname: db.databaseName,
      host: endpoint.host,
      port: String(endpoint.port),
    };
    secret.url = connectionUrl(secret);
    // check-and-set: a takeover between the read and this write is not overwritten
    await deps.vault.write(`${deps.mount}/data/${db.vaultPath}`, {
      options: { cas: entry.version },
      data: secret,
    });
    return { vaultPath: full(deps, db) };
  });
}

/**
 * Retain (or an object that vanished): the secret stays, marked as kept, so that a later
 * Database of this name may adopt it explicitly (spec.adoptRetained). Only this object's own
 * secret is marked. `owner`: a cancelled adoption gives the secret back to the UID it took it
 * from, so that a later delete of the cancelled object cannot remove it.
 */
export async function retainDbSecret(
  deps: VaultDeps,
  db: DatabaseNames,
  owner?: string,
): Promise<{ retained: boolean }> {
  return guarded('retainDbSecret', async () => {
    const entry = await readEntry(deps, db.vaultPath);
    if (entry?.uid !== db.ref.uid) return { retained: false };
    await deps.vault.write(`${deps.mount}/metadata/${db.vaultPath}`, {
      custom_metadata: {
        ...entry.custom,
        [OWNER_KEYS.retained]: 'true',
        ...(owner ? { [OWNER_KEYS.uid]: owner } : {}),
      },
    });
    return { retained: true };
  });
}

/**
 * Removes every version of the secret, only if this object wrote it; a secret of another UID
 * (or none at all) is left as it is.
 */
export async function deleteDbSecret(
  deps: VaultDeps,
  db: DatabaseNames,
): Promise<{ removed: boolean; owner?: string }> {
  return guarded('deleteDbSecret', async () => {
    const entry = await readEntry(deps, db.vaultPath);
    if (!entry) return { removed: false };
    if (entry.uid !== db.ref.uid) {
      log.warn('Vault secret of another object left in place', {
        vaultPath: full(deps, db),
        owner: entry.uid ?? 'unmarked',
        uid: db.ref.uid,
      });
      return { removed: false, owner: entry.uid ?? 'unmarked' };
    }
    try {
      await deps.vault.delete(`${deps.mount}/metadata/${db.vaultPath}`);
    } catch (error: unknown) {
      if (httpStatusOf(error) !== 404) throw error;
    }
    return { removed: true };
  });
}

export interface VaultActivities {
  ensureMasterPassword(db: ResolvedDatabase): ReturnType<typeof ensureMasterPassword>;
  writeDbSecret(db: ResolvedDatabase, endpoint: Endpoint): ReturnType<typeof writeDbSecret>;
  retainDbSecret(db: DatabaseNames, owner?: string): ReturnType<typeof retainDbSecret>;
  deleteDbSecret(db: DatabaseNames): ReturnType<typeof deleteDbSecret>;
}

export function createVaultActivities(deps: VaultDeps): VaultActivities {
  return {
    ensureMasterPassword: (db) => ensureMasterPassword(deps, db),
    writeDbSecret: (db, endpoint) => writeDbSecret(deps, db, endpoint),
    retainDbSecret: (db, owner) => retainDbSecret(deps, db, owner),
    deleteDbSecret: (db) => deleteDbSecret(deps, db),
  };
}
