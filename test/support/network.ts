// A production network in moto for a test's instance: a VPC with two subnets in two
// availability zones, a DB subnet group over them, a security group and a KMS key, made through
// moto's own EC2, KMS and RDS APIs (nothing of rdsflow's), in the stack's region.
import { randomInt } from 'node:crypto';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateDBSubnetGroupCommand } from '@aws-sdk/client-rds';
import { config, tools } from './env.js';
import { moto } from './rds.js';

export interface Network {
  readonly vpcId: string;
  readonly subnetGroup: string;
  readonly securityGroupId: string;
  /** the key's ARN */
  readonly kmsKeyArn: string;
}

const region = config.aws.region;
const clients = { region, endpoint: tools.motoUrl, maxAttempts: 1 };

/** Makes the network in moto; `name` names the subnet group and the security group. */
export async function productionNetwork(name: string): Promise<Network> {
  const ec2 = new EC2Client(clients);
  const kms = new KMSClient(clients);
  try {
    const block = `10.${randomInt(1, 250)}`;
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: `${block}.0.0/16` }));
    const vpcId = vpc.Vpc?.VpcId ?? '';
    const subnets = await Promise.all(
      ['a', 'b'].map((zone, i) =>
        ec2.send(
          new CreateSubnetCommand({
            VpcId: vpcId,
            CidrBlock: `${block}.${i + 1}.0/24`,
            AvailabilityZone: `${region}${zone}`,
          }),
        ),
      ),
    );
    await moto.send(
      new CreateDBSubnetGroupCommand({
        DBSubnetGroupName: name,
        DBSubnetGroupDescription: `rdsflow test ${name}`,
        SubnetIds: subnets.map((s) => s.Subnet?.SubnetId ?? ''),
      }),
    );
    const group = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: 'rdsflow test',
        VpcId: vpcId,
      }),
    );
    const key = await kms.send(new CreateKeyCommand({ Description: `rdsflow test ${name}` }));
    return {
      vpcId,
      subnetGroup: name,
      securityGroupId: group.GroupId ?? '',
      kmsKeyArn: key.KeyMetadata?.Arn ?? '',
    };
  } finally {
    ec2.destroy();
    kms.destroy();
  }
}
