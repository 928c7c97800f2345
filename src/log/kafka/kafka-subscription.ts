import { setTimeout as sleep } from 'node:timers/promises'
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs'
import type { BatchHandler, LogRecord, ProblemReporter, Subscription } from '../log.js'

export interface KafkaSubscriptionSettings {
  topic: string
  group: string
  autoCommit: boolean
  maxBatchRecords: number
  maxBatchBytes: number
  /**
   * Where to put partitions the first time this subscriber is assigned them
   * (from `earliest`, `latest` or `{ offsets }`); partitions left out start at
   * the group's committed offset, or the earliest record without one.
   */
  startPositions: () => Promise<Map<number, number>>
  sessionTimeoutMs: number
  heartbeatIntervalMs: number
  fetchMaxWaitMs: number
  /** Delay before retrying after the `attempt`-th failure (handler or start-up). */
  retryDelayMs: (attempt: number) => number
  report: ProblemReporter
  /** See SubscribeOptions. */
  onAssigned?: (partitions: number[]) => Promise<void>
  onRevoked?: (partitions: number[]) => Promise<void>
}

export interface KafkaSubscription extends Subscription {
  readonly topic: string
  readonly group: string
  /**
   * Commits through this member of the group, for its topic or another one the
   * group's stage keeps a position in (Kafka checks the member, not what it is
   * assigned); false when it is not running (not joined yet, or closing).
   */
  commit(topic: string, partition: number, nextOffset: number): Promise<boolean>
}

/**
 * One member of a Kafka consumer group on one topic. kafkajs fetches; this
 * hands the fetched records to the handler in slices no larger than asked,
 * one at a time (partitionsConsumedConcurrently 1: the handler's promise is
 * the backpressure), retries a failing slice in place, heartbeating while it
 * waits, and commits after each slice when autoCommit is on.
 *
 * kafkajs tells of an assignment only through its GROUP_JOIN event, which it
 * does not await; so each join queues a transition (revoke what left, assign
 * what came) and a batch waits, heartbeating, until the transitions queued so
 * far are done, which puts onAssigned before the records of its partitions.
 */
