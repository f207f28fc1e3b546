// Validates and munges a Database object into everything the workflow needs: defaults filled
// (the schema's, and CREATE_DEFAULTS for the instance settings a spec leaves out), names
// derived, every problem named at once. Pure: the validation activity and the watcher both
// call it, and it never throws on bad input. The schema itself is contracts/schema.ts.
import type { z } from 'zod';
import { CREATE_DEFAULTS, INSTANCE_SETTINGS, type DatabaseRef } from './database.js';
import type { DatabaseNames, InstanceOptions, ResolvedDatabase } from './resolved.js';
import { consulKeyPrefix, defaultDatabaseName, refProblem, vaultSecretPath } from './names.js';
import { databaseSpecSchema, type ParsedSpec } from './schema.js';
import { rdsIdentifier } from './identifier.js';
import { applyClass, targetOf, type ClassChoice } from './class.js';
import { databaseClassSpecSchema } from './class-schema.js';
import type { AwsTarget } from './resolved.js';

export {
  approvalOf,
  deletionPolicyOf,
  immutableChanges,
  type AwsTarget,
  mostProtective,
  type DatabaseNames,
  type InstanceOptions,
  type PerformanceInsights,
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

/** The spec as its class makes it (none: as written), where it lives, and what is wrong. */
function withClass(
  written: unknown,
  choice: ClassChoice,
): { spec: unknown; aws?: AwsTarget; problems: readonly string[] } {
  if (choice.problem !== undefined) return { spec: written, problems: [choice.problem] };
  const cls = choice.class;
  if (!cls) return { spec: written, problems: [] };
  const parsed = databaseClassSpecSchema.safeParse(cls.spec);
  if (!parsed.success) {
    const why = parsed.error.issues
      .map((issue) => `spec.${issue.path.map(String).join('.')}: ${issue.message}`)
      .join('; ');
    return {
      spec: written,
      problems: [`spec.className: DatabaseClass ${cls.name} is invalid (${why})`],
    };
  }
  const applied = applyClass(written, cls, parsed.data);
  return { spec: applied.spec, aws: targetOf(cls, parsed.data), problems: applied.problems };
}

/**
 * Validates and munges a Database object; every problem comes back, by field path. `choice`:
 * the DatabaseClass in effect (read by the caller: contracts/class.ts chooses), applied to the
 * spec as written before the schema parses it; none, the spec as written.
 */
export function resolveDatabase(object: unknown, choice: ClassChoice = {}): SpecResult {
  const loose = (typeof object === 'object' && object !== null ? object : {}) as LooseObject;
  const { ref, generation, refIssue, problems: identityProblems } = identityOf(loose);
  const classed = withClass(loose.spec, choice);
  const parsed = databaseSpecSchema.safeParse(classed.spec ?? undefined);
  const problems = [
    ...identityProblems,
    ...classed.problems,
    ...(parsed.success ? [] : specProblems(parsed.error)),
  ];
  if (problems.length > 0 || !parsed.success) {
    return {
      ok: false,
      problems: problems.length > 0 ? problems : ['spec: invalid'],
      ...(refIssue === undefined && ref.uid !== '' ? { names: namesFor(ref) } : {}),
    };
  }
  const written = typeof classed.spec === 'object' && classed.spec !== null ? classed.spec : {};
  const database = resolved(parsed.data, { ref, generation, written });
  return { ok: true, database: classed.aws ? { ...database, aws: classed.aws } : database };
}

/** A parsed spec with CREATE_DEFAULTS for the instance settings it leaves out, names derived. */
function resolved(
  spec: ParsedSpec,
  object: { readonly ref: DatabaseRef; readonly generation: number; readonly written: object },
): ResolvedDatabase {
  const { ref, generation, written } = object;
  return {
    generation,
    engine: spec.engine,
    ...(spec.engineVersion ? { engineVersion: spec.engineVersion } : {}),
    instanceClass: spec.instanceClass ?? CREATE_DEFAULTS.instanceClass,
    storageGiB: spec.storageGiB ?? CREATE_DEFAULTS.storageGiB,
    databaseName: spec.databaseName ?? defaultDatabaseName(spec.engine, ref.name),
    masterUsername: spec.masterUsername,
    multiAZ: spec.multiAZ ?? CREATE_DEFAULTS.multiAZ,
    deletionPolicy: spec.deletionPolicy,
    requireApproval: spec.requireApproval,
    adoptRetained: spec.adoptRetained,
    tags: spec.tags ?? {},
    ...instanceOptions(spec),
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(spec.parameterGroup ? { parameterGroup: spec.parameterGroup } : {}),
    ...(spec.source ? { source: { snapshot: spec.source.snapshot } } : {}),
    stated: INSTANCE_SETTINGS.filter((key) => key in written),
    ...namesFor(ref),
  };
}

/** The settings the spec states, and CREATE_DEFAULTS for the four that have one. */
function instanceOptions(spec: ParsedSpec): InstanceOptions {
  const stated = Object.entries(spec).filter(
    ([key, value]) => value !== undefined && (OPTIONAL_SETTINGS as readonly string[]).includes(key),
  );
  return {
    ...(Object.fromEntries(stated) as Partial<InstanceOptions>),
    publiclyAccessible: spec.publiclyAccessible ?? CREATE_DEFAULTS.publiclyAccessible,
    storageEncrypted: spec.storageEncrypted ?? CREATE_DEFAULTS.storageEncrypted,
    deletionProtection: spec.deletionProtection ?? CREATE_DEFAULTS.deletionProtection,
    copyTagsToSnapshot: spec.copyTagsToSnapshot ?? CREATE_DEFAULTS.copyTagsToSnapshot,
  };
}

/** Instance options without a create default: carried only when the spec states them. */
const OPTIONAL_SETTINGS = [
  'subnetGroup',
  'securityGroupIds',
  'storageType',
  'iops',
  'storageThroughput',
  'maxAllocatedStorage',
  'kmsKeyId',
  'backupRetentionDays',
  'backupWindow',
  'maintenanceWindow',
  'autoMinorVersionUpgrade',
  'iamDatabaseAuthentication',
  'performanceInsights',
  'caCertificate',
] as const satisfies readonly (keyof InstanceOptions)[];

/** Derived names of a sound identity (namespace a DNS label, name a DNS subdomain). */
export function namesFor(ref: DatabaseRef): DatabaseNames {
  return {
    ref,
    dbInstanceIdentifier: rdsIdentifier(ref.namespace, ref.name),
    vaultPath: vaultSecretPath(ref.namespace, ref.name),
    consulKey: consulKeyPrefix(ref.namespace, ref.name),
  };
}
