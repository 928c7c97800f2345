import type { Log } from './log.js'

/**
 * Per partition, the offset of the first record whose timestamp is at or
 * after `ms` (the end offset where there is none), found by a binary search
 * over record timestamps: log2(records) reads of one record per partition.
 * Not Kafka's ListOffsets by time: librdkafka's mock cluster, the Kafka the
 * tests run on, answers every such lookup with the end, and the embedded log
 * keeps no time index. Timestamps are taken as non-decreasing within a
 * partition, which they are when the log's clock stamps the records (the
 * forwarders leave the timestamp to it); a record stamped out of order can
 * move the answer by the records around it.
 */
export async function offsetsForTime(log: Log, topic: string, ms: number): Promise<number[]> {
  const [starts, ends] = await Promise.all([log.startOffsets(topic), log.endOffsets(topic)])
  return Promise.all(ends.map((end, partition) => firstAtOrAfter(log, topic, partition, starts[partition] ?? 0, end, ms)))
}

async function firstAtOrAfter(log: Log, topic: string, partition: number, start: number, end: number, ms: number): Promise<number> {
  let low = start
  let high = end
  while (low < high) {
    const middle = low + Math.floor((high - low) / 2)
    // The first record at or after `middle`: offsets may have gaps (compaction, transaction markers).
    const [record] = await log.read(topic, partition, middle, 1)
    if (record === undefined || record.offset >= high || record.timestamp >= ms) high = middle
    else low = record.offset + 1
  }
  return low
}
