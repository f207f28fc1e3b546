// The DatabaseClass's shape, the one source of its CRD (contracts/crd.ts, `npm run crd`): what a
// platform team sets once for many Databases — where they live (region, account, credentials),
// what is enforced on each (network, encryption key), what a Database that leaves a field out
// gets (defaults) and what it may ask for (limits). Every CEL rule has its zod twin beside it.
// Heavy (zod): the workflow bundle must never import this module at run time.
import { z } from 'zod';
import { ENGINES, INSTANCE_SETTINGS, type InstanceSetting } from './database.js';
import { DNS_SUBDOMAIN } from './names.js';
import { specFields } from './schema.js';

/**
 * The Database fields a class may default: a Database that leaves one out gets the class's
 * value. The fields the Database CRD itself defaults (deletionPolicy, requireApproval,
 * masterUsername, adoptRetained) are not among them: the apiserver fills those into every
 * Database, so a class default could never apply (a class forces approval through
 * `limits.requireApproval`). Each default is held to the Database field's own schema.
 */
/** What a class enforces rather than defaults (its `network` and `kmsKeyId`). */
const CLASS_ENFORCED = ['subnetGroup', 'securityGroupIds', 'kmsKeyId'] as const;
type ClassDefaultField =
  | Exclude<InstanceSetting, (typeof CLASS_ENFORCED)[number]>
  | 'tags'
  | 'parameters'
  | 'parameterGroup';

/** Every instance setting but the enforced ones, and the tags and parameters. */
export const CLASS_DEFAULT_FIELDS: readonly ClassDefaultField[] = [
  ...INSTANCE_SETTINGS.filter(
    (key): key is Exclude<InstanceSetting, (typeof CLASS_ENFORCED)[number]> =>
      !(CLASS_ENFORCED as readonly string[]).includes(key),
  ),
  'tags',
  'parameters',
  'parameterGroup',
];

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const AWS_ACCOUNT = /^[0-9]{12}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]{1,512}$/;
const SECURITY_GROUP = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;

const defaultsSchema = z
  .object(
    Object.fromEntries(
      CLASS_DEFAULT_FIELDS.map((key) => {
        const field: z.ZodType = specFields[key];
        const optional = field instanceof z.ZodOptional ? field : field.optional();
        return [key, optional];
      }),
    ) as { [K in ClassDefaultField]: (typeof specFields)[K] },
  )
  .strict()
  .meta({
    description:
      "What a Database of this class gets for a field it leaves out (the Database's own value wins, within the limits).",
  });

const credentialsSchema = z
  .object({
    secretRef: z
      .object({
        name: z
          .string()
          .max(253, 'must be at most 253 characters')
          .regex(DNS_SUBDOMAIN, 'must be the name of a Secret'),
      })
      .strict()
      .meta({
        description:
          "A Secret in the worker's own namespace (never another) holding AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN.",
      })
      .optional(),
    assumeRole: z
      .object({
        roleArn: z
          .string()
          .regex(ROLE_ARN, 'must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/rdsflow'),
        externalId: z
          .string()
          .min(2, 'must be 2 to 1224 characters')
          .max(1224, 'must be 2 to 1224 characters')
          .optional(),
      })
      .strict()
      .meta({
        description:
          "A role assumed through STS AssumeRole, from the Secret's credentials when secretRef is set too, else from the worker's own.",
      })
      .optional(),
  })
  .strict()
  .meta({
    description: "The AWS identity of this class's Databases; the worker's own when omitted.",
    'x-kubernetes-validations': [
      {
        rule: 'has(self.secretRef) || has(self.assumeRole)',
        message: 'credentials need a secretRef, an assumeRole or both',
      },
    ],
  })
  .refine((c) => c.secretRef !== undefined || c.assumeRole !== undefined, {
    message: 'credentials need a secretRef, an assumeRole or both',
  });

const networkSchema = z
  .object({
    subnetGroup: z
      .string()
      .min(1, 'must not be empty')
      .max(255, 'must be at most 255 characters')
      .meta({ description: 'The DB subnet group of every Database of the class (enforced).' })
      .optional(),
    securityGroupIds: z
      .array(
        z.string().regex(SECURITY_GROUP, 'must be security group IDs like sg-0123456789abcdef0'),
      )
      .min(1, 'must name at least one security group')
      .max(5, 'must name at most 5 security groups')
      .meta({
        description: 'The VPC security groups of every Database of the class (enforced).',
      })
      .optional(),
  })
  .strict()
  .meta({ description: 'Where the instances live; a Database may not state otherwise.' });

