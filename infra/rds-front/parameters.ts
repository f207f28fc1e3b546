// The parameters of each parameter group family as RDS describes them (moto knows none): name,
// whether a change applies at once (dynamic) or at the next reboot (static), type, allowed
// values, the engine default and whether a group may change it. A realistic subset written from
// the RDS and engine documentation, not the whole list: enough that a name RDS does not know is
// refused, a static one waits for a reboot, and a value out of range is named.
import { ENGINES } from './engines.js';

export interface ParameterSpec {
  readonly name: string;
  readonly applyType: 'static' | 'dynamic';
  readonly dataType: 'integer' | 'boolean' | 'string' | 'float' | 'list';
  /** as RDS writes them: a range `1-100`, or the values `ROW,STATEMENT,MIXED`; absent: any */
  readonly allowed?: string;
  /** the engine default RDS shows (a formula over the instance class at times); absent: none */
  readonly value?: string;
  /** false: set by RDS itself (Source `system`), no group may change it */
  readonly modifiable?: false;
  readonly description: string;
}

const BOOL = { dataType: 'boolean', allowed: '0,1' } as const;
const INT = 'integer';
const BIG = '2147483647';

const POSTGRES: readonly ParameterSpec[] = [
  {
    name: 'max_connections',
    applyType: 'static',
    dataType: INT,
    allowed: '6-8388607',
    value: 'LEAST({DBInstanceClassMemory/9531392},5000)',
    description: 'Sets the maximum number of concurrent connections.',
  },
  {
    name: 'shared_buffers',
    applyType: 'static',
    dataType: INT,
    allowed: `16-1073741823`,
    value: '{DBInstanceClassMemory/32768}',
    description: 'Sets the number of shared memory buffers used by the server (8kB units).',
  },
  {
    name: 'work_mem',
    applyType: 'dynamic',
    dataType: INT,
    allowed: `64-${BIG}`,
    description: 'Sets the maximum memory to be used for query workspaces (kB).',
  },
  {
    name: 'maintenance_work_mem',
    applyType: 'dynamic',
    dataType: INT,
    allowed: `1024-${BIG}`,
    value: 'GREATEST({DBInstanceClassMemory*1024/63963136},65536)',
    description: 'Sets the maximum memory to be used for maintenance operations (kB).',
  },
  {
    name: 'effective_cache_size',
    applyType: 'dynamic',
    dataType: INT,
    allowed: `1-${BIG}`,
    value: '{DBInstanceClassMemory/16384}',
    description: "Sets the planner's assumption about the size of the disk cache (8kB units).",
  },
  {
    name: 'log_min_duration_statement',
    applyType: 'dynamic',
    dataType: INT,
    allowed: `-1-${BIG}`,
    description: 'Sets the minimum execution time above which statements will be logged (ms).',
  },
  {
    name: 'log_statement',
    applyType: 'dynamic',
    dataType: 'string',
    allowed: 'none,ddl,mod,all',
    description: 'Sets the type of statements logged.',
  },
  {
    name: 'statement_timeout',
    applyType: 'dynamic',
    dataType: INT,
    allowed: `0-${BIG}`,
    description: 'Sets the maximum allowed duration of any statement (ms).',
  },
  {
    name: 'idle_in_transaction_session_timeout',
    applyType: 'dynamic',
    dataType: INT,
    allowed: `0-${BIG}`,
    value: '86400000',
    description: 'Sets the maximum allowed duration of any idling transaction (ms).',
  },
  {
    name: 'random_page_cost',
    applyType: 'dynamic',
    dataType: 'float',
    allowed: '0-2147483647',
    description: "Sets the planner's estimate of the cost of a nonsequentially fetched disk page.",
  },
  {
    name: 'timezone',
    applyType: 'dynamic',
    dataType: 'string',
    value: 'UTC',
    description: 'Sets the time zone for displaying and interpreting time stamps.',
  },
  {
    name: 'autovacuum',
    applyType: 'dynamic',
    ...BOOL,
    value: '1',
    description: 'Starts the autovacuum subprocess.',
  },
  {
    name: 'max_wal_size',
    applyType: 'dynamic',
    dataType: INT,
    allowed: `2-${BIG}`,
    value: '2048',
    description: 'Sets the WAL size that triggers a checkpoint (MB).',
  },
  {
    name: 'rds.force_ssl',
    applyType: 'dynamic',
    ...BOOL,
    value: '1',
    description: 'Force SSL connections.',
  },
  {
    name: 'rds.logical_replication',
    applyType: 'static',
    ...BOOL,
    value: '0',
    description: 'Enables logical decoding.',
  },
  {
    name: 'shared_preload_libraries',
    applyType: 'static',
    dataType: 'list',
    allowed:
      'auto_explain,orafce,pg_cron,pg_hint_plan,pg_prewarm,pg_similarity,pg_stat_statements,pglogical,pgaudit',
    value: 'pg_stat_statements',
    description: 'Lists shared libraries to preload into server.',
  },
  {
    name: 'max_worker_processes',
    applyType: 'static',
    dataType: INT,
    allowed: '0-262143',
    value: 'GREATEST({DBInstanceVCPU*2},8)',
    description: 'Maximum number of concurrent worker processes.',
  },
  {
    name: 'track_activity_query_size',
    applyType: 'static',
    dataType: INT,
    allowed: '100-1048576',
    value: '4096',
    description: 'Sets the size reserved for pg_stat_activity.query (bytes).',
  },
  {
    name: 'port',
    applyType: 'static',
    dataType: INT,
    allowed: '1-65535',
    value: '{EndPointPort}',
    modifiable: false,
    description: 'Sets the TCP port the server listens on.',
  },
  {
    name: 'data_directory',
    applyType: 'static',
    dataType: 'string',
    value: '/rdsdbdata/db',
    modifiable: false,
    description: "Sets the server's data directory.",
  },
];

