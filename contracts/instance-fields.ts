// The spec fields a production instance needs (network, storage, encryption, backups,
// maintenance, protection, monitoring), their rules across fields, and the CEL twins the CRD
// carries. Part of the Database schema (contracts/schema.ts spreads them in); heavy (zod), so
// the workflow bundle never imports it. The numbers are RDS's for postgres, mysql and mariadb
// (the RDS User Guide, "Amazon RDS DB instance storage"; CreateDBInstance reference).
import { z } from 'zod';
import { CREATE_DEFAULTS, ENGINES, STORAGE_TYPES } from './database.js';

/** What a spec that leaves an instance setting out means, in its description. */
export const unstated = (what: string): string =>
  `${what} for a new instance when omitted (an adopted instance keeps its own).`;
const rdsDefault = 'RDS chooses'; // the setting is not sent: RDS's own default applies

const flag = () => z.boolean({ error: 'must be true or false' });
const whole = (what: string) =>
  z.number({ error: `must be a whole number${what}` }).int(`must be a whole number${what}`);

/** gp3 below this size has a fixed baseline (3000 IOPS, 125 MiB/s) that cannot be set. */
export const GP3_PROVISIONED_FROM_GIB = 400;
const GP3_IOPS = { min: 12000, max: 64000 } as const;
const IO_MIN_GIB = 100;
/** IOPS per GiB of storage RDS allows: at least 0.5, at most 50 (io1) or 1000 (io2). */
const IOPS_PER_GIB_MAX = { io1: 50, io2: 1000 } as const;
/** gp3: at most 0.25 MiB/s of throughput per provisioned IOPS. */
const THROUGHPUT_PER_IOPS_MAX = 0.25;
const MAX_SECURITY_GROUPS = 5;
const MIN_WINDOW_MINUTES = 30;
const DAY = 1440;
const WEEK = 7 * DAY;
const DAYS = 'montuewedthufrisatsun';

const HHMM = '([01][0-9]|2[0-3]):[0-5][0-9]';
const DDD = '(mon|tue|wed|thu|fri|sat|sun)';
const BACKUP_WINDOW = new RegExp(`^${HHMM}-${HHMM}$`);
const MAINTENANCE_WINDOW = new RegExp(`^${DDD}:${HHMM}-${DDD}:${HHMM}$`);
const KMS_KEY =
  /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|(mrk-)?[0-9a-f-]{32,36})$/;

// --- windows: minutes of the day (backups) and of the week (maintenance), in TS and in CEL ---

const hm = (s: string, at: number) =>
  Number(s.slice(at, at + 2)) * 60 + Number(s.slice(at + 3, at + 5));
const dhm = (s: string, at: number) =>
  (DAYS.indexOf(s.slice(at, at + 3)) / 3) * DAY + hm(s, at + 4);
const celHm = (s: string, at: number) =>
  `(int(${s}.substring(${at}, ${at + 2})) * 60 + int(${s}.substring(${at + 3}, ${at + 5})))`;
const celDhm = (s: string, at: number) =>
  `('${DAYS}'.indexOf(${s}.substring(${at}, ${at + 3})) / 3 * ${DAY} + ${celHm(s, at + 4)})`;

/** A window's start and length in minutes ("hh:mm-hh:mm" a day, "ddd:hh:mm-..." a week). */
function backupSpan(w: string): { start: number; length: number } {
  const start = hm(w, 0);
  return { start, length: (hm(w, 6) - start + DAY) % DAY };
}
function maintenanceSpan(w: string): { start: number; length: number } {
  const start = dhm(w, 0);
  return { start, length: (dhm(w, 10) - start + WEEK) % WEEK };
}
const celBackupLength = (s: string) => `((${celHm(s, 6)} - ${celHm(s, 0)} + ${DAY}) % ${DAY})`;
const celMaintenanceLength = (s: string) =>
  `((${celDhm(s, 10)} - ${celDhm(s, 0)} + ${WEEK}) % ${WEEK})`;

/**
 * The daily backup window meets the weekly maintenance window: on a 24-hour circle, one starts
 * inside the other (the backup runs every day, so the maintenance day does not matter).
 */
