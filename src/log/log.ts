/**
 * The log every stage reads and writes: topics split into partitions, each an
 * ordered sequence of records addressed by offset. Two implementations share
 * this contract: the embedded log (one host, files under a data dir) and
 * Kafka (a fleet). Stages depend only on this interface.
 *
 * Implementations must: deliver a partition's records in offset order; never
 * hand a subscriber two batches at once (the handler's promise is awaited
 * before the next batch, which is the backpressure); place a keyed record with
 * Kafka's murmur2 partitioner (see murmur2.ts) so that embedded and Kafka runs
 * agree; report bad records through a LogProblem and keep going.
 */

/** A record as a producer hands it over. */
export interface ProducedRecord {
  /** Picks the partition (murmur2); null spreads records round-robin. */
  key: Buffer | null
  value: Buffer
  headers?: Record<string, string>
  /** Milliseconds since the epoch; the log's clock when absent. */
  timestamp?: number
}

/** A record as it is stored: every optional field filled in, and its place. */
export interface LogRecord extends Required<ProducedRecord> {
  topic: string
  partition: number
  offset: number
}

/**
 * Where a subscriber starts in each partition.
 * - `committed`: the group's committed offset, or the earliest record when the
 *   group never committed (an event-sourced stage must not skip history).
 * - `earliest` / `latest`: the log start / the end at subscribe time.
 * - `{ offsets }`: the given offset per partition; unlisted partitions start as
 *   `committed`.
 */
export type StartFrom = 'committed' | 'earliest' | 'latest' | { offsets: Record<number, number> }

export interface SubscribeOptions {
  topic: string
  /** Consumer group: committed offsets are kept per group, topic and partition. */
  group: string
  from?: StartFrom
  /** Commit each batch's next offset after its handler resolves (default true). */
  autoCommit?: boolean
  /** Upper bound on records in one batch (default 500). */
  maxBatchRecords?: number
  /** Upper bound on value+key bytes in one batch; one record always fits (default 1 MiB). */
  maxBatchBytes?: number
  /**
   * Called with partitions given to this subscriber, before any record of
   * them is delivered, and awaited: a stage rebuilds their state here. A
   * rejection is reported and the call made again after a backoff.
   */
  onAssigned?(partitions: number[]): Promise<void>
  /**
   * Called with partitions taken from this subscriber (and with every
   * partition it holds at close) once no batch of them is in flight, and
   * awaited before the next assignment is handled: a stage drops their state
   * here. Only partitions whose onAssigned resolved are revoked. On Kafka a
   * revocation is learnt at the next group join, when another member may
   * already hold the partitions: work on them must not outlive the batch.
   */
  onRevoked?(partitions: number[]): Promise<void>
}

/**
 * Called with one partition's records in offset order; the next batch waits
 * for this promise. A rejection is reported and the same batch is delivered
 * again after a backoff, so handlers must be idempotent (events carry ids).
 */
export type BatchHandler = (batch: LogRecord[]) => Promise<void>

export interface Subscription {
  /** Stops after the batch in flight (if any) and resolves once the handler is no longer running. */
  close(): Promise<void>
}

export interface Log {
  /** Creates the topic; a no-op when it exists with the same partition count. */
  createTopic(topic: string, partitions: number): Promise<void>
  /** Resolves, in input order, with where each record landed, once the records are stored as the durability policy promises. */
  append(topic: string, records: ProducedRecord[]): Promise<{ partition: number; offset: number }[]>
  /** Delivers batches in offset order per partition; a handler's returned promise is awaited before the next batch (backpressure). */
  subscribe(opts: SubscribeOptions, handler: BatchHandler): Subscription
  /** Up to maxRecords records from fromOffset on (from the log start when fromOffset is below it); for rebuilding state. */
  read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]>
  /** Records that the group has consumed everything below nextOffset. */
  commit(group: string, topic: string, partition: number, nextOffset: number): Promise<void>
  committed(group: string, topic: string, partition: number): Promise<number | undefined>
  /** Per partition, the offset of the oldest record still kept. */
  startOffsets(topic: string): Promise<number[]>
  /** Per partition, the offset the next appended record will get. */
  endOffsets(topic: string): Promise<number[]>
  close(): Promise<void>
}

/** Something the log skipped or repaired instead of stopping. */
export interface LogProblem {
  kind:
    | 'corrupt-record' // CRC or framing mismatch inside a segment; the bytes are skipped
    | 'torn-tail' // an incomplete write at the end of the newest segment; truncated on open
    | 'unreadable-segment' // a segment or index file could not be opened or read; skipped
    | 'rebuilt-index' // an offset index did not match its segment and was rebuilt
    | 'unreadable-offsets' // a committed-offsets file could not be parsed; treated as no commit
    | 'offset-out-of-range' // a start offset past the end (records lost in a crash); reset to the end
    | 'handler-failed' // a subscriber's handler rejected; the batch is retried
    | 'io-error' // a read, sync or commit failed in the background; retried
  topic?: string
  partition?: number
  /** The file concerned, when there is one. */
  file?: string
  /** Byte position in that file. */
  position?: number
  reason: string
}

export type ProblemReporter = (problem: LogProblem) => void
