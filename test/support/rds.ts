// RDS as the tests see it: the stack's realistic front (what rdsflow talks to), moto behind it
// (what is really there, and where other teams' instances are made), and tag helpers.
import { randomBytes } from 'node:crypto';
import {
  CreateDBInstanceCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  paginateDescribeDBInstances,
  type DBInstance,
  type Tag,
} from '@aws-sdk/client-rds';
import { frontClient, type FrontControl, type JournalEntry } from '../../infra/rds-front.js';
import { config, tools } from './env.js';

/** RDS as moto has it, without the front: for checks "through the server's own API". */
export const moto = new RDSClient({
  region: config.aws.region,
  endpoint: tools.motoUrl,
  maxAttempts: 1,
});

/** The local stack's RDS front (AWS_ENDPOINT_URL_RDS), controlled over HTTP. */
export function stackFront(): FrontControl {
  return frontClient(config.aws.rdsEndpoint ?? '');
}

export function tagMap(tags: Tag[] | undefined): Record<string, string | undefined> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value]));
}

/**
 * The instance as moto has it now, or undefined; `at`: another region, or another account's
 * credentials (a DatabaseClass's), than the suite's own.
 */
export async function motoInstance(
  identifier: string,
  at?: { region: string; credentials?: RDSClient['config']['credentials'] },
): Promise<DBInstance | undefined> {
  const client = at
    ? new RDSClient({
        region: at.region,
        endpoint: tools.motoUrl,
        maxAttempts: 1,
        ...(at.credentials ? { credentials: at.credentials } : {}),
      })
    : moto;
  try {
    const out = await client.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
    );
    return out.DBInstances?.[0];
  } catch (error: unknown) {
    if ((error as { name?: string }).name?.includes('DBInstanceNotFound')) return undefined;
    throw error;
  } finally {
    if (client !== moto) client.destroy();
  }
}

/** Another team's instance under `identifier`, made straight in moto: nothing of rdsflow's. */
export async function foreignInstance(
  identifier: string,
  tags: Record<string, string> = { owner: 'another-team' },
): Promise<DBInstance> {
  const out = await moto.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: identifier,
      DBInstanceClass: 'db.t3.micro',
      Engine: 'postgres',
      AllocatedStorage: 20,
      MasterUsername: 'theirs',
      MasterUserPassword: randomBytes(12).toString('hex'),
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  if (!out.DBInstance) throw new Error(`moto created no instance ${identifier}`);
  return out.DBInstance;
}

/** Every instance in moto tagged with this object's UID (all pages: moto holds many). */
export async function instancesOf(uid: string): Promise<DBInstance[]> {
  const found: DBInstance[] = [];
  for await (const page of paginateDescribeDBInstances({ client: moto }, {})) {
    for (const instance of page.DBInstances ?? []) {
      if (tagMap(instance.TagList)['rdsflow.io/uid'] === uid) found.push(instance);
    }
  }
  return found;
}

/** The calls the stack's RDS front journaled for this instance identifier. */
export async function frontCalls(identifier: string): Promise<JournalEntry[]> {
  return (await stackFront().journal()).filter((e) => e.identifier === identifier);
}
