import { eventRow, type Row } from '../../schemas/clickhouse/rows.js'
import { LINES_TABLE } from '../../schemas/clickhouse/tables.js'
import type { StoredLine } from '../../schemas/clickhouse/stored-line.js'
import { lineBatchOf } from '../log/line-batch-record.js'

/** What lineRows reads of a `lines` record (a LogRecord has it). */
export interface LinesRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly value: Buffer
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * The rows of the lines table for one `lines` record: one per line, placed by
 * the record's partition and offset and the line's index in it. Throws
 * LineRecordError for a record that holds no line batch. A line's bytes are
 * stored as UTF-8 text: bytes that are not UTF-8 become U+FFFD (the insert
 * format is JSON).
 */
export function lineRows(record: LinesRecord): Row[] {
  const batch = lineBatchOf({ ...record, key: null, timestamp: 0, headers: { ...record.headers } })
  const receivedAt = new Date(batch.received_at).toISOString()
  return batch.lines.map((line, i) => {
    const stored: StoredLine = {
      stream: batch.stream, host: batch.host, received_at: receivedAt,
      partition: record.partition, offset: record.offset, line_index: i, line: line.toString('utf8'),
      ...(batch.times !== undefined && { occurred_at: new Date(batch.times[i]!).toISOString() }),
      ...(batch.backlog && { backlog: true }),
    }
    return eventRow(stored, LINES_TABLE.columns)
  })
}
