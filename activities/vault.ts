// Vault (KV v2) activities: the master password is generated here and goes straight to Vault;
// it never leaves an activity as an argument, result, log line or error message.
import { randomInt } from 'node:crypto';
import { activityInfo, log } from '@temporalio/activity';
import type vault from 'node-vault';
import type { Endpoint } from '../contracts/workflow.js';
import type { DatabaseNames, ResolvedDatabase } from '../contracts/spec.js';
import { classifyStoreError, terminal } from './errors.js';
import { FAILURE } from '../contracts/workflow.js';

export type VaultSlice = Pick<vault.client, 'read' | 'write' | 'delete'>;

export interface VaultDeps {
  readonly vault: VaultSlice;
  /** the KV v2 mount, `secret` by default */
  readonly mount: string;
}

/** The fields of the secret at `rdsflow/<namespace>/<name>` (DESIGN.md §3). */
export interface DbSecret {
  username: string;
  password: string;
  engine: string;
  dbname: string;
  host?: string;
  port?: string;
  url?: string;
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

function statusOf(error: unknown): number | undefined {
  return (error as { response?: { statusCode?: number } }).response?.statusCode;
}

/** Reads the secret, or undefined when there is none (404). */
async function readSecret(deps: VaultDeps, path: string): Promise<DbSecret | undefined> {
  try {
    const response = (await deps.vault.read(`${deps.mount}/data/${path}`)) as {
      data?: { data?: DbSecret };
    };
    return response.data?.data;
  } catch (error: unknown) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

/** The master password, for activities that must hand it to RDS. */
export async function readMasterPassword(deps: VaultDeps, path: string): Promise<string> {
  const secret = await guarded('readMasterPassword', () => readSecret(deps, path));
  if (!secret?.password) {
    throw terminal(
      FAILURE.storeRejected,
      `no master password at ${deps.mount}/${path}; it is created before the instance`,
    );
  }
  return secret.password;
}

async function guarded<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error: unknown) {
    throw classifyStoreError('Vault', step, error, activityInfo().attempt);
  }
}

export function connectionUrl(secret: DbSecret): string | undefined {
  if (!secret.host || !secret.port) return undefined;
  const scheme = secret.engine === 'postgres' ? 'postgresql' : 'mysql';
  const user = encodeURIComponent(secret.username);
  const password = encodeURIComponent(secret.password);
  return `${scheme}://${user}:${password}@${secret.host}:${secret.port}/${encodeURIComponent(secret.dbname)}`;
}

export function createVaultActivities(deps: VaultDeps) {
  return {
    /**
     * Makes sure a master password exists at the object's path, generating one if not.
     * Check-and-set 0 means a concurrent or retried attempt can never replace it.
     */
    async ensureMasterPassword(
      db: ResolvedDatabase,
    ): Promise<{ created: boolean; vaultPath: string }> {
      return guarded('ensureMasterPassword', async () => {
        const existing = await readSecret(deps, db.vaultPath);
        if (existing?.password)
          return { created: false, vaultPath: `${deps.mount}/${db.vaultPath}` };
        const secret: DbSecret = {
          username: db.masterUsername,
          password: generatePassword(),
          engine: db.engine,
          dbname: db.databaseName,
        };
        try {
          await deps.vault.write(`${deps.mount}/data/${db.vaultPath}`, {
            options: { cas: 0 },
            data: secret,
          });
        } catch (error: unknown) {
          // NOTE: KV v2 answers 400 when check-and-set fails: another attempt wrote it first
          if (statusOf(error) === 400 && (await readSecret(deps, db.vaultPath))?.password) {
            return { created: false, vaultPath: `${deps.mount}/${db.vaultPath}` };
          }
          throw error;
        }
        log.info('master password generated', { vaultPath: `${deps.mount}/${db.vaultPath}` });
        return { created: true, vaultPath: `${deps.mount}/${db.vaultPath}` };
      });
    },

    /** Completes the secret with the endpoint and a connection URL, keeping the password. */
    async writeDbSecret(db: ResolvedDatabase, endpoint: Endpoint): Promise<{ vaultPath: string }> {
      const password = await readMasterPassword(deps, db.vaultPath);
      return guarded('writeDbSecret', async () => {
        const secret: DbSecret = {
          username: db.masterUsername,
          password,
          engine: db.engine,
          dbname: db.databaseName,
          host: endpoint.host,
          port: String(endpoint.port),
        };
        secret.url = connectionUrl(secret);
        await deps.vault.write(`${deps.mount}/data/${db.vaultPath}`, { data: secret });
        return { vaultPath: `${deps.mount}/${db.vaultPath}` };
      });
    },

    /** Removes every version of the secret; a missing one is already gone. */
    async deleteDbSecret(db: DatabaseNames): Promise<void> {
      await guarded('deleteDbSecret', async () => {
        try {
          await deps.vault.delete(`${deps.mount}/metadata/${db.vaultPath}`);
        } catch (error: unknown) {
          if (statusOf(error) !== 404) throw error;
        }
      });
    },
  };
}
