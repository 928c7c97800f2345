import type { TSchema } from '@sinclair/typebox'
import { Actuation } from '../events/actuation.js'
import { Decision } from '../events/decision.js'
import { FailureDetected } from '../events/failure-detected.js'
import { columnsOf, type Column } from './columns.js'
import { StoredLine } from './stored-line.js'

/**
 * How long history is kept, in days; 0 keeps it forever. Applied as table TTLs:
 * ClickHouse drops expired rows when it merges parts (and whole monthly
 * partitions once all their rows expired), so disk use follows the setting
 * within a merge cycle rather than to the minute.
 */
export interface Retention {
  /** Failures (the bulk of the history). */
  readonly failures_days: number
  /** Bans and unbans. */
  readonly decisions_days: number
  /** What the actuators did. */
  readonly actuations_days: number
  /** The raw log lines, when the store keeps them (see LINES_TABLE); large, so short (default 7). */
  readonly lines_days?: number
}

/** How long raw log lines are kept when the retention does not say. */
export const DEFAULT_LINES_DAYS = 7

export const DEFAULT_RETENTION: Retention = {
  failures_days: 90,
  decisions_days: 730,
  actuations_days: 90,
}

export type EventTableName = 'failures' | 'decisions' | 'actuations'

/** A table holding the events of one topic, one row per event. */
export interface EventTable {
  readonly name: EventTableName
  /** The event schema the columns are generated from. */
  readonly schema: TSchema
  readonly columns: readonly Column[]
  /** The sorting key; ends with event_id, the deduplication key (see eventTableDdl). */
  readonly orderBy: readonly string[]
  /** Data-skipping indexes, for filters that are not a prefix of the sorting key. */
  readonly indexes: readonly string[]
  /** The partition key, an expression of occurred_at (see EVENT_TABLES). */
  readonly partitionBy: string
  /** MergeTree settings of the table, `name = value`. */
  readonly settings: readonly string[]
  readonly retention: keyof Pick<Retention, 'failures_days' | 'decisions_days' | 'actuations_days'>
  readonly comment: string
}

/*
 * Sorting keys: every table starts with (ip, occurred_at), so the history of
 * one address is a contiguous range read, and a subnet (CIDR) is a range of
 * `ip` too, since IPv4 is mapped into IPv6. Partitions by occurred_at prune
 * time ranges; set indexes on jail and host skip granules for the by-jail and
 * by-host filters.
 *
 * Failures, the bulk, are partitioned by week so that counting them with FINAL
 * costs what a plain read does, save for the current week: ClickHouse reads a
 * partition that is one merged part without merging it at query time (no
 * other partition can hold a copy of its rows, the partition key being a
 * function of the sorting key), and a week stops receiving rows when it ends,
 * so min_age_to_force_merge makes it one part an hour later. A monthly
 * partition kept the current month in several parts, merged at every read;
 * daily ones make a lookup of one address open a part per day kept (the
 * failures of an address, 10 M stored over a month: p50/p99 19/34 ms daily,
 * 14/38 weekly, against 12/57 monthly counting uniqExact(event_id)).
 */
export const EVENT_TABLES: readonly EventTable[] = [
  {
    name: 'failures',
    schema: FailureDetected,
    columns: columnsOf(FailureDetected),
    orderBy: ['ip', 'occurred_at', 'event_id'],
    indexes: ['INDEX jail_idx jail TYPE set(1024) GRANULARITY 4', 'INDEX host_idx host TYPE set(1024) GRANULARITY 4',
      'INDEX user_idx user TYPE bloom_filter GRANULARITY 4'],
    partitionBy: 'toMonday(occurred_at)',
    settings: ['min_age_to_force_merge_seconds = 3600', 'min_age_to_force_merge_on_partition_only = 1'],
    retention: 'failures_days',
    comment: 'FailureDetected events of the failures topic, one row per event_id (deduplicated on merge; read with FINAL).',
  },
  {
    name: 'decisions',
    schema: Decision,
    columns: columnsOf(Decision),
    orderBy: ['ip', 'occurred_at', 'event_id'],
    indexes: ['INDEX jail_idx jail TYPE set(1024) GRANULARITY 4'],
    partitionBy: 'toYYYYMM(occurred_at)',
    settings: [],
    retention: 'decisions_days',
    comment: 'BanIssued and BanLifted events of the decisions topic, one row per event_id (deduplicated on merge; read with FINAL).',
  },
  {
    name: 'actuations',
    schema: Actuation,
    columns: columnsOf(Actuation),
    orderBy: ['ip', 'occurred_at', 'event_id'],
    indexes: ['INDEX host_idx host TYPE set(1024) GRANULARITY 4'],
    partitionBy: 'toYYYYMM(occurred_at)',
    settings: [],
    retention: 'actuations_days',
    comment: 'Actuation events of the actuations topic, one row per event_id (deduplicated on merge; read with FINAL).',
  },
]

/** The table of a name. */
export function eventTable(name: EventTableName): EventTable {
  const table = EVENT_TABLES.find((t) => t.name === name)
  if (!table) throw new Error(`no event table ${name}`)
  return table
}