function windowsOverlap(backup: string, maintenance: string): boolean {
  const b = backupSpan(backup);
  const m = maintenanceSpan(maintenance);
  const mStart = m.start % DAY;
  return (mStart - b.start + DAY) % DAY < b.length || (b.start - mStart + DAY) % DAY < m.length;
}
const celOverlap = (b: string, m: string) => {
  const bStart = celHm(b, 0);
  const mStart = `(${celDhm(m, 0)} % ${DAY})`;
  return (
    `((${mStart} - ${bStart} + ${DAY}) % ${DAY} < ${celBackupLength(b)} || ` +
    `(${bStart} - ${mStart} + ${DAY}) % ${DAY} < ${celMaintenanceLength(m)})`
  );
};

interface WindowShape {
  readonly pattern: RegExp;
  readonly max: number;
  readonly example: string;
  /** its length in minutes, in TS and in CEL */
  readonly length: (w: string) => number;
  readonly celLength: string;
}

const window = (shape: WindowShape, description: string) =>
  z
    .string()
    .max(shape.max, `must look like ${shape.example}`)
    .regex(shape.pattern, `must look like ${shape.example} (UTC)`)
    .meta({
      description,
      'x-kubernetes-validations': [
        {
          rule: `!self.matches('${shape.pattern.source}') || ${shape.celLength} >= ${MIN_WINDOW_MINUTES}`,
          message: `must be at least ${MIN_WINDOW_MINUTES} minutes`,
        },
      ],
    })
    .refine((w) => !shape.pattern.test(w) || shape.length(w) >= MIN_WINDOW_MINUTES, {
      message: `must be at least ${MIN_WINDOW_MINUTES} minutes`,
    });

const kmsKey = (description: string) =>
  z
    .string()
    .max(2048, 'must be at most 2048 characters')
    .regex(KMS_KEY, 'must be a KMS key ARN, key ID, alias/<name> or alias ARN')
    .meta({ description });

/** performanceInsights.retentionDays: 7, a multiple of 31 up to 23 months, or 731. */
const retentionOk = (d: number) => d === 7 || d === 731 || (d % 31 === 0 && d >= 31 && d <= 713);

const performanceInsightsSchema = z
  .object(
    {
      enabled: flag().meta({ description: 'Turns Performance Insights on or off.' }),
      retentionDays: whole(' of days')
        .min(7, 'must be 7, 31 to 713 in steps of 31, or 731')
        .max(731, 'must be 7, 31 to 713 in steps of 31, or 731')
        .meta({
          description: 'Days Performance Insights keeps its data: 7, 31×n (n 1 to 23) or 731.',
          'x-kubernetes-validations': [
            {
              rule: 'self == 7 || self == 731 || (self % 31 == 0 && self >= 31 && self <= 713)',
              message: 'must be 7, 31 to 713 in steps of 31, or 731',
            },
          ],
        })
        .refine(retentionOk, 'must be 7, 31 to 713 in steps of 31, or 731')
        .optional(),
      kmsKeyId: kmsKey('KMS key that encrypts Performance Insights data.').optional(),
    },
    { error: 'must be an object with enabled (true or false)' },
  )
  .strict()
  .meta({
    description: `Performance Insights; ${rdsDefault} (off) when omitted.`,
    'x-kubernetes-validations': [
      {
        rule: 'self.enabled || (!has(self.retentionDays) && !has(self.kmsKeyId))',
        message: 'retentionDays and kmsKeyId need enabled: true',
      },
    ],
  })
  .superRefine((pi, ctx) => {
    if (pi.enabled) return;
    for (const key of ['retentionDays', 'kmsKeyId'] as const) {
      if (pi[key] !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'needs enabled: true' });
    }
  });

