// The one source of the Database's shape: the zod schemas of its spec and status. Validation
// (contracts/spec.ts) parses with them, the TypeScript types are inferred from them, and the
// CRD's openAPIV3Schema is generated from them (contracts/crd.ts, `npm run crd`). What only the
// apiserver checks sits beside the field it guards, as metadata the generator copies: CEL rules
// (`x-kubernetes-validations`), descriptions, bounds zod cannot state. Every CEL rule has its
// zod twin next to it, so a Database the apiserver never saw is held to the same rules.
// Heavy (zod): the workflow bundle must never import this module at run time.
import { z } from 'zod';
import {
  CONDITION_STATUSES,
  CREATE_DEFAULTS,
  DELETION_POLICIES,
  ENGINES,
  PHASES,
  SPEC_DEFAULTS,
} from './database.js';
import { instanceFields, instanceProblems, instanceRules, unstated } from './instance-fields.js';
import { DNS_SUBDOMAIN, isReservedDatabaseName } from './names.js';

const RESERVED_USERNAMES = [
  'rdsadmin',
  'rdsrepladmin',
  'rds_superuser',
  'rdsproxyadmin',
  'rdstopmgr',
];
// RDS tag rules: Unicode letters, digits, white space and _ . : / = + - @
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MAX_TAGS = 40;
const MAX_TAG_KEY = 128;
const MAX_TAG_VALUE = 256;
/** mysql and mariadb limit the master username to 16 characters */
const MAX_USERNAME_NOT_POSTGRES = 16;

const identifier = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(
      /^[A-Za-z][A-Za-z0-9_]*$/,
      'must start with a letter and hold only letters, digits and _',
    );

const flag = () => z.boolean({ error: 'must be true or false' });

function tagKeyProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > MAX_TAG_KEY)
    return `tag keys are 1 to ${MAX_TAG_KEY} characters`;
  if (/^aws:/i.test(key)) return 'tag keys may not start with aws:';
  if (key.startsWith('rdsflow.io/')) return "tag keys starting with rdsflow.io/ are rdsflow's own";
  if (!TAG_TEXT.test(key)) return 'tag keys hold only letters, digits, spaces and _ . : / = + - @';
  return undefined;
}

const tagsSchema = z
  .record(
    z.string(),
    z.string({ error: 'tag values must be strings' }).max(MAX_TAG_VALUE, 'has an invalid value'),
  )
  .meta({
    description: 'Copied to the RDS instance.',
    maxProperties: MAX_TAGS,
    'x-kubernetes-validations': [
      {
        rule: `self.all(k, size(k) >= 1 && size(k) <= ${MAX_TAG_KEY} && !k.startsWith('aws:') && !k.startsWith('rdsflow.io/'))`,
        message: `tag keys are 1-${MAX_TAG_KEY} characters and may not start with 'aws:' or 'rdsflow.io/'`,
      },
    ],
  })
  .superRefine((tags, ctx) => {
    const keys = Object.keys(tags);
    if (keys.length > MAX_TAGS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_TAGS} tags` });
    for (const key of keys) {
      const bad =
        tagKeyProblem(key) ?? (TAG_TEXT.test(tags[key] ?? '') ? undefined : 'has an invalid value');
      if (bad) ctx.addIssue({ code: 'custom', path: [key], message: bad });
    }
  });

// RDS names of snapshots and parameter groups (RE2-safe: the CRD's pattern is one too); a
// group's may hold dots, as RDS's own default groups do (default.postgres16)
const RDS_NAME = /^[A-Za-z](?:[A-Za-z0-9]|-[A-Za-z0-9])*$/;
const RDS_NAME_RULE =
  'must start with a letter and hold only letters, digits and single hyphens, ending in a letter or digit';
const GROUP_NAME = /^[A-Za-z](?:[A-Za-z0-9]|[-.][A-Za-z0-9])*$/;
const GROUP_NAME_RULE =
  'must start with a letter and hold only letters, digits, single hyphens and dots, ending in a letter or digit';
const MAX_NAME = 255;
const MAX_PARAMETERS = 200;
const PARAMETER_NAME = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
const MAX_PARAMETER_NAME = 128;
const MAX_PARAMETER_VALUE = 4096;

const parametersSchema = z
  .record(
    z.string(),
    z
      .string({ error: 'parameter values are strings (quote numbers: "100")' })
      .max(MAX_PARAMETER_VALUE, `parameter values are at most ${MAX_PARAMETER_VALUE} characters`),
  )
  .meta({
    description:
      'DB parameters by name (values as strings): they become a DB parameter group this Database owns, created, changed and deleted with it. Parameters RDS applies only at a reboot are listed in status.parameters.pendingReboot until the instance is rebooted. Not with `parameterGroup`.',
    maxProperties: MAX_PARAMETERS,
    'x-kubernetes-validations': [
      {
        rule: `self.all(k, size(k) <= ${MAX_PARAMETER_NAME} && k.matches('${PARAMETER_NAME.source}'))`,
        message: `parameter names are at most ${MAX_PARAMETER_NAME} letters, digits and _ . : -, starting with a letter`,
      },
    ],
  })
  .superRefine((parameters, ctx) => {
    const names = Object.keys(parameters);
    if (names.length > MAX_PARAMETERS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_PARAMETERS} parameters` });
    for (const name of names) {
      if (name.length > MAX_PARAMETER_NAME || !PARAMETER_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `parameter names are at most ${MAX_PARAMETER_NAME} letters, digits and _ . : -, starting with a letter`,
        });
      }
    }
  });