/** What MySQL and MariaDB share (RDS's groups for both carry these under the same names). */
const MYSQL_COMMON: readonly ParameterSpec[] = [
  {
    name: 'max_connections',
    applyType: 'dynamic',
    dataType: INT,
    allowed: '1-100000',
    value: '{DBInstanceClassMemory/12582880}',
    description: 'The number of simultaneous client connections allowed.',
  },
  {
    name: 'innodb_buffer_pool_size',
    applyType: 'static',
    dataType: INT,
    allowed: '5242880-18446744073709551615',
    value: '{DBInstanceClassMemory*3/4}',
    description:
      'The size in bytes of the memory buffer innodb uses to cache data and indexes of its tables.',
  },
  {
    name: 'innodb_log_buffer_size',
    applyType: 'static',
    dataType: INT,
    allowed: '262144-4294967295',
    description:
      'The size in bytes of the buffer that InnoDB uses to write to the log files on disk.',
  },
  {
    name: 'innodb_flush_log_at_trx_commit',
    applyType: 'dynamic',
    dataType: INT,
    allowed: '0,1,2',
    value: '1',
    description: 'Determines Innodb transaction durability.',
  },
  {
    name: 'innodb_file_per_table',
    applyType: 'dynamic',
    ...BOOL,
    value: '1',
    description: 'Use tablespaces or files for Innodb.',
  },
  {
    name: 'max_allowed_packet',
    applyType: 'dynamic',
    dataType: INT,
    allowed: '1024-1073741824',
    description: 'The maximum size of one packet or any generated or intermediate string.',
  },
  {
    name: 'wait_timeout',
    applyType: 'dynamic',
    dataType: INT,
    allowed: '1-31536000',
    description:
      'The number of seconds the server waits for activity on a noninteractive connection before closing it.',
  },
  {
    name: 'interactive_timeout',
    applyType: 'dynamic',
    dataType: INT,
    allowed: '1-31536000',
    description:
      'The number of seconds the server waits for activity on an interactive connection before closing it.',
  },
  {
    name: 'slow_query_log',
    applyType: 'dynamic',
    ...BOOL,
    description: 'Enable or disable the slow query log.',
  },
  {
    name: 'long_query_time',
    applyType: 'dynamic',
    dataType: 'float',
    allowed: '0-31536000',
    description: 'Defines what MySQL considers long queries (seconds).',
  },
  {
    name: 'sql_mode',
    applyType: 'dynamic',
    dataType: 'list',
    allowed:
      'ALLOW_INVALID_DATES,ANSI_QUOTES,ERROR_FOR_DIVISION_BY_ZERO,HIGH_NOT_PRECEDENCE,IGNORE_SPACE,NO_AUTO_VALUE_ON_ZERO,NO_BACKSLASH_ESCAPES,NO_ENGINE_SUBSTITUTION,NO_UNSIGNED_SUBTRACTION,NO_ZERO_DATE,NO_ZERO_IN_DATE,ONLY_FULL_GROUP_BY,PAD_CHAR_TO_FULL_LENGTH,PIPES_AS_CONCAT,REAL_AS_FLOAT,STRICT_ALL_TABLES,STRICT_TRANS_TABLES,TIME_TRUNCATE_FRACTIONAL,ANSI,TRADITIONAL',
    description: 'Current SQL Server Mode.',
  },
  {
    name: 'time_zone',
    applyType: 'dynamic',
    dataType: 'string',
    description: 'The server time zone.',
  },
  {
    name: 'character_set_server',
    applyType: 'dynamic',
    dataType: 'string',
    allowed:
      'big5,dec8,cp850,hp8,koi8r,latin1,latin2,swe7,ascii,ujis,sjis,hebrew,tis620,euckr,koi8u,gb2312,greek,cp1250,gbk,latin5,armscii8,utf8,ucs2,cp866,keybcs2,macce,macroman,cp852,latin7,utf8mb4,cp1251,utf16,cp1256,cp1257,utf32,binary,geostd8,cp932,eucjpms',
    description: 'The server default character set.',
  },
  {
    name: 'binlog_format',
    applyType: 'dynamic',
    dataType: 'string',
    allowed: 'ROW,STATEMENT,MIXED',
    value: 'ROW',
    description: 'Sets the binary logging format.',
  },
  {
    name: 'require_secure_transport',
    applyType: 'dynamic',
    ...BOOL,
    value: '0',
    description: 'Whether client connections must use a secure transport.',
  },
  {
    name: 'table_open_cache',
    applyType: 'dynamic',
    dataType: INT,
    allowed: '1-524288',
    description: 'The number of open tables for all threads.',
  },
  {
    name: 'performance_schema',
    applyType: 'static',
    ...BOOL,
    description: 'Enables or disables the Performance Schema.',
  },
  {
    name: 'basedir',
    applyType: 'static',
    dataType: 'string',
    value: '/rdsdbbin/mysql',
    modifiable: false,
    description: 'The MySQL installation base directory.',
  },
  {
    name: 'datadir',
    applyType: 'static',
    dataType: 'string',
    value: '/rdsdbdata/db/',
    modifiable: false,
    description: 'The MySQL data directory.',
  },
];

