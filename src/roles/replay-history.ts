import { LINES_TABLE } from '../../schemas/clickhouse/tables.js'
import type { LineBatch } from '../sources/source.js'
import type { Store } from '../store/store.js'
import type { ReplayChunk } from './replay.js'
import { LATE_APPEND_SLACK_SECS, type LogRangeOptions } from './replay-log.js'

const PAGE_ROWS = 20_000

interface LineRow {
  host: string
  stream: string
  received_ms: number | string
  partition: number | string
  offset: number | string
  line_index: number | string
  line: string
  occurred_ms: number | string | null
  backlog: boolean | number
}

/** Where the last page ended, in the table's sorting key. */
interface Cursor {
  host: string
  stream: string
  received_ms: number
  partition: number
  offset: number
  line_index: number
}

const COLUMNS = `host, stream, toUnixTimestamp64Milli(received_at) AS received_ms, partition, offset, line_index, line,
  if(isNull(occurred_at), NULL, toUnixTimestamp64Milli(assumeNotNull(occurred_at))) AS occurred_ms, backlog`
const RANGE = `received_at >= fromUnixTimestamp64Milli({from_ms:Int64}) AND received_at < fromUnixTimestamp64Milli({to_ms:Int64})`
const AFTER = `(host, stream, received_at, partition, offset, line_index)
  > ({host:String}, {stream:String}, fromUnixTimestamp64Milli({received_ms:Int64}), {partition:UInt32}, {offset:UInt64}, {line_index:UInt32})`

/**
 * The raw lines the history store kept (`banstream run|store --history-lines`)
 * that were read between two times, for replayLines: each source host's
 * streams in the order they were read, page by page along the table's
 * sorting key, the lines of one `lines` record as one batch again. Read with
 * FINAL, so a record the store was given twice counts once. As with the
 * log, lines read up to LATE_APPEND_SLACK_SECS after `to` are included and
 * left to replay's event-time filter.
 */
export async function* historyChunks(store: Store, options: Pick<LogRangeOptions, 'from' | 'to'>): AsyncGenerator<ReplayChunk> {
  const range = { from_ms: Math.floor(options.from * 1000), to_ms: Math.ceil((options.to + LATE_APPEND_SLACK_SECS) * 1000) }
  const [counted] = await store.query<{ n: number | string }>(`SELECT count() AS n FROM ${LINES_TABLE.name} FINAL WHERE ${RANGE}`, range)
  const total = Number(counted?.n ?? 0)
  let done = 0
  let cursor: Cursor | undefined
  for (;;) {
    const rows = await store.query<LineRow>(
      `SELECT ${COLUMNS} FROM ${LINES_TABLE.name} FINAL WHERE ${RANGE}${cursor ? ` AND ${AFTER}` : ''}
       ORDER BY host, stream, received_at, partition, offset, line_index LIMIT {limit:UInt32}`,
      { ...range, ...(cursor ?? {}), limit: PAGE_ROWS },
    )
    if (rows.length === 0) return
    done += rows.length
    yield { batches: batchesOf(rows), done, total: Math.max(total, done) }
    const last = rows.at(-1)!
    cursor = {
      host: last.host, stream: last.stream, received_ms: Number(last.received_ms),
      partition: Number(last.partition), offset: Number(last.offset), line_index: Number(last.line_index),
    }
    if (rows.length < PAGE_ROWS) return
  }
}

/** Consecutive rows of one record, one batch; a record cut by a page boundary becomes two batches, in order. */
function batchesOf(rows: readonly LineRow[]): LineBatch[] {
  const batches: LineBatch[] = []
  let key = ''
  let current: LineBatch | undefined
  for (const row of rows) {
    const rowKey = `${row.partition}:${row.offset}`
    if (current === undefined || rowKey !== key) {
      key = rowKey
      current = { stream: row.stream, host: row.host, lines: [], received_at: Number(row.received_ms), ...(row.backlog ? { backlog: true } : {}) }
      batches.push(current)
    }
    current.lines.push(Buffer.from(row.line, 'utf8'))
    if (row.occurred_ms !== null) (current.times ??= []).push(Number(row.occurred_ms))
  }
  return batches
}
