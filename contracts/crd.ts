// The Database and DatabaseClass CRDs, derived from the zod schemas of contracts/schema.ts and
// contracts/class-schema.ts: `npm run crd` writes them to deploy/crds/, and `npm run check`
// fails when a committed file differs. The apiserver
// wants a structural schema (every node typed, no $ref or anyOf, properties and
// additionalProperties never together): the conversion refuses what it cannot express so,
// rather than writing a CRD the apiserver would reject or read differently.
import { z } from 'zod';
import { CLASS_PRINTER_COLUMNS, databaseClassSpecSchema } from './class-schema.js';
import { API_GROUP, API_VERSION, CLASS_KIND, CLASS_PLURAL, KIND, PLURAL } from './database.js';
import { PRINTER_COLUMNS, databaseSpecSchema, databaseStatusSchema } from './schema.js';

export type JsonSchema = { [key: string]: unknown };

/** Keywords a structural schema may hold, in the order the generated YAML lists them. */
const KEYWORDS = [
  'type',
  'format',
  'required',
  'enum',
  'default',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'pattern',
  'minProperties',
  'maxProperties',
  'minItems',
  'maxItems',
  'description',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
  'properties',
  'additionalProperties',
  'items',
];

/** What zod writes for a plain integer: no bound a user ever meant. */
const SAFE_INTEGER_BOUNDS: JsonSchema = {
  minimum: Number.MIN_SAFE_INTEGER,
  maximum: Number.MAX_SAFE_INTEGER,
};

/** One node of zod's JSON Schema as a structural schema node; throws on what has no place. */
function structural(node: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || SAFE_INTEGER_BOUNDS[key] === value) continue;
    // NOTE: a structural schema may not pair additionalProperties with properties; the
    // apiserver prunes unknown fields instead (a strict zod object writes `false`)
    if (key === 'additionalProperties' && value === false) continue;
    if (!KEYWORDS.includes(key)) {
      throw new Error(`${path}: "${key}" has no place in a CRD's structural schema`);
    }
    out[key] = children(key, value, path);
  }
  if (typeof out['type'] !== 'string') throw new Error(`${path}: a structural schema needs a type`);
  return Object.fromEntries(KEYWORDS.filter((k) => k in out).map((k) => [k, out[k]]));
}

/** The value of one keyword, its nested schemas made structural too. */
function children(key: string, value: unknown, path: string): unknown {
  const nested = (v: unknown, at: string) => structural(v as JsonSchema, at);
  if (key === 'properties') {
    const props = Object.entries(value as Record<string, unknown>);
    return Object.fromEntries(props.map(([name, v]) => [name, nested(v, `${path}.${name}`)]));
  }
  if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
    return nested(value, `${path}[]`);
  }
  return value;
}

/** A zod schema as the CRD's structural schema of the field at `path` (e.g. `.spec`). */
export function structuralSchema(schema: z.ZodType, path: string): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    target: 'openapi-3.0',
    unrepresentable: 'throw',
  }) as JsonSchema;
  return structural(json, path);
}

/** The schemas the CRD is made of; the defaults are rdsflow's own (tests pass others). */
export interface CrdSources {
  readonly spec?: z.ZodType;
  readonly status?: z.ZodType;
}

/** What tells one of rdsflow's CRDs from another. */
interface CrdShape {
  readonly kind: string;
  readonly plural: string;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly shortNames: readonly string[];
  readonly printerColumns: readonly object[];
  readonly spec: z.ZodType;
  /** the status subresource's schema; none: the resource has no status */
  readonly status?: z.ZodType;
}

/** A CustomResourceDefinition of the rdsflow.io group, its schema made structural. */
function crdOf(shape: CrdShape): JsonSchema {
  const openAPIV3Schema = {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: structuralSchema(shape.spec, '.spec'),
      ...(shape.status ? { status: structuralSchema(shape.status, '.status') } : {}),
    },
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${shape.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      scope: shape.scope,
      names: {
        kind: shape.kind,
        listKind: `${shape.kind}List`,
        plural: shape.plural,
        singular: shape.kind.toLowerCase(),
        shortNames: shape.shortNames,
        categories: ['rdsflow'],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          ...(shape.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: shape.printerColumns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

/** The CustomResourceDefinition of `databases.rdsflow.io`, as deploy/crds/ holds it. */
export function databaseCrd(sources: CrdSources = {}): JsonSchema {
  return crdOf({
    kind: KIND,
    plural: PLURAL,
    scope: 'Namespaced',
    shortNames: ['rdsdb'],
    printerColumns: PRINTER_COLUMNS,
    spec: sources.spec ?? databaseSpecSchema,
    status: sources.status ?? databaseStatusSchema,
  });
}

/** The CustomResourceDefinition of the cluster-scoped `databaseclasses.rdsflow.io`. */
export function databaseClassCrd(): JsonSchema {
  return crdOf({
    kind: CLASS_KIND,
    plural: CLASS_PLURAL,
    scope: 'Cluster',
    shortNames: ['rdsclass'],
    printerColumns: CLASS_PRINTER_COLUMNS,
    spec: databaseClassSpecSchema,
  });
}