/**
 * Every field of the Database spec. Exported so that a DatabaseClass's `defaults` take their
 * schemas from here (contracts/class-schema.ts): a default is held to the field's own rules.
 */
export const specFields = {
  engine: z
    .enum(ENGINES, { error: `must be one of ${ENGINES.join(', ')}` })
    .meta({ description: 'Database engine of the RDS instance.' }),
  engineVersion: z
    .string()
    .max(32, 'must be at most 32 characters')
    .regex(/^[0-9]+(\.[0-9A-Za-z-]+)*$/, 'must look like 16.4 or 8.0.35')
    .meta({ description: `Engine version, e.g. "16.4"; the engine's default when omitted.` })
    .optional(),
  // NOTE: no schema default for the instance settings (CREATE_DEFAULTS are for a create only):
  // rdsflow applies what a spec states, so an adopted instance keeps the settings it leaves out
  instanceClass: z
    .string()
    .max(64, 'must be at most 64 characters')
    .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'must look like db.t3.micro')
    .meta({ description: `RDS instance class; ${unstated(CREATE_DEFAULTS.instanceClass)}` })
    .optional(),
  storageGiB: z
    .number({ error: 'must be a whole number of GiB' })
    .int('must be a whole number of GiB')
    .min(20, 'must be at least 20')
    .max(65536, 'must be at most 65536')
    .meta({ description: `Allocated storage in GiB; ${unstated(`${CREATE_DEFAULTS.storageGiB}`)}` })
    .optional(),
  databaseName: identifier(63)
    .meta({ description: 'Initial database name; derived from metadata.name when omitted.' })
    .optional(),
  masterUsername: identifier(63).default(SPEC_DEFAULTS.masterUsername),
  multiAZ: flag()
    .meta({ description: `Multi-AZ deployment; ${unstated(`${CREATE_DEFAULTS.multiAZ}`)}` })
    .optional(),
  deletionPolicy: z
    .enum(DELETION_POLICIES, { error: `must be one of ${DELETION_POLICIES.join(', ')}` })
    .meta({ description: 'What happens to the RDS instance when the Database is deleted.' })
    .default(SPEC_DEFAULTS.deletionPolicy),
  requireApproval: flag()
    .meta({
      description:
        'Wait for `rdsflow approve` of each generation before rdsflow creates or changes the RDS instance for it.',
    })
    .default(SPEC_DEFAULTS.requireApproval),
  adoptRetained: flag()
    .meta({
      description:
        'Take over the RDS instance and Vault credentials that a deleted Database of the same namespace and name left behind under deletionPolicy Retain. Without it such an instance is never touched.',
    })
    .default(SPEC_DEFAULTS.adoptRetained),
  tags: tagsSchema.optional(),
  ...instanceFields,
  // --- parameters and where the data comes from ---
  parameters: parametersSchema.optional(),
  parameterGroup: z
    .string()
    .max(MAX_NAME, `must be at most ${MAX_NAME} characters`)
    .regex(GROUP_NAME, GROUP_NAME_RULE)
    .meta({
      description:
        "An existing DB parameter group the instance uses; rdsflow attaches it and never changes or deletes it. Not with `parameters`. Omitted with `parameters` omitted: RDS's default group for a new instance (an adopted instance keeps its own).",
    })
    .optional(),
  source: z
    .object(
      {
        snapshot: z
          .string()
          .min(1, 'must not be empty')
          .max(MAX_NAME, `must be at most ${MAX_NAME} characters`)
          .regex(RDS_NAME, RDS_NAME_RULE)
          .meta({
            description:
              'A DB snapshot rdsflow took of a Database of this namespace (e.g. the final snapshot of a deleted one).',
          }),
      },
      { error: 'must be an object with a snapshot' },
    )
    .strict()
    .meta({
      description:
        'Create the instance by restoring this snapshot instead of creating it empty. Cannot change after creation.',
    })
    .optional(),
  // --- the DatabaseClass (contracts/class-schema.ts) --------------------------------------
  className: z
    .string()
    .max(253, 'must be at most 253 characters')
    .regex(DNS_SUBDOMAIN, 'must be the name of a DatabaseClass (a DNS subdomain)')
    .meta({
      description:
        'The DatabaseClass whose region, account, network, defaults and limits apply; the class annotated rdsflow.io/is-default-class when omitted, none when no class is.',
    })
    .optional(),
};