const MYSQL: readonly ParameterSpec[] = [
  ...MYSQL_COMMON,
  {
    name: 'innodb_redo_log_capacity',
    applyType: 'dynamic',
    dataType: INT,
    allowed: '8388608-549755813888',
    description: 'Defines the amount of disk space occupied by redo log files.',
  },
];

const MARIADB: readonly ParameterSpec[] = [
  ...MYSQL_COMMON,
  {
    name: 'innodb_log_file_size',
    applyType: 'static',
    dataType: INT,
    allowed: '1048576-512000000000',
    value: '134217728',
    description: 'Size of each log file in a log group.',
  },
  {
    name: 'aria_pagecache_buffer_size',
    applyType: 'static',
    dataType: INT,
    allowed: '131072-18446744073709551615',
    description: 'The size of the buffer used for index and data blocks for Aria tables.',
  },
];

/** Each engine's parameters; every family of the engine has them (engines.ts). */
const BY_ENGINE: Readonly<Record<string, readonly ParameterSpec[]>> = {
  postgres: POSTGRES,
  mysql: MYSQL,
  mariadb: MARIADB,
};

/** The parameters of a family, or undefined for a family RDS does not have. */
export function parametersOf(family: string): readonly ParameterSpec[] | undefined {
  for (const [engine, e] of Object.entries(ENGINES)) {
    if (e.majors.some((m) => m.family === family)) return BY_ENGINE[engine];
  }
  return undefined;
}

/** Why `value` is not one RDS takes for the parameter; undefined when it is (or we can't say). */
export function invalidValue(spec: ParameterSpec, value: string): string | undefined {
  const { allowed } = spec;
  // formulas over the instance class are RDS's own way to give a value: taken as they are
  if (!allowed || /^(\{|LEAST\(|GREATEST\(|SUM\()/.test(value)) return undefined;
  const range = /^(-?\d+)-(\d+)$/.exec(allowed);
  if (range && (spec.dataType === INT || spec.dataType === 'float')) {
    const n = Number(value);
    const ok =
      value.trim() !== '' &&
      (spec.dataType === INT ? /^-?\d+$/.test(value) : Number.isFinite(n)) &&
      n >= Number(range[1]) &&
      n <= Number(range[2]);
    return ok ? undefined : allowed;
  }
  if (range) return undefined;
  const choices = allowed.split(',');
  const given = spec.dataType === 'list' ? value.split(',') : [value];
  return given.every((v) => choices.some((c) => c.toLowerCase() === v.trim().toLowerCase()))
    ? undefined
    : allowed;
}
