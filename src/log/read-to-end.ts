import type { Log, LogRecord } from './log.js'

/**
 * Every record of a topic from the given offsets (per partition; the log start
 * where none is given) up to the end as it was when called, partition by
 * partition. For folding a topic into state at start.
 */
export async function* readToEnd(log: Log, topic: string, from: Readonly<Record<number, number>> = {}, chunk = 1000): AsyncGenerator<LogRecord> {
  const ends = await log.endOffsets(topic)
  const starts = await log.startOffsets(topic)
  for (let partition = 0; partition < ends.length; partition++) {
    let next = Math.max(from[partition] ?? 0, starts[partition] ?? 0)
    while (next < ends[partition]!) {
      const records = await log.read(topic, partition, next, Math.min(chunk, ends[partition]! - next))
      if (records.length === 0) break
      for (const record of records) if (record.offset < ends[partition]!) yield record
      next = records[records.length - 1]!.offset + 1
    }
  }
}
