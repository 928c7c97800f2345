/**
 * The store: where the history of every topic is kept and queried (ClickHouse).
 * Two drivers share this contract: chdb-store.ts (ClickHouse embedded in the
 * process, under the data dir; the default of `banstream run`) and
 * clickhouse-store.ts (a ClickHouse server, through @clickhouse/client).
 * Callers depend only on this interface and write ClickHouse SQL.
 *
 * Implementations must: bind query parameters on the server side (ClickHouse
 * `{name:Type}` placeholders), never paste a value into SQL text; insert rows
 * as JSONEachRow, all or none of one call (insert, insertJson and insertEvents alike); return rows of JSONEachRow with
 * 64-bit integers as JSON numbers (counts; exact below 2^53); reject with a StoreError that carries
 * ClickHouse's error code when there is one.
 */

import type { EventTableName } from '../../schemas/clickhouse/tables.js'

/** A row: column name to JSON value. */
export type Row = Record<string, unknown>

/**
 * A query parameter value. Strings are read as the placeholder's type says
 * (`{at:DateTime64(3, 'UTC')}` takes `2026-11-22 09:00:00.123`, `{ip:IPv6}` takes
 * `::ffff:192.0.2.1` or `192.0.2.1`); arrays bind to Array(T) placeholders.
 */
export type QueryParam = string | number | bigint | boolean | null | readonly QueryParam[]
export type QueryParams = Readonly<Record<string, QueryParam>>

export interface Store {
  /** Inserts rows into a table (JSONEachRow); resolves once ClickHouse has them. */
  insert(table: string, rows: readonly Row[]): Promise<void>
  /**
   * Inserts rows already in JSON: each element one object of column values,
   * with no line break in it. For a caller that holds the JSON text of its rows
   * (the sink, spliced from the events' own JSON), so that no row object is
   * built and serialized again.
   */
  insertJson(table: string, rows: readonly Uint8Array[]): Promise<void>
  /**
   * Inserts events of a topic into their table, each element one event's JSON
   * as storableEventJson gives it; ClickHouse derives the rows
   * (schemas/clickhouse/event-insert.ts). All or none, as insertJson.
   */
  insertEvents(table: EventTableName, events: readonly Uint8Array[]): Promise<void>
  /** Runs a SELECT with bound `{name:Type}` parameters and returns its rows. */
  query<T = Row>(sql: string, params?: QueryParams): Promise<T[]>
  /** Runs a statement without result (DDL, ALTER, OPTIMIZE). */
  command(sql: string): Promise<void>
  close(): Promise<void>
}

/** A store operation failed; `clickhouseCode` is ClickHouse's error code (62 = syntax error, 60 = unknown table, ...). */
export class StoreError extends Error {
  readonly code = 'BANSTREAM_ERR_STORE'
  constructor(message: string, readonly clickhouseCode?: number, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/

/** A table name to put into SQL: `name` or `database.name`, letters, digits and underscores only. */
export function tableIdentifier(table: string): string {
  if (!IDENTIFIER.test(table)) throw new StoreError(`not a table name: ${JSON.stringify(table)}`)
  return table
}

/** The JSONEachRow text of rows: one JSON object per line. */
export function jsonEachRow(rows: readonly Row[]): string {
  let text = ''
  for (const row of rows) text += `${JSON.stringify(row)}\n`
  return text
}

const NEWLINE = Buffer.from('\n')

/** The JSONEachRow text of rows already in JSON: one per line. */
export function jsonLines(rows: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = []
  for (const row of rows) parts.push(row, NEWLINE)
  return Buffer.concat(parts)
}

/**
 * Settings every driver applies, so that both answer alike whatever the server's defaults.
 * optimize_on_insert off: an insert then does not collapse rows of equal sorting key within its
 * block, which took a fifth of the CPU time of an insert of failures (chDB 3.4, 100k rows) and gained nothing,
 * since a redelivered event usually arrives in another block anyway and every count reads with
 * FINAL or counts distinct event ids (see schemas/clickhouse/tables.ts).
 * input_format_skip_unknown_fields on: an event of a newer schema, with fields no column holds yet,
 * is stored with the fields there are (insertEvents reads the events' own JSON).
 */
export const STORE_SETTINGS = { output_format_json_quote_64bit_integers: 0, optimize_on_insert: 0, input_format_skip_unknown_fields: 1 } as const

/** Parses JSONEachRow output into rows. */
export function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = []
  for (const line of text.split('\n')) if (line !== '') rows.push(JSON.parse(line) as T)
  return rows
}