/** A ClickHouse string literal of our own text (comments, paths we made), never of user input: user values are bound as query parameters. */
export function sqlLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** A column in CREATE TABLE; an absent boolean is false, as the schemas say absence means. */
function columnDefinition(c: Column): string {
  return `    ${c.name} ${c.type}${c.type === 'Bool' ? ' DEFAULT false' : ''}${c.comment ? ` COMMENT ${sqlLiteral(c.comment)}` : ''}`
}

function ttlClause(timeExpression: string, days: number): string {
  return days > 0 ? `\nTTL ${timeExpression} + INTERVAL ${Math.floor(days)} DAY` : ''
}

/**
 * CREATE TABLE for an event table.
 *
 * Deduplication: ReplacingMergeTree with event_id at the end of the sorting
 * key. A duplicate reaches the table two ways: the sink re-inserts a batch
 * whose offsets it could not commit before a crash (and the redelivered batch
 * may be cut differently), and an upstream stage re-emits an event with the
 * same id at a new log offset after its own crash. insert_deduplication_token
 * catches only the first (a byte-identical block retried, within a window),
 * so it is not enough. The other sorting-key columns (ip, occurred_at) are
 * fields of the event, so a duplicate has the whole key equal and the two rows
 * collapse into one when their parts merge. Until then both rows are on disk:
 * queries that count read with FINAL (or count uniqExact(event_id)).
 */
export function eventTableDdl(table: EventTable, retention: Retention, name: string = table.name): string {
  const lines = [
    ...table.columns.map(columnDefinition),
    ...table.indexes.map((i) => `    ${i}`),
  ]
  return `CREATE TABLE IF NOT EXISTS ${name}
(
${lines.join(',\n')}
)
ENGINE = ReplacingMergeTree
PARTITION BY ${table.partitionBy}
ORDER BY (${table.orderBy.join(', ')})${ttlClause('toDateTime(occurred_at)', retention[table.retention])}${
  table.settings.length > 0 ? `\nSETTINGS ${table.settings.join(', ')}` : ''}
COMMENT ${sqlLiteral(table.comment)}`
}

/** The optional table of raw log lines (StoredLine), filled only when the store is asked to keep lines. */
export const LINES_TABLE = {
  name: 'lines',
  schema: StoredLine,
  columns: columnsOf(StoredLine),
  /** Lines of one stream in the order they were read; partition, offset and line_index make the key unique (the dedup key). */
  orderBy: ['host', 'stream', 'received_at', 'partition', 'offset', 'line_index'],
  comment: 'Raw lines of the lines topic, kept for replay when enabled; one row per (partition, offset, line_index) after merges.',
} as const

function linesDays(retention: Retention): number {
  return retention.lines_days ?? DEFAULT_LINES_DAYS
}

/**
 * CREATE TABLE for the lines table. Daily partitions, because lines are
 * many and kept briefly: ttl_only_drop_parts lets the TTL drop whole
 * expired days instead of rewriting parts row by row.
 */
export function linesTableDdl(retention: Retention): string {
  const table = LINES_TABLE
  const lines = table.columns.map(columnDefinition)
  return `CREATE TABLE IF NOT EXISTS ${table.name}
(
${lines.join(',\n')}
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (${table.orderBy.join(', ')})${ttlClause('toDateTime(received_at)', linesDays(retention))}
SETTINGS ttl_only_drop_parts = 1
COMMENT ${sqlLiteral(table.comment)}`
}

/*
 * Objects an earlier schema made and this one drops (views first, so no view
 * is left feeding a dropped table). The failures_hourly and failures_ip_daily
 * aggregates were fed by materialized views on every insert into failures:
 * they counted with uniqExactState(event_id), so each kept a hash set of every
 * failure's id, cost 30-50 % of the insert time and were read by no query (the
 * stats routes count over failures, which keeps the same ids and is deduplicated
 * the same way).
 */
export const RETIRED_TABLES: readonly string[] = ['failures_hourly_mv', 'failures_ip_daily_mv', 'failures_hourly', 'failures_ip_daily']

/** Every statement that creates the store's tables, in order; each is a no-op when its table exists. */
export function createStatements(retention: Retention = DEFAULT_RETENTION): string[] {
  return [
    ...EVENT_TABLES.map((t) => eventTableDdl(t, retention)),
    linesTableDdl(retention),
  ]
}

/**
 * The TTL of each table under a retention, for tables that already exist
 * (CREATE ... IF NOT EXISTS leaves an existing table's TTL as it was):
 * `ttl` null means keep forever.
 */
export function retentionTtls(retention: Retention): { table: string; ttl: string | null }[] {
  const ttl = (expression: string, days: number) => (days > 0 ? `${expression} + INTERVAL ${Math.floor(days)} DAY` : null)
  return [
    ...EVENT_TABLES.map((t) => ({ table: t.name, ttl: ttl('toDateTime(occurred_at)', retention[t.retention]) })),
    { table: LINES_TABLE.name, ttl: ttl('toDateTime(received_at)', linesDays(retention)) },
  ]
}

/** The whole schema as one SQL script (schemas/generated/clickhouse.sql holds it for the default retention). */
export function clickHouseSql(retention: Retention = DEFAULT_RETENTION): string {
  return `-- Generated from schemas/events by schemas/clickhouse/tables.ts; do not edit.\n\n${createStatements(retention).join(';\n\n')};\n`
}
