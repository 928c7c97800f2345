import { setTimeout as sleep } from 'node:timers/promises'
import type { BatchHandler, LogRecord, ProblemReporter, StartFrom, Subscription } from './log.js'

/** What a subscription needs from the log: one topic's partitions, its wake-ups and its group's offsets. */
export interface SubscriptionSource {
  readonly topic: string
  readonly partitions: number
  startOffset(partition: number): number
  endOffset(partition: number): number
  read(partition: number, from: number, maxRecords: number, maxBytes: number): Promise<{ records: LogRecord[]; next: number }>
  /** A counter that moves whenever records become readable. */
  version(): number
  /** Resolves once version() is no longer `seen`, or when `signal` aborts. */
  changed(seen: number, signal: AbortSignal): Promise<void>
  committed(partition: number): Promise<number | undefined>
  commit(partition: number, nextOffset: number): Promise<void>
}

export interface SubscriptionSettings {
  from: StartFrom
  autoCommit: boolean
  maxBatchRecords: number
  maxBatchBytes: number
  /** Delay before retrying after the `attempt`-th failure (handler or I/O). */
  retryDelayMs: (attempt: number) => number
  report: ProblemReporter
  /** See SubscribeOptions: the one subscriber of a group is given every partition at start and gives them up at close. */
  onAssigned?: (partitions: number[]) => Promise<void>
  onRevoked?: (partitions: number[]) => Promise<void>
}

/**
 * Runs one subscriber: a single loop that visits the partitions in turn,
 * hands each one batch at a time to the handler and waits for appends when
 * every partition is drained. One loop means one handler call at a time, the
 * same as a Kafka consumer processing one batch at a time. A failing handler
 * gets the same batch again after a backoff, so nothing is skipped.
 */
export function startSubscription(source: SubscriptionSource, settings: SubscriptionSettings, handler: BatchHandler, onClosed: () => void): Subscription {
  const stop = new AbortController()
  const done = run(source, settings, handler, stop.signal).finally(onClosed)
  return {
    close: async () => {
      stop.abort()
      await done
    },
  }
}

async function run(source: SubscriptionSource, settings: SubscriptionSettings, handler: BatchHandler, signal: AbortSignal): Promise<void> {
  const positions = await retrying(() => startPositions(source, settings.from), 'io-error', settings, source.topic, signal)
  if (positions === undefined) return
  const all = Array.from({ length: source.partitions }, (_, p) => p)
  const { onAssigned, onRevoked } = settings
  if (onAssigned && (await retrying(() => onAssigned(all).then(() => true), 'handler-failed', settings, source.topic, signal)) === undefined) return
  try {
    let turn = 0
    while (!signal.aborted) {
      const seen = source.version()
      let progressed = false
      for (let i = 0; i < source.partitions && !signal.aborted; i++) {
        const partition = (turn + i) % source.partitions
        const moved = await retrying(() => step(source, settings, handler, positions, partition, signal), 'io-error', settings, source.topic, signal, partition)
        progressed ||= moved === true
      }
      turn = (turn + 1) % source.partitions
      if (!progressed && !signal.aborted) await source.changed(seen, signal)
    }
  } finally {
    await onRevoked?.(all).catch((err: Error) => settings.report({ kind: 'handler-failed', topic: source.topic, reason: `giving up partitions failed: ${err?.message ?? String(err)}` }))
  }
}

/** One batch of one partition; returns whether the position moved. */
async function step(source: SubscriptionSource, settings: SubscriptionSettings, handler: BatchHandler, positions: number[], partition: number, signal: AbortSignal): Promise<boolean> {
  const end = source.endOffset(partition)
  let position = positions[partition]!
  if (position > end) {
    settings.report({ kind: 'offset-out-of-range', topic: source.topic, partition, reason: `start offset ${position} is past the end ${end} (records lost in a crash?); continuing from the end` })
    position = positions[partition] = end
  }
  if (position >= end) return false
  const { records, next } = await source.read(partition, position, settings.maxBatchRecords, settings.maxBatchBytes)
  if (records.length > 0) {
    const handled = await retrying(async () => {
      await handler(records)
      return true
    }, 'handler-failed', settings, source.topic, signal, partition)
    if (handled === undefined) return false
  }
  positions[partition] = next
  if (settings.autoCommit && next > position) {
    // Not awaited: a commit lost in a crash only means a redelivery, and the next batch need not wait for a file write.
    source.commit(partition, next).catch((err: Error) => settings.report({ kind: 'io-error', topic: source.topic, partition, reason: `commit failed: ${err.message}` }))
  }
  return next > position
}

async function startPositions(source: SubscriptionSource, from: StartFrom): Promise<number[]> {
  const positions: number[] = []
  for (let partition = 0; partition < source.partitions; partition++) {
    if (from === 'earliest') positions.push(source.startOffset(partition))
    else if (from === 'latest') positions.push(source.endOffset(partition))
    else positions.push((typeof from === 'object' ? from.offsets[partition] : undefined) ?? (await source.committed(partition)) ?? source.startOffset(partition))
  }
  return positions
}

/** Runs `task` until it succeeds, reporting each failure and backing off; undefined when the subscription closes first. */
async function retrying<T>(task: () => Promise<T>, kind: 'handler-failed' | 'io-error', settings: SubscriptionSettings, topic: string, signal: AbortSignal, partition?: number): Promise<T | undefined> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      return await task()
    } catch (err) {
      settings.report({ kind, topic, ...(partition === undefined ? {} : { partition }), reason: `${(err as Error)?.message ?? String(err)}; retry ${attempt}` })
      try {
        await sleep(settings.retryDelayMs(attempt), undefined, { signal })
      } catch {
        return undefined
      }
    }
  }
  return undefined
}