/** The spec as a user writes it; `.default()`s are the CRD's defaults, filled by the apiserver. */
export const databaseSpecSchema = z
  .object(specFields, {
    error: (issue) =>
      issue.input === undefined
        ? 'is missing: a Database needs at least spec.engine'
        : 'must be an object',
  })
  .strict()
  .meta({
    'x-kubernetes-validations': [
      {
        rule: `self.engine == 'postgres' || size(self.masterUsername) <= ${MAX_USERNAME_NOT_POSTGRES}`,
        message: `masterUsername is at most ${MAX_USERNAME_NOT_POSTGRES} characters for mysql and mariadb`,
      },
      ...instanceRules,
      // twin: the superRefine below
      {
        rule: '!has(self.parameters) || !has(self.parameterGroup)',
        message: 'parameters and parameterGroup exclude each other: set one',
      },
      // a transition rule: zod sees one spec, so its twin is immutableChanges (resolved.ts)
      {
        rule: 'has(self.source) == has(oldSelf.source) && (!has(self.source) || self.source == oldSelf.source)',
        message: 'source cannot change after creation',
      },
    ],
  })
  .superRefine((spec, ctx) => {
    if (spec.engine !== 'postgres' && spec.masterUsername.length > MAX_USERNAME_NOT_POSTGRES) {
      ctx.addIssue({
        code: 'custom',
        path: ['masterUsername'],
        message: `must be at most ${MAX_USERNAME_NOT_POSTGRES} characters for ${spec.engine}`,
      });
    }
    if (spec.parameters !== undefined && spec.parameterGroup !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['parameterGroup'],
        message: 'parameters and parameterGroup exclude each other: set one',
      });
    }
    if (RESERVED_USERNAMES.includes(spec.masterUsername.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['masterUsername'], message: 'is reserved by RDS' });
    }
    if (spec.databaseName && isReservedDatabaseName(spec.engine, spec.databaseName)) {
      ctx.addIssue({
        code: 'custom',
        path: ['databaseName'],
        message: `is reserved by ${spec.engine}`,
      });
    }
    instanceProblems(spec, ctx);
  });

const int64 = () => z.number().int().meta({ format: 'int64' });

/** What `rdsflow approve` approves: one generation's spec, shown on the status. */
const pendingApprovalSchema = z
  .object({
    generation: int64(),
    engine: z.enum(ENGINES),
    engineVersion: z.string().optional(),
    instanceClass: z.string(),
    storageGiB: z.number().int(),
    multiAZ: z.boolean(),
    deletionPolicy: z.enum(DELETION_POLICIES),
  })
  .meta({ description: 'The generation waiting for `rdsflow approve`, and what it asks for.' });

/** The parameter group in use, and what waits for a reboot. */
const parameterStatusSchema = z
  .object({
    group: z.string(),
    pendingReboot: z.array(z.string()).optional(),
  })
  .meta({
    description:
      'The DB parameter group the instance uses, and the parameters RDS applies only at its next reboot (rdsflow never reboots by itself).',
  });

/** Kubernetes' conventional condition shape. */
const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(CONDITION_STATUSES),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string().meta({ format: 'date-time' }),
  observedGeneration: int64().optional(),
});

/** The status rdsflow writes (kube/databases.ts); the status subresource holds nothing else. */
export const databaseStatusSchema = z.object({
  phase: z.enum(PHASES).optional(),
  observedGeneration: int64().optional(),
  conditions: z
    .array(conditionSchema)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
    .optional(),
  dbInstanceIdentifier: z.string().optional(),
  endpoint: z.object({ host: z.string(), port: z.number().int() }).optional(),
  secretRef: z
    .object({ vaultPath: z.string() })
    .meta({ description: 'Where the credentials are kept; never the credentials.' })
    .optional(),
  consulKey: z.string().optional(),
  workflowId: z.string().optional(),
  adoptedFrom: z
    .string()
    .meta({
      description:
        'The UID of the deleted (or vanished) Database whose retained instance this one took over.',
    })
    .optional(),
  message: z.string().optional(),
  pendingApproval: pendingApprovalSchema.optional(),
  parameters: parameterStatusSchema.optional(),
  restoredFrom: z
    .string()
    .meta({ description: 'The DB snapshot the instance was restored from (spec.source).' })
    .optional(),
  class: z
    .object({ name: z.string(), generation: int64() })
    .meta({
      description:
        'The DatabaseClass in effect and the generation of it that was applied; a later edit of the class applies on the next generation of this Database (or a retry).',
    })
    .optional(),
});

/** `kubectl get databases` columns. */
export const PRINTER_COLUMNS = [
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
  { name: 'Engine', type: 'string', jsonPath: '.spec.engine' },
  { name: 'Class', type: 'string', jsonPath: '.status.class.name' },
  { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint.host' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;

/** The spec as a user writes it; the apiserver fills the defaults the CRD declares. */
export type DatabaseSpec = z.input<typeof databaseSpecSchema>;
/** The spec once parsed: the schema's defaults filled. */
export type ParsedSpec = z.output<typeof databaseSpecSchema>;
export type PendingApproval = z.output<typeof pendingApprovalSchema>;
export type Condition = z.output<typeof conditionSchema>;
export type ParameterStatus = z.output<typeof parameterStatusSchema>;
export type DatabaseStatus = z.output<typeof databaseStatusSchema>;