const limitsSchema = z
  .object({
    engines: z
      .array(z.enum(ENGINES, { error: `must be one of ${ENGINES.join(', ')}` }))
      .min(1, 'must allow at least one engine')
      .meta({ description: 'The engines a Database of the class may ask for.' })
      .optional(),
    instanceClasses: z
      .array(z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'must look like db.t3.micro'))
      .min(1, 'must allow at least one instance class')
      .meta({ description: 'The RDS instance classes a Database of the class may ask for.' })
      .optional(),
    maxStorageGiB: z
      .number({ error: 'must be a whole number of GiB' })
      .int('must be a whole number of GiB')
      .min(20, 'must be at least 20')
      .max(65536, 'must be at most 65536')
      .meta({
        description: 'The most storage (and storage autoscaling ceiling) a Database may ask for.',
      })
      .optional(),
    requireApproval: z
      .boolean({ error: 'must be true or false' })
      .meta({
        description:
          'Every Database of the class waits for `rdsflow approve`, whatever its spec says.',
      })
      .optional(),
  })
  .strict()
  .meta({ description: 'What a Database of the class may ask for; anything else is refused.' });

/** A class's defaults within its own limits (the CEL rules and their zod twin). */
const CLASS_RULES = [
  {
    rule: '!has(self.defaults) || !has(self.defaults.storageGiB) || !has(self.limits) || !has(self.limits.maxStorageGiB) || self.defaults.storageGiB <= self.limits.maxStorageGiB',
    message: 'defaults.storageGiB exceeds limits.maxStorageGiB',
  },
  {
    rule: '!has(self.defaults) || !has(self.defaults.instanceClass) || !has(self.limits) || !has(self.limits.instanceClasses) || self.defaults.instanceClass in self.limits.instanceClasses',
    message: 'defaults.instanceClass is not in limits.instanceClasses',
  },
];

/** The spec of a DatabaseClass, as a platform team writes it. */
export const databaseClassSpecSchema = z
  .object(
    {
      region: z
        .string()
        .regex(AWS_REGION, 'must be an AWS region, e.g. eu-west-1')
        .meta({ description: 'The AWS region of every Database of the class.' }),
      account: z
        .string()
        .regex(AWS_ACCOUNT, 'must be a 12-digit AWS account ID')
        .meta({
          description:
            'The AWS account the credentials must be (STS GetCallerIdentity), checked before any RDS call.',
        })
        .optional(),
      credentials: credentialsSchema.optional(),
      network: networkSchema.optional(),
      kmsKeyId: z
        .string()
        .min(1, 'must not be empty')
        .max(2048, 'must be at most 2048 characters')
        .meta({
          description: 'The KMS key every Database of the class is encrypted with (enforced).',
        })
        .optional(),
      defaults: defaultsSchema.optional(),
      limits: limitsSchema.optional(),
    },
    { error: (issue) => (issue.input === undefined ? 'is missing' : 'must be an object') },
  )
  .strict()
  .meta({ 'x-kubernetes-validations': CLASS_RULES })
  .superRefine((spec, ctx) => {
    const { defaults, limits } = spec;
    if (defaults?.storageGiB !== undefined && limits?.maxStorageGiB !== undefined) {
      if (defaults.storageGiB > limits.maxStorageGiB)
        ctx.addIssue({
          code: 'custom',
          path: ['defaults', 'storageGiB'],
          message: 'exceeds limits.maxStorageGiB',
        });
    }
    const classes = limits?.instanceClasses;
    if (
      defaults?.instanceClass !== undefined &&
      classes &&
      !classes.includes(defaults.instanceClass)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaults', 'instanceClass'],
        message: 'is not in limits.instanceClasses',
      });
    }
  });

/** `kubectl get databaseclasses` columns. */
export const CLASS_PRINTER_COLUMNS = [
  { name: 'Region', type: 'string', jsonPath: '.spec.region' },
  {
    name: 'Default',
    type: 'string',
    jsonPath: ".metadata.annotations['rdsflow\\.io/is-default-class']",
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;

export type DatabaseClassSpec = z.output<typeof databaseClassSpecSchema>;