export function startKafkaSubscription(kafka: Kafka, settings: KafkaSubscriptionSettings, handler: BatchHandler, onClosed: () => void): KafkaSubscription {
  const stop = new AbortController()
  let consumer: Consumer | undefined
  /** Joined a generation at least once: commits before that would be dropped by kafkajs. */
  let joined = false
  /** Bumped at every join: a transition still retrying onAssigned gives up once a newer join is queued. */
  let generation = 0
  /** Partitions whose onAssigned resolved and that were not revoked since. */
  const ready = new Set<number>()
  let transitions: Promise<void> = Promise.resolve()
  const started = run()
  let closing: Promise<void> | undefined

  async function run(): Promise<void> {
    const closed = new Promise<undefined>((resolve) => stop.signal.addEventListener('abort', () => resolve(undefined), { once: true }))
    // Taken once: a consumer made again after a crash resumes from what was consumed, not from the start position.
    let seeks: Map<number, number> | undefined
    for (let attempt = 1; !stop.signal.aborted; attempt++) {
      try {
        seeks ??= await settings.startPositions()
        const pending = seeks
        if (stop.signal.aborted) return
        consumer = kafka.consumer({
          groupId: settings.group,
          allowAutoTopicCreation: false,
          sessionTimeout: settings.sessionTimeoutMs,
          heartbeatInterval: settings.heartbeatIntervalMs,
          maxWaitTimeInMs: settings.fetchMaxWaitMs,
        })
        const member = consumer
        member.on(member.events.GROUP_JOIN, ({ payload }) => {
          joined = true
          // Seeks must be queued before the first fetch of the generation, so this runs synchronously in the join.
          for (const partition of payload.memberAssignment[settings.topic] ?? []) {
            const offset = pending.get(partition)
            if (offset === undefined) continue
            pending.delete(partition)
            member.seek({ topic: settings.topic, partition, offset: String(offset) })
          }
          const assignment = new Set(payload.memberAssignment[settings.topic] ?? [])
          const joinedGeneration = ++generation
          transitions = transitions.then(() => transition(assignment, joinedGeneration))
        })
        let crashed!: (error: Error) => void
        const gone = new Promise<Error>((resolve) => (crashed = resolve))
        member.on(member.events.CRASH, ({ payload }) => {
          // kafkajs restarts itself after a retriable error only; after another (e.g. the mock's INVALID_REQUEST to a SyncGroup mid-rebalance) the consumer is made again here.
          if (payload.restart) settings.report({ kind: 'io-error', topic: settings.topic, reason: `consumer of group ${settings.group} failed: ${payload.error.message}; restarting` })
          else crashed(payload.error)
        })
        await member.connect()
        await member.subscribe({ topic: settings.topic, fromBeginning: true })
        await member.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch })
        attempt = 1
        const error = await Promise.race([gone, closed])
        if (error === undefined) return
        throw error
      } catch (err) {
        settings.report({ kind: 'io-error', topic: settings.topic, reason: `consumer of group ${settings.group} stopped: ${(err as Error).message}; starting it again, retry ${attempt}` })
        await consumer?.disconnect().catch(() => undefined)
        consumer = undefined
        try {
          await sleep(settings.retryDelayMs(attempt), undefined, { signal: stop.signal })
        } catch {
          return
        }
      }
    }
  }

  /** Gives up what is no longer assigned, then takes up what is new; never rejects. */
  async function transition(assignment: Set<number>, joinedGeneration: number): Promise<void> {
    const revoked = [...ready].filter((p) => !assignment.has(p))
    for (const p of revoked) ready.delete(p)
    if (revoked.length > 0) await revoke(revoked)
    const added = [...assignment].filter((p) => !ready.has(p))
    if (added.length === 0) return
    for (let attempt = 1; !stop.signal.aborted && generation === joinedGeneration; attempt++) {
      try {
        await settings.onAssigned?.(added)
        for (const p of added) ready.add(p)
        return
      } catch (err) {
        settings.report({ kind: 'handler-failed', topic: settings.topic, reason: `taking up partitions ${added.join(', ')} failed: ${(err as Error)?.message ?? String(err)}; retry ${attempt}` })
      }
      try {
        await sleep(settings.retryDelayMs(attempt), undefined, { signal: stop.signal })
      } catch {
        return
      }
    }
  }

  async function revoke(partitions: number[]): Promise<void> {
    try {
      await settings.onRevoked?.(partitions)
    } catch (err) {
      settings.report({ kind: 'handler-failed', topic: settings.topic, reason: `giving up partitions ${partitions.join(', ')} failed: ${(err as Error)?.message ?? String(err)}` })
    }
  }

  /** Waits for the queued transitions, heartbeating so that a long rebuild does not cost this member its place. */
  async function transitionsDone(heartbeat: () => Promise<void>): Promise<void> {
    for (let current = transitions; ; current = transitions) {
      let done = false
      const settled = current.then(() => { done = true })
      while (!done && !stop.signal.aborted) {
        await Promise.race([settled, sleep(settings.heartbeatIntervalMs)])
        if (!done) await heartbeat()
      }
      if (current === transitions || stop.signal.aborted) return
    }
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    await transitionsDone(heartbeat)
    // A partition whose onAssigned has not resolved (it failed until a newer join) is fetched again once it has.
    if (!ready.has(batch.partition)) return
    const records = batch.messages.map((m) => toLogRecord(settings.topic, batch.partition, m))
    for (const slice of slices(records, settings.maxBatchRecords, settings.maxBatchBytes)) {
      const owned = () => !stop.signal.aborted && isRunning() && !isStale()
      if (!owned()) return
      if (!(await handleWithRetries(slice, owned, heartbeat))) return
      const last = slice[slice.length - 1]!.offset
      resolveOffset(String(last))
      if (settings.autoCommit) {
        await commitOffsetsIfNecessary({ topics: [{ topic: settings.topic, partitions: [{ partition: batch.partition, offset: String(last + 1) }] }] })
      }
      await heartbeat()
    }
  }

  /** True once the handler accepted the slice; false when the partition was lost or the subscription closed first. */
  async function handleWithRetries(slice: LogRecord[], owned: () => boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    for (let attempt = 1; owned(); attempt++) {
      try {
        await handler(slice)
        return true
      } catch (err) {
        settings.report({ kind: 'handler-failed', topic: settings.topic, partition: slice[0]!.partition, reason: `${(err as Error)?.message ?? String(err)}; retry ${attempt}` })
      }
      // Heartbeat through a long backoff so the group does not think this member died; a rebalance error thrown here goes to kafkajs, which rejoins and redelivers from the last resolved offset.
      const until = Date.now() + settings.retryDelayMs(attempt)
      while (owned() && Date.now() < until) {
        try {
          await sleep(Math.min(until - Date.now(), settings.heartbeatIntervalMs), undefined, { signal: stop.signal })
        } catch {
          return false
        }
        await heartbeat()
      }
    }
    return false
  }

  return {
    topic: settings.topic,
    group: settings.group,
    async commit(topic, partition, nextOffset) {
      if (!joined || consumer === undefined || stop.signal.aborted) return false
      await consumer.commitOffsets([{ topic, partition, offset: String(nextOffset) }])
      return true
    },
    close() {
      closing ??= (async () => {
        stop.abort()
        await started
        // kafkajs's disconnect waits for the eachBatch in flight, then leaves the group.
        await consumer?.disconnect()
        await transitions
        const held = [...ready]
        ready.clear()
        if (held.length > 0) await revoke(held)
      })().finally(onClosed)
      return closing
    },
  }
}

export function toLogRecord(topic: string, partition: number, m: KafkaMessage): LogRecord {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    // A header repeated in a record arrives as an array; the log's records carry one value per name, the last.
    const last = Array.isArray(value) ? value[value.length - 1] : value
    if (last !== undefined) headers[name] = last.toString()
  }
  return { topic, partition, offset: Number(m.offset), key: m.key, value: m.value ?? Buffer.alloc(0), headers, timestamp: Number(m.timestamp) }
}

/** Cuts records into runs of at most maxRecords and maxBytes (key + value); one record always fits. */
function* slices(records: LogRecord[], maxRecords: number, maxBytes: number): Generator<LogRecord[]> {
  let current: LogRecord[] = []
  let bytes = 0
  for (const record of records) {
    const size = record.value.length + (record.key?.length ?? 0)
    if (current.length > 0 && (current.length >= maxRecords || bytes + size > maxBytes)) {
      yield current
      current = []
      bytes = 0
    }
    current.push(record)
    bytes += size
  }
  if (current.length > 0) yield current
}
