import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { eventInsertFromInput } from '../../schemas/clickhouse/event-insert.js'
import type { EventTableName } from '../../schemas/clickhouse/tables.js'
import { jsonLines, STORE_SETTINGS, StoreError, tableIdentifier, type QueryParams, type Row, type Store } from './store.js'

export interface ClickHouseStoreOptions {
  /** The server's HTTP interface, e.g. `http://clickhouse:8123`. */
  readonly url: string
  readonly username?: string
  readonly password?: string
  /** The database holding the tables (default: the user's default database). */
  readonly database?: string
  /** How long one request may take before it fails (default 30 s). */
  readonly request_timeout_secs?: number
}

function storeError(error: unknown): StoreError {
  if (error instanceof StoreError) return error
  const e = error as { message?: unknown; code?: unknown }
  const code = typeof e?.code === 'string' && /^\d+$/.test(e.code) ? Number(e.code) : undefined
  return new StoreError(String(e?.message ?? error), code, { cause: error })
}

/** The store on a ClickHouse server, over its HTTP interface. */
export class ClickHouseStore implements Store {
  private readonly client: ClickHouseClient

  constructor(options: ClickHouseStoreOptions) {
    this.client = createClient({
      url: options.url,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.database === undefined ? {} : { database: options.database }),
      request_timeout: (options.request_timeout_secs ?? 30) * 1000,
      clickhouse_settings: { ...STORE_SETTINGS },
    })
  }

  async insert(table: string, rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return
    try {
      await this.client.insert({ table: tableIdentifier(table), values: rows as Row[], format: 'JSONEachRow' })
    } catch (error) {
      throw storeError(error)
    }
  }

  async insertJson(table: string, rows: readonly Uint8Array[]): Promise<void> {
    if (rows.length > 0) await this.send(`INSERT INTO ${tableIdentifier(table)} FORMAT JSONEachRow`, rows)
  }

  async insertEvents(table: EventTableName, events: readonly Uint8Array[]): Promise<void> {
    if (events.length > 0) await this.send(eventInsertFromInput(table), events)
  }

  /** Runs an INSERT whose data is the rows, one per line: client.insert takes JSONEachRow only as objects; exec sends the bytes as they are. */
  private async send(query: string, rows: readonly Uint8Array[]): Promise<void> {
    try {
      const result = await this.client.exec({ query, values: Readable.from([jsonLines(rows)], { objectMode: false }) })
      result.stream.resume()
      await finished(result.stream)
    } catch (error) {
      throw storeError(error)
    }
  }

  async query<T = Row>(sql: string, params: QueryParams = {}): Promise<T[]> {
    try {
      const result = await this.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })
      return await result.json<T>()
    } catch (error) {
      throw storeError(error)
    }
  }

  async command(sql: string): Promise<void> {
    try {
      await this.client.command({ query: sql })
    } catch (error) {
      throw storeError(error)
    }
  }

  async close(): Promise<void> {
    await this.client.close()
  }
}
