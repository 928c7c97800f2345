import type { LineBatch } from '../sources/source.js'
import type { LogRecord, ProducedRecord } from './log.js'

/**
 * A `lines` record: the batch's lines joined by newlines (sources guarantee a
 * line holds none), so the bytes travel unchanged; where they came from rides
 * in headers. Keyed by source host, so one host's streams keep their order.
 */
export function lineBatchRecord(batch: LineBatch): ProducedRecord {
  const headers: Record<string, string> = {
    stream: batch.stream,
    host: batch.host,
    count: String(batch.lines.length),
    received_at: String(batch.received_at),
  }
  if (batch.position !== undefined) headers['position'] = JSON.stringify(batch.position)
  if (batch.times !== undefined) headers['times'] = JSON.stringify(batch.times)
  if (batch.backlog) headers['backlog'] = 'true'
  return { key: Buffer.from(batch.host), value: Buffer.concat(joined(batch.lines)), headers }
}

function joined(lines: readonly Buffer[]): Buffer[] {
  const parts: Buffer[] = []
  lines.forEach((line, i) => {
    if (i > 0) parts.push(NEWLINE)
    parts.push(line)
  })
  return parts
}

const NEWLINE = Buffer.from('\n')

/** Thrown for a `lines` record that was not written by lineBatchRecord; the consumer counts and skips it. */
export class LineRecordError extends Error {
  constructor(record: LogRecord, reason: string) {
    super(`lines record ${record.partition}/${record.offset}: ${reason}`)
    this.name = 'LineRecordError'
  }
}

/** The batch a `lines` record holds. */
export function lineBatchOf(record: LogRecord): LineBatch {
  const { stream, host, count, received_at: receivedAt, position, times, backlog } = record.headers
  if (stream === undefined || host === undefined || count === undefined || receivedAt === undefined) {
    throw new LineRecordError(record, 'missing stream, host, count or received_at header')
  }
  const lines = split(record.value, Number(count))
  if (!lines) throw new LineRecordError(record, `value does not hold ${count} lines`)
  const batch: LineBatch = {
    stream,
    host,
    lines,
    received_at: Number(receivedAt),
    ...(position !== undefined && { position: parseJson(record, position, 'position') }),
    ...(times !== undefined && { times: timesOf(record, times, lines.length) }),
    ...(backlog === 'true' && { backlog: true }),
  }
  return batch
}

function split(value: Buffer, count: number): Buffer[] | undefined {
  if (!Number.isInteger(count) || count < 0) return undefined
  if (count === 0) return value.length === 0 ? [] : undefined
  const lines: Buffer[] = []
  let start = 0
  for (let at = value.indexOf(0x0a); at !== -1; at = value.indexOf(0x0a, start)) {
    lines.push(value.subarray(start, at))
    start = at + 1
  }
  lines.push(value.subarray(start))
  return lines.length === count ? lines : undefined
}

function parseJson(record: LogRecord, text: string, header: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new LineRecordError(record, `${header} header is not JSON`)
  }
}

function timesOf(record: LogRecord, text: string, count: number): number[] {
  const times = parseJson(record, text, 'times')
  if (!Array.isArray(times) || times.length !== count || !times.every((t) => typeof t === 'number')) {
    throw new LineRecordError(record, 'times header is not one number per line')
  }
  return times as number[]
}