/** The fields, flat in the spec beside the others (every one optional: see INSTANCE_SETTINGS). */
export const instanceFields = {
  subnetGroup: z
    .string()
    .min(1, 'must not be empty')
    .max(255, 'must be at most 255 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'must be a DB subnet group name')
    .meta({
      description: `DB subnet group (the VPC and subnets) the instance is placed in; ${unstated(`the default VPC's`)}`,
    })
    .optional(),
  securityGroupIds: z
    .array(
      z.string().regex(/^sg-([0-9a-f]{8}|[0-9a-f]{17})$/, 'must look like sg-0123456789abcdef0'),
    )
    .max(MAX_SECURITY_GROUPS, `at most ${MAX_SECURITY_GROUPS} security groups`)
    .meta({
      description: `VPC security groups of the instance; ${unstated(`the VPC's default group`)}`,
      'x-kubernetes-list-type': 'set',
    })
    .refine((ids) => new Set(ids).size === ids.length, 'must not name a security group twice')
    .optional(),
  publiclyAccessible: flag()
    .meta({
      description: `Whether the instance gets a public address; ${unstated(`${CREATE_DEFAULTS.publiclyAccessible}`)}`,
    })
    .optional(),
  storageType: z
    .enum(STORAGE_TYPES, { error: `must be one of ${STORAGE_TYPES.join(', ')}` })
    .meta({ description: `Storage type; ${unstated(`${rdsDefault} (gp2 or gp3)`)}` })
    .optional(),
  iops: whole('')
    .min(1000, 'must be at least 1000')
    .max(256000, 'must be at most 256000')
    .meta({
      description: `Provisioned IOPS: required for io1 and io2, for gp3 only from ${GP3_PROVISIONED_FROM_GIB} GiB (${GP3_IOPS.min}-${GP3_IOPS.max}), never for gp2 or standard.`,
    })
    .optional(),
  storageThroughput: whole(' of MiB/s')
    .min(500, 'must be at least 500')
    .max(4000, 'must be at most 4000')
    .meta({
      description: `Storage throughput in MiB/s: gp3 only, from ${GP3_PROVISIONED_FROM_GIB} GiB.`,
    })
    .optional(),
  maxAllocatedStorage: whole(' of GiB')
    .min(21, 'must be at least 21')
    .max(65536, 'must be at most 65536')
    .meta({
      description: `Ceiling in GiB for storage autoscaling, above storageGiB; ${unstated(`${rdsDefault} (no autoscaling)`)}`,
    })
    .optional(),
  storageEncrypted: flag()
    .meta({
      description: `Encrypt the storage (cannot change after creation); ${unstated(`${CREATE_DEFAULTS.storageEncrypted}`)}`,
    })
    .optional(),
  kmsKeyId: kmsKey(
    "KMS key that encrypts the storage (cannot change after creation); RDS's aws/rds key when omitted.",
  ).optional(),
  backupRetentionDays: whole(' of days')
    .min(0, 'must be 0 to 35')
    .max(35, 'must be 0 to 35')
    .meta({
      description: `Days automated backups are kept (0 turns them off); ${unstated(`${rdsDefault} (1 day)`)}`,
    })
    .optional(),
  backupWindow: window(
    {
      pattern: BACKUP_WINDOW,
      max: 11,
      example: '03:00-03:30',
      length: (w) => backupSpan(w).length,
      celLength: celBackupLength('self'),
    },
    `Daily backup window "hh:mm-hh:mm" in UTC, at least ${MIN_WINDOW_MINUTES} minutes, not overlapping maintenanceWindow; ${unstated(rdsDefault)}`,
  ).optional(),
  maintenanceWindow: window(
    {
      pattern: MAINTENANCE_WINDOW,
      max: 19,
      example: 'sun:05:00-sun:05:30',
      length: (w) => maintenanceSpan(w).length,
      celLength: celMaintenanceLength('self'),
    },
    `Weekly maintenance window "ddd:hh:mm-ddd:hh:mm" in UTC, at least ${MIN_WINDOW_MINUTES} minutes; ${unstated(rdsDefault)}`,
  ).optional(),
  deletionProtection: flag()
    .meta({
      description: `RDS refuses to delete the instance while on; rdsflow lifts it itself only when the Database is deleted under deletionPolicy Snapshot or Delete. ${unstated(`${CREATE_DEFAULTS.deletionProtection}`)}`,
    })
    .optional(),
  autoMinorVersionUpgrade: flag()
    .meta({
      description: `Apply minor engine upgrades in the maintenance window; ${unstated(`${rdsDefault} (true)`)}`,
    })
    .optional(),
  copyTagsToSnapshot: flag()
    .meta({
      description: `Copy the instance's tags to its snapshots; ${unstated(`${CREATE_DEFAULTS.copyTagsToSnapshot}`)}`,
    })
    .optional(),
  iamDatabaseAuthentication: flag()
    .meta({
      description: `Allow IAM database authentication; ${unstated(`${rdsDefault} (false)`)}`,
    })
    .optional(),
  performanceInsights: performanceInsightsSchema.optional(),
  caCertificate: z
    .string()
    .max(64, 'must be at most 64 characters')
    .regex(/^rds-ca-[a-z0-9]+(-[a-z0-9]+)*$/, 'must look like rds-ca-rsa2048-g1')
    .meta({
      description: `CA certificate of the server's TLS certificate; ${unstated(rdsDefault)}`,
    })
    .optional(),
};

/** The part of a spec the rules across fields read. */
export interface InstanceFieldValues {
  readonly storageGiB?: number | undefined;
  readonly storageType?: (typeof STORAGE_TYPES)[number] | undefined;
  readonly iops?: number | undefined;
  readonly storageThroughput?: number | undefined;
  readonly maxAllocatedStorage?: number | undefined;
  readonly storageEncrypted?: boolean | undefined;
  readonly kmsKeyId?: string | undefined;
  readonly backupWindow?: string | undefined;
  readonly maintenanceWindow?: string | undefined;
}

interface CrossRule {
  /** the field the problem is named by */
  readonly field: keyof InstanceFieldValues;
  readonly rule: string;
  readonly message: string;
  /** the zod twin: true when the spec breaks the rule */
  readonly broken: (s: InstanceFieldValues) => boolean;
}

const isIo = (s: InstanceFieldValues) => s.storageType === 'io1' || s.storageType === 'io2';
const gp3Small = (s: InstanceFieldValues) =>
  s.storageType === 'gp3' && (s.storageGiB ?? 0) < GP3_PROVISIONED_FROM_GIB;
const ratioMax = (s: InstanceFieldValues) =>
  s.storageType === 'io2' ? IOPS_PER_GIB_MAX.io2 : IOPS_PER_GIB_MAX.io1;

/** Rules across fields; each names one field, so every problem is named at once. */
const CROSS_RULES: readonly CrossRule[] = [
  {
    field: 'iops',
    rule: "has(self.iops) || !has(self.storageType) || (self.storageType != 'io1' && self.storageType != 'io2')",
    message: 'iops is required for storageType io1 and io2',
    broken: (s) => isIo(s) && s.iops === undefined,
  },
  {
    field: 'iops',
    rule: "!has(self.iops) || (has(self.storageType) && self.storageType in ['io1', 'io2', 'gp3'])",
    message: 'iops needs storageType io1, io2 or gp3',
    broken: (s) => s.iops !== undefined && !['io1', 'io2', 'gp3'].includes(s.storageType ?? ''),
  },
  {
    field: 'storageGiB',
    rule: `!has(self.storageType) || (self.storageType != 'io1' && self.storageType != 'io2') || (has(self.storageGiB) && self.storageGiB >= ${IO_MIN_GIB})`,
    message: `storageGiB of at least ${IO_MIN_GIB} is required for storageType io1 and io2`,
    broken: (s) => isIo(s) && (s.storageGiB ?? 0) < IO_MIN_GIB,
  },
  {
    field: 'iops',
    rule: `!has(self.iops) || !has(self.storageGiB) || !has(self.storageType) || (self.storageType != 'io1' && self.storageType != 'io2') || (self.iops * 2 >= self.storageGiB && self.iops <= self.storageGiB * (self.storageType == 'io2' ? ${IOPS_PER_GIB_MAX.io2} : ${IOPS_PER_GIB_MAX.io1}))`,
    message: `iops must be 0.5 to ${IOPS_PER_GIB_MAX.io1} (io1) or ${IOPS_PER_GIB_MAX.io2} (io2) times storageGiB`,
    broken: (s) =>
      isIo(s) &&
      s.iops !== undefined &&
      s.storageGiB !== undefined &&
      (s.iops * 2 < s.storageGiB || s.iops > s.storageGiB * ratioMax(s)),
  },
  {
    field: 'storageThroughput',
    rule: "!has(self.storageThroughput) || (has(self.storageType) && self.storageType == 'gp3')",
    message: 'storageThroughput needs storageType gp3',
    broken: (s) => s.storageThroughput !== undefined && s.storageType !== 'gp3',
  },
  {
    field: 'iops',
    rule: `!has(self.iops) || !has(self.storageType) || self.storageType != 'gp3' || (has(self.storageGiB) && self.storageGiB >= ${GP3_PROVISIONED_FROM_GIB})`,
    message: `gp3 below ${GP3_PROVISIONED_FROM_GIB} GiB has a fixed 3000 IOPS: set storageGiB to at least ${GP3_PROVISIONED_FROM_GIB} to provision iops`,
    broken: (s) => s.iops !== undefined && gp3Small(s),
  },
  {
    field: 'storageThroughput',
    rule: `!has(self.storageThroughput) || !has(self.storageType) || self.storageType != 'gp3' || (has(self.storageGiB) && self.storageGiB >= ${GP3_PROVISIONED_FROM_GIB})`,
    message: `gp3 below ${GP3_PROVISIONED_FROM_GIB} GiB has a fixed 125 MiB/s: set storageGiB to at least ${GP3_PROVISIONED_FROM_GIB} to provision storageThroughput`,
    broken: (s) => s.storageThroughput !== undefined && gp3Small(s),
  },
  {
    field: 'iops',
    rule: `!has(self.iops) || !has(self.storageType) || self.storageType != 'gp3' || (self.iops >= ${GP3_IOPS.min} && self.iops <= ${GP3_IOPS.max})`,
    message: `iops for gp3 must be ${GP3_IOPS.min} to ${GP3_IOPS.max}`,
    broken: (s) =>
      s.storageType === 'gp3' &&
      s.iops !== undefined &&
      (s.iops < GP3_IOPS.min || s.iops > GP3_IOPS.max),
  },
  {
    field: 'storageThroughput',
    rule: `!has(self.storageThroughput) || !has(self.iops) || self.storageThroughput * 4 <= self.iops`,
    message: `storageThroughput must be at most ${THROUGHPUT_PER_IOPS_MAX} MiB/s per provisioned IOPS`,
    broken: (s) =>
      s.storageThroughput !== undefined &&
      s.iops !== undefined &&
      s.storageThroughput > s.iops * THROUGHPUT_PER_IOPS_MAX,
  },
  {
    field: 'maxAllocatedStorage',
    rule: '!has(self.maxAllocatedStorage) || !has(self.storageGiB) || self.maxAllocatedStorage > self.storageGiB',
    message: 'maxAllocatedStorage must be greater than storageGiB',
    broken: (s) =>
      s.maxAllocatedStorage !== undefined &&
      s.storageGiB !== undefined &&
      s.maxAllocatedStorage <= s.storageGiB,
  },
  {
    field: 'kmsKeyId',
    rule: '!has(self.kmsKeyId) || !has(self.storageEncrypted) || self.storageEncrypted',
    message: 'kmsKeyId needs storageEncrypted (not false)',
    broken: (s) => s.kmsKeyId !== undefined && s.storageEncrypted === false,
  },
  {
    field: 'backupWindow',
    rule: `!has(self.backupWindow) || !has(self.maintenanceWindow) || !self.backupWindow.matches('${BACKUP_WINDOW.source}') || !self.maintenanceWindow.matches('${MAINTENANCE_WINDOW.source}') || !${celOverlap('self.backupWindow', 'self.maintenanceWindow')}`,
    message: 'backupWindow must not overlap maintenanceWindow',
    broken: (s) =>
      s.backupWindow !== undefined &&
      s.maintenanceWindow !== undefined &&
      BACKUP_WINDOW.test(s.backupWindow) &&
      MAINTENANCE_WINDOW.test(s.maintenanceWindow) &&
      windowsOverlap(s.backupWindow, s.maintenanceWindow),
  },
];

/**
 * Fields RDS cannot change after creation. The CRD refuses a change, an addition or a removal
 * of each (a transition rule on the spec); contracts/resolved.ts immutableChanges is its twin.
 */
export const IMMUTABLE_FIELDS = [
  'engine',
  'databaseName',
  'masterUsername',
  'storageEncrypted',
  'kmsKeyId',
] as const;

/**
 * NOTE: an engine no schema ever allowed (stored under a looser CRD before an upgrade) never
 * created anything: it may still be corrected.
 */
const ENGINE_LIST = `[${ENGINES.map((e) => `'${e}'`).join(', ')}]`;

/** The CEL rules of the spec object this part adds: across fields, and after creation. */
export const instanceRules: readonly Record<string, string>[] = [
  ...CROSS_RULES.map(({ field, rule, message }) => ({ rule, message, fieldPath: `.${field}` })),
  ...IMMUTABLE_FIELDS.map((field) => ({
    rule: `${field === 'engine' ? `!(oldSelf.engine in ${ENGINE_LIST}) || ` : ''}has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
    message: `${field} cannot be changed, added or removed after creation (RDS cannot change it)`,
    fieldPath: `.${field}`,
  })),
];

/** The zod twins of the rules across fields: every broken rule, by its field. */
export function instanceProblems(spec: InstanceFieldValues, ctx: z.RefinementCtx): void {
  for (const { field, message, broken } of CROSS_RULES) {
    if (broken(spec)) ctx.addIssue({ code: 'custom', path: [field], message });
  }
}
