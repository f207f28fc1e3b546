// Validates and munges a Database object into everything the workflow needs: defaults filled,
// names derived, every problem named at once. Pure: the validation activity and the watcher
// both call it, and it never throws on bad input.
import { z } from 'zod';
import { DELETION_POLICIES, ENGINES, type DatabaseRef } from './database.js';
import { INSTANCE_SETTINGS, type DatabaseNames, type ResolvedDatabase } from './resolved.js';
import {
  consulKeyPrefix,
  defaultDatabaseName,
  isReservedDatabaseName,
  refProblem,
  vaultSecretPath,
} from './names.js';
import { rdsIdentifier } from './identifier.js';

export {
  approvalOf,
  deletionPolicyOf,
  immutableChanges,
  mostProtective,
  type DatabaseNames,
  type ResolvedDatabase,
} from './resolved.js';

export type SpecResult =
  | { readonly ok: true; readonly database: ResolvedDatabase }
  | {
      readonly ok: false;
      readonly problems: readonly string[];
      /** present when the identity is sound, so cleanup can still find what exists */
      readonly names?: DatabaseNames;
    };

const RESERVED_USERNAMES = [
  'rdsadmin',
  'rdsrepladmin',
  'rds_superuser',
  'rdsproxyadmin',
  'rdstopmgr',
];
// RDS tag rules: Unicode letters, digits, white space and _ . : / = + - @
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

const identifier = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(
      /^[A-Za-z][A-Za-z0-9_]*$/,
      'must start with a letter and hold only letters, digits and _',
    );

const specSchema = z
  .object(
    {
      engine: z.enum(ENGINES, { error: `must be one of ${ENGINES.join(', ')}` }),
      engineVersion: z
        .string()
        .max(32, 'must be at most 32 characters')
        .regex(/^[0-9]+(\.[0-9A-Za-z-]+)*$/, 'must look like 16.4 or 8.0.35')
        .optional(),
      instanceClass: z
        .string()
        .max(64, 'must be at most 64 characters')
        .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'must look like db.t3.micro')
        .default('db.t3.micro'),
      storageGiB: z
        .number({ error: 'must be a whole number of GiB' })
        .int('must be a whole number of GiB')
        .min(20, 'must be at least 20')
        .max(65536, 'must be at most 65536')
        .default(20),
      databaseName: identifier(63).optional(),
      masterUsername: identifier(63).default('app'),
      multiAZ: z.boolean({ error: 'must be true or false' }).default(false),
      deletionPolicy: z
        .enum(DELETION_POLICIES, { error: `must be one of ${DELETION_POLICIES.join(', ')}` })
        .default('Snapshot'),
      requireApproval: z.boolean({ error: 'must be true or false' }).default(false),
      adoptRetained: z.boolean({ error: 'must be true or false' }).default(false),
      tags: z
        .record(z.string(), z.string({ error: 'tag values must be strings' }))
        .default({})
        .superRefine((tags, ctx) => {
          const keys = Object.keys(tags);
          if (keys.length > 40) ctx.addIssue({ code: 'custom', message: 'at most 40 tags' });
          for (const key of keys) {
            const value = tags[key] ?? '';
            const bad =
              tagKeyProblem(key) ??
              (value.length > 256 || !TAG_TEXT.test(value) ? 'has an invalid value' : undefined);
            if (bad) ctx.addIssue({ code: 'custom', path: [key], message: bad });
          }
        }),
    },
    {
      error: (issue) =>
        issue.input === undefined
          ? 'is missing: a Database needs at least spec.engine'
          : 'must be an object',
    },
  )
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.engine !== 'postgres' && spec.masterUsername.length > 16) {
      ctx.addIssue({
        code: 'custom',
        path: ['masterUsername'],
        message: `must be at most 16 characters for ${spec.engine}`,
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
  });

function tagKeyProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > 128) return 'tag keys are 1 to 128 characters';
  if (/^aws:/i.test(key)) return 'tag keys may not start with aws:';
  if (key.startsWith('rdsflow.io/')) return "tag keys starting with rdsflow.io/ are rdsflow's own";
  if (!TAG_TEXT.test(key)) return 'tag keys hold only letters, digits, spaces and _ . : / = + - @';
  return undefined;
}

/** The unknown shape that arrives from a watch event or a workflow input. */
interface LooseObject {
  metadata?: { namespace?: unknown; name?: unknown; uid?: unknown; generation?: unknown };
  spec?: unknown;
}

interface Identity {
  readonly ref: DatabaseRef;
  readonly generation: number;
  /** why the namespace/name cannot name anything, if so */
  readonly refIssue: string | undefined;
  readonly problems: readonly string[];
}

/** The object's identity as far as it is sound, and what is wrong with it. */
function identityOf(loose: LooseObject): Identity {
  const meta = loose.metadata ?? {};
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  const ref = { namespace: text(meta.namespace), name: text(meta.name), uid: text(meta.uid) };
  const refIssue = refProblem(ref.namespace, ref.name);
  const uidIssue = /^[0-9a-zA-Z-]{1,64}$/.test(ref.uid)
    ? undefined
    : 'metadata.uid: missing or malformed';
  const generation =
    typeof meta.generation === 'number' && Number.isInteger(meta.generation) ? meta.generation : 0;
  const problems = [refIssue, uidIssue].filter((p): p is string => p !== undefined);
  return { ref, generation, refIssue, problems };
}

/** Every problem of a spec that did not parse, by field path. */
function specProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = ['spec', ...issue.path.map(String)].join('.');
    const what =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.join(', ')}`
        : issue.message;
    return `${path}: ${what}`;
  });
}

/** Validates and munges a Database object; every problem comes back, by field path. */
export function resolveDatabase(object: unknown): SpecResult {
  const loose = (typeof object === 'object' && object !== null ? object : {}) as LooseObject;
  const { ref, generation, refIssue, problems: identityProblems } = identityOf(loose);
  const parsed = specSchema.safeParse(loose.spec ?? undefined);
  const problems = [...identityProblems, ...(parsed.success ? [] : specProblems(parsed.error))];
  if (problems.length > 0 || !parsed.success) {
    return {
      ok: false,
      problems: problems.length > 0 ? problems : ['spec: invalid'],
      ...(refIssue === undefined && ref.uid !== '' ? { names: namesFor(ref) } : {}),
    };
  }
  const spec = parsed.data;
  const written = typeof loose.spec === 'object' && loose.spec !== null ? loose.spec : {};
  return {
    ok: true,
    database: {
      generation,
      engine: spec.engine,
      ...(spec.engineVersion ? { engineVersion: spec.engineVersion } : {}),
      instanceClass: spec.instanceClass,
      storageGiB: spec.storageGiB,
      databaseName: spec.databaseName ?? defaultDatabaseName(spec.engine, ref.name),
      masterUsername: spec.masterUsername,
      multiAZ: spec.multiAZ,
      deletionPolicy: spec.deletionPolicy,
      requireApproval: spec.requireApproval,
      adoptRetained: spec.adoptRetained,
      tags: spec.tags,
      stated: INSTANCE_SETTINGS.filter((key) => key in written),
      ...namesFor(ref),
    },
  };
}

/** Derived names of a sound identity (namespace a DNS label, name a DNS subdomain). */
export function namesFor(ref: DatabaseRef): DatabaseNames {
  return {
    ref,
    dbInstanceIdentifier: rdsIdentifier(ref.namespace, ref.name),
    vaultPath: vaultSecretPath(ref.namespace, ref.name),
    consulKey: consulKeyPrefix(ref.namespace, ref.name),
  };
}
