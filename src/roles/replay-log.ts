import { Topics } from '../../schemas/topics.js'
import { lineBatchOf, LineRecordError } from '../log/line-batch-record.js'
import type { Log } from '../log/log.js'
import { offsetsForTime } from '../log/offsets-for-time.js'
import type { LineBatch } from '../sources/source.js'
import type { ReplayChunk } from './replay.js'

export interface LogRangeOptions {
  /** Epoch seconds: lines appended from this time on are read. */
  readonly from: number
  /** Epoch seconds: reading a partition stops at its first record appended after this time (and the slack). */
  readonly to: number
  /** Told of a record that holds no line batch; it is skipped. */
  readonly skipped?: (reason: string) => void
}

/**
 * A line reaches the log after it was written, and a forwarder catching up
 * appends later still: records appended up to this long after `to` are read
 * too, their lines outside the range left to replay's event-time filter.
 */
export const LATE_APPEND_SLACK_SECS = 300
const READ_RECORDS = 1000

/**
 * The `lines` topic's batches appended between two times, for replayLines:
 * every partition from the offset of `from` up to its first record past `to`
 * or its end offset when reading began, whichever comes first, partition
 * after partition (one host's lines stay in one partition, in order).
 * Progress counts records against the offsets of that span.
 */
export async function* logChunks(log: Log, options: LogRangeOptions): AsyncGenerator<ReplayChunk> {
  const topic = Topics.lines.name
  const ends = await log.endOffsets(topic)
  const starts = await offsetsForTime(log, topic, options.from * 1000)
  const stopAtMs = (options.to + LATE_APPEND_SLACK_SECS) * 1000
  const total = ends.reduce((sum, end, partition) => sum + Math.max(0, end - starts[partition]!), 0)
  let done = 0
  for (const [partition, end] of ends.entries()) {
    let next = starts[partition]!
    let past = false
    while (next < end && !past) {
      const records = await log.read(topic, partition, next, Math.min(READ_RECORDS, end - next))
      if (records.length === 0) break
      const batches: LineBatch[] = []
      for (const record of records) {
        if (record.offset >= end || record.timestamp > stopAtMs) {
          past = true
          break
        }
        try {
          batches.push(lineBatchOf(record))
        } catch (err) {
          if (!(err instanceof LineRecordError)) throw err
          options.skipped?.(err.message)
        }
      }
      const reached = past ? end : records.at(-1)!.offset + 1
      done += reached - next
      next = reached
      yield { batches, done, total }
    }
    done += end - next
  }
}
