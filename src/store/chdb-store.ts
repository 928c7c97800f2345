import { randomUUID } from 'node:crypto'
import { open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Session } from 'chdb'
import { eventInsertFromFile } from '../../schemas/clickhouse/event-insert.js'
import { sqlLiteral, type EventTableName } from '../../schemas/clickhouse/tables.js'
import { jsonEachRow, jsonLines, parseJsonEachRow, STORE_SETTINGS, StoreError, tableIdentifier, type QueryParams, type Row, type Store } from './store.js'

/** The result of a query in a chosen output format, with ClickHouse's read counters. */
export interface FormattedResult {
  readonly body: Uint8Array
  readonly rowsRead: number
  readonly bytesRead: number
  readonly elapsedSecs: number
}

/** What an insert of formatted data wrote (materialized-view writes included, as ClickHouse counts them). */
export interface InsertedSummary {
  readonly rowsWritten: number
  readonly bytesWritten: number
}

/** The formats a formatted insert accepts (chdb's raw insert formats). */
export type InsertFormat = 'JSONEachRow' | 'JSONCompactEachRow' | 'CSV' | 'CSVWithNames' | 'TSV' | 'TabSeparated' | 'TSVWithNames' | 'TabSeparatedWithNames'

function storeError(error: unknown): StoreError {
  if (error instanceof StoreError) return error
  const e = error as { message?: unknown; clickhouseCode?: unknown }
  const code = typeof e?.clickhouseCode === 'number' ? e.clickhouseCode : undefined
  return new StoreError(String(e?.message ?? error), code, { cause: error })
}

/**
 * Writes a new file in as few calls as the kernel allows: fs.writeFile's
 * 512 KiB pieces each wait for the event loop, which the sink keeps busy
 * decoding the next batch, and that made writing a batch's file take about as
 * long as inserting it (chDB 3.4, 25k failures: 75-160 ms against 85-250).
 */
async function writeWhole(path: string, data: Buffer): Promise<void> {
  const file = await open(path, 'wx', 0o600)
  try {
    for (let at = 0; at < data.length;) at += (await file.write(data, at)).bytesWritten
  } finally {
    await file.close()
  }
}

/**
 * The embedded engine shares the machine with the pipeline that feeds it: parsing an insert's JSON
 * on several threads cost a sixth more CPU time than on one, for no faster insert (chDB 3.4, 100k
 * failures per insert, 2 cores: 4.5 -> 3.9 s of CPU per million rows, about 3.4 s wall either way),
 * and the CPU it saves goes to the sink beside it (bench/store.ts: median 216 -> 240 k rows/s).
 */
const EMBEDDED_SETTINGS = { input_format_parallel_parsing: 0 } as const

/**
 * The store embedded in this process: ClickHouse (chDB) over files under a
 * data dir. chDB allows one data dir per process at a time; a second store
 * on the same dir shares its engine.
 */
export class ChdbStore implements Store {
  private constructor(private readonly session: Session) {}

  /** Opens (creating when needed) the database under `dataDir`. */
  static open(dataDir: string): ChdbStore {
    try {
      const settings = Object.entries({ ...STORE_SETTINGS, ...EMBEDDED_SETTINGS }).map(([name, value]) => `--${name}=${value}`)
      return new ChdbStore(new Session(dataDir, { connectionArgs: settings }))
    } catch (error) {
      throw storeError(error)
    }
  }

  async insert(table: string, rows: readonly Row[]): Promise<void> {
    if (rows.length > 0) await this.insertFile(table, jsonEachRow(rows))
  }

  async insertJson(table: string, rows: readonly Uint8Array[]): Promise<void> {
    if (rows.length > 0) await this.insertFile(table, jsonLines(rows))
  }

  async insertEvents(table: EventTableName, events: readonly Uint8Array[]): Promise<void> {
    if (events.length > 0) await this.throughFile(jsonLines(events), (path) => eventInsertFromFile(table, path))
  }

  private async insertFile(table: string, body: string | Buffer): Promise<void> {
    await this.throughFile(body, (path) => `INSERT INTO ${tableIdentifier(table)} FROM INFILE ${sqlLiteral(path)} FORMAT JSONEachRow`)
  }

  /**
   * Inserts data through a file: ClickHouse reads it with its own (parallel)
   * reader, while data inline in the statement (chdb's insert) costs a third
   * more time outside the engine than the insert itself (chDB 3.4, 100k
   * failures per insert: 150 vs 250 k rows/s). The file's name is random and
   * made by this write alone ('wx'), as the temp dir may be shared.
   */
  private async throughFile(body: string | Buffer, statement: (path: string) => string): Promise<void> {
    const path = join(tmpdir(), `banstream-chdb-insert-${randomUUID()}.jsonl`)
    await writeWhole(path, typeof body === 'string' ? Buffer.from(body) : body)
    try {
      await this.command(statement(path))
    } finally {
      await rm(path, { force: true })
    }
  }

  async query<T = Row>(sql: string, params: QueryParams = {}): Promise<T[]> {
    const result = await this.execute(sql, params, 'JSONEachRow')
    return parseJsonEachRow<T>(Buffer.from(result.body).toString('utf8'))
  }

  async command(sql: string): Promise<void> {
    await this.execute(sql, {}, 'TabSeparated')
  }

  /**
   * Runs any SQL with bound parameters and returns the output in `format`
   * (a FORMAT clause in the SQL wins). The test HTTP front serves the
   * ClickHouse protocol with it.
   */
  async execute(sql: string, params: QueryParams, format: string): Promise<FormattedResult> {
    try {
      const result = Object.keys(params).length === 0
        ? await this.session.queryAsync(sql, { format })
        : await this.session.queryBindAsync(sql, params, { format })
      return { body: result.bytes(), rowsRead: result.rowsRead, bytesRead: result.bytesRead, elapsedSecs: result.elapsed }
    } catch (error) {
      throw storeError(error)
    }
  }

  /** Inserts data already in a format: the bytes go to ClickHouse's parser unchanged. */
  async insertFormatted(table: string, columns: readonly string[] | undefined, format: InsertFormat, body: Buffer): Promise<InsertedSummary> {
    if (body.length === 0) return { rowsWritten: 0, bytesWritten: 0 }
    try {
      const summary = await this.session.insert({ table: tableIdentifier(table), values: body, format, ...(columns ? { columns } : {}) })
      return { rowsWritten: summary.rowsWritten, bytesWritten: summary.bytesWritten }
    } catch (error) {
      throw storeError(error)
    }
  }

  async close(): Promise<void> {
    this.session.close()
  }
}
