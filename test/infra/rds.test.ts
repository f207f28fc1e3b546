// Smoke: @aws-sdk/client-rds against moto on loopback: create, describe, tag, delete an instance;
// and the stack's RDS front before it, which behaves like RDS (test/infra/rds-front.test.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CreateDBInstanceCommand,
  DBInstanceNotFoundFault,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-rds';
import { config, uniqueName } from '../support/env.js';
import { moto as rds } from '../support/rds.js';

describe('RDS API served by moto', () => {
  it('points the SDK at loopback, never at AWS', () => {
    assert.match(config.aws.rdsEndpoint ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates, describes, lists tags of and deletes a DB instance', async () => {
    const id = uniqueName('smoke');
    const created = await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBInstanceClass: 'db.t3.micro',
        Engine: 'postgres',
        AllocatedStorage: 20,
        MasterUsername: 'app',
        MasterUserPassword: randomBytes(16).toString('hex'),
        DBName: 'orders',
        Tags: [{ Key: 'rdsflow.io/namespace', Value: 'default' }],
      }),
    );
    assert.equal(created.DBInstance?.DBInstanceIdentifier, id);

    const described = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    const instance = described.DBInstances?.[0];
    assert.equal(instance?.Engine, 'postgres');
    assert.equal(instance?.DBName, 'orders');
    assert.equal(instance?.DBInstanceStatus, 'available');
    assert.ok(instance?.Endpoint?.Address, 'no endpoint address');
    assert.equal(instance?.Endpoint?.Port, 5432);

    const tags = await rds.send(
      new ListTagsForResourceCommand({ ResourceName: instance.DBInstanceArn }),
    );
    assert.deepEqual(tags.TagList, [{ Key: 'rdsflow.io/namespace', Value: 'default' }]);

    await rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    await assert.rejects(
      rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })),
      (e: unknown) => e instanceof DBInstanceNotFoundFault,
    );
  });
});
