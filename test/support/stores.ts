// Vault as the tests see it: a Database's secret read straight from OpenBao, not through rdsflow.
import { vaultClient } from '../../config/clients.js';
import { config } from './env.js';

const vault = vaultClient(config.vault);

/** The secret of the Database `namespace/name` as OpenBao has it now, or undefined. */
export async function vaultSecret(
  name: string,
  namespace = 'default',
): Promise<Record<string, string> | undefined> {
  try {
    return (
      (await vault.read(`secret/data/rdsflow/${namespace}/${name}`)) as {
        data: { data: Record<string, string> };
      }
    ).data.data;
  } catch {
    return undefined;
  }
}
