import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LogError } from './log-error.js'
import { partitionForKey } from './murmur2.js'
import { checkTopicName } from './names.js'
import { OffsetStore } from './offset-store.js'
import { PartitionLog, type FsyncPolicy, type StoredRecord } from './partition-log.js'
import { frameBytes } from './record-frame.js'
import { lockDataDir } from './data-dir-lock.js'
import { startSubscription, type SubscriptionSource } from './embedded-subscription.js'
import { syncDir } from './sync-dir.js'
import type { BatchHandler, Log, LogProblem, LogRecord, ProblemReporter, ProducedRecord, SubscribeOptions, Subscription } from './log.js'

export type { FsyncPolicy } from './partition-log.js'

/** Per-topic overrides of the log-wide defaults. */
export interface TopicSettings {
  /** Delete whole segments whose newest record is older than this; Infinity keeps them. */
  retentionMs?: number
  /** Delete the oldest segments while a partition stays at least this big without them; Infinity keeps them. */
  retentionBytes?: number
  /** Roll to a new segment file before one would grow past this. */
  segmentBytes?: number
}

export interface EmbeddedLogOptions {
  /** Holds `log/<topic>/<partition>/` (segments) and `offsets/<group>/<topic>.json`. Created when missing. */
  dataDir: string
  /** When appends are forced to disk (default `{ intervalMs: 1000 }`); see FsyncPolicy. */
  fsync?: FsyncPolicy
  /** Default 64 MiB. */
  segmentBytes?: number
  /** Bytes of records between two offset index entries (default 4096). */
  indexIntervalBytes?: number
  /** Largest record accepted, framing included (default 1 MiB, Kafka's default). */
  maxRecordBytes?: number
  /** Default 7 days, Kafka's default. */
  retentionMs?: number
  /** Default Infinity (no size limit). */
  retentionBytes?: number
  topics?: Record<string, TopicSettings>
  /** How often retention runs (default 5 minutes); enforceRetention() runs it on demand. */
  retentionCheckIntervalMs?: number
  /** First delay before a failed handler gets its batch again; doubles up to 30 s (default 100). */
  handlerRetryBaseMs?: number
  /** The clock for default record timestamps and retention (default Date.now). */
  now?: () => number
  /** Where skipped and repaired damage is reported (default: a JSON line on stderr). */
  report?: ProblemReporter
}

interface Topic {
  name: string
  partitions: PartitionLog[]
  /** Moves on every append; subscribers wait on it instead of polling. */
  version: number
  waiters: Set<() => void>
  nextRoundRobin: number
}

const MiB = 1024 * 1024
const DEFAULTS = {
  fsync: { intervalMs: 1000 } as FsyncPolicy,
  segmentBytes: 64 * MiB,
  indexIntervalBytes: 4096,
  maxRecordBytes: MiB,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: Infinity,
  retentionCheckIntervalMs: 5 * 60 * 1000,
  handlerRetryBaseMs: 100,
}
/** Segment positions are 32-bit in the index. */
const MAX_SEGMENT_BYTES = 2 ** 31

/**
 * The log on one host: each topic-partition an append-only run of segment
 * files under the data dir, consumer offsets in files beside them. Appends
 * wake subscribers directly; nothing polls.
 *
 * Departures from Kafka: one subscriber per group and topic (a second one is
 * refused rather than sharing partitions), and a record whose key is null
 * goes round-robin rather than to a sticky partition.
 */
export class EmbeddedLog implements Log {
  private readonly topics = new Map<string, Topic>()
  private readonly creating = new Map<string, Promise<void>>()
  private readonly subscribed = new Set<string>()
  private readonly subscriptions = new Set<Subscription>()
  private readonly timers: NodeJS.Timeout[] = []
  private closed = false

  private constructor(
    private readonly logDir: string,
    private readonly settings: Required<Omit<EmbeddedLogOptions, 'topics' | 'dataDir'>> & { topics: Record<string, TopicSettings> },
    private readonly offsets: OffsetStore,
    private readonly unlock: () => Promise<void>,
  ) {}

  static async open(options: EmbeddedLogOptions): Promise<EmbeddedLog> {
    const settings = {
      ...DEFAULTS,
      now: Date.now,
      report: reportToStderr,
      ...definedOnly(options),
      topics: options.topics ?? {},
    }
    checkSettings(settings)
    for (const topic of Object.values(settings.topics)) checkSettings(topic)
    const logDir = join(options.dataDir, 'log')
    await mkdir(logDir, { recursive: true })
    const unlock = await lockDataDir(join(options.dataDir, 'log.lock'))
    const offsets = new OffsetStore(join(options.dataDir, 'offsets'), settings.fsync === 'always', settings.report)
    const log = new EmbeddedLog(logDir, settings, offsets, unlock)
    try {
      await log.openTopics()
    } catch (err) {
      await log.close()
      throw err
    }
    log.startTimers()
    return log
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    this.checkOpen()
    checkTopicName(topic)
    if (!Number.isSafeInteger(partitions) || partitions < 1) throw new LogError('BANSTREAM_ERR_LOG_PARTITIONS', `a topic needs a whole number of partitions >= 1, not ${partitions}`)
    const existing = this.topics.get(topic)
    if (existing !== undefined) {
      if (existing.partitions.length === partitions) return
      throw new LogError('BANSTREAM_ERR_LOG_TOPIC_EXISTS', `topic ${topic} exists with ${existing.partitions.length} partitions, not ${partitions}`)
    }
    const inFlight = this.creating.get(topic)
    if (inFlight !== undefined) {
      await inFlight
      return this.createTopic(topic, partitions)
    }
    const creation = this.create(topic, partitions).finally(() => this.creating.delete(topic))
    this.creating.set(topic, creation)
    await creation
  }

  async append(topic: string, records: ProducedRecord[]): Promise<{ partition: number; offset: number }[]> {
    this.checkOpen()
    const t = this.topic(topic)
    const now = this.settings.now()
    const byPartition = new Map<number, StoredRecord[]>()
    const placed = records.map((record) => {
      const stored = this.toStored(record, now)
      const partition = record.key === null ? t.nextRoundRobin++ % t.partitions.length : partitionForKey(record.key, t.partitions.length)
      let group = byPartition.get(partition)
      if (group === undefined) byPartition.set(partition, (group = []))
      group.push(stored)
      return { partition, indexInPartition: group.length - 1 }
    })
    const firsts = new Map<number, number>()
    await Promise.all(
      [...byPartition].map(async ([partition, group]) => {
        firsts.set(partition, await t.partitions[partition]!.append(group))
        wake(t)
      }),
    )
    return placed.map(({ partition, indexInPartition }) => ({ partition, offset: firsts.get(partition)! + indexInPartition }))
  }

  subscribe(opts: SubscribeOptions, handler: BatchHandler): Subscription {
    this.checkOpen()
    const t = this.topic(opts.topic)
    for (const limit of ['maxBatchRecords', 'maxBatchBytes'] as const) {
      const value = opts[limit]
      if (value !== undefined && !(value >= 1)) throw new LogError('BANSTREAM_ERR_LOG_SETTINGS', `${limit} must be at least 1, not ${value}`)
    }
    const key = `${opts.group}\0${opts.topic}`
    if (this.subscribed.has(key)) throw new LogError('BANSTREAM_ERR_LOG_GROUP_BUSY', `group ${opts.group} already has a subscriber on ${opts.topic}; the embedded log runs one per group and topic`)
    this.subscribed.add(key)
    const source: SubscriptionSource = {
      topic: t.name,
      partitions: t.partitions.length,
      startOffset: (p) => t.partitions[p]!.startOffset,
      endOffset: (p) => t.partitions[p]!.endOffset,
      read: (p, from, maxRecords, maxBytes) => t.partitions[p]!.read(from, maxRecords, maxBytes),
      version: () => t.version,
      changed: (seen, signal) => changed(t, seen, signal),
      committed: (p) => this.offsets.committed(opts.group, t.name, p),
      commit: (p, next) => this.offsets.commit(opts.group, t.name, p, next),
    }
    const base = this.settings.handlerRetryBaseMs
    const subscription = startSubscription(
      source,
      {
        from: opts.from ?? 'committed',
        autoCommit: opts.autoCommit ?? true,
        maxBatchRecords: opts.maxBatchRecords ?? 500,
        maxBatchBytes: opts.maxBatchBytes ?? MiB,
        retryDelayMs: (attempt) => Math.min(base * 2 ** (attempt - 1), 30_000),
        report: this.settings.report,
        ...(opts.onAssigned ? { onAssigned: (partitions: number[]) => opts.onAssigned!(partitions) } : {}),
        ...(opts.onRevoked ? { onRevoked: (partitions: number[]) => opts.onRevoked!(partitions) } : {}),
      },
      handler,
      () => {
        this.subscribed.delete(key)
        this.subscriptions.delete(subscription)
      },
    )
    this.subscriptions.add(subscription)
    return subscription
  }

  async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    this.checkOpen()
    return (await this.partition(topic, partition).read(fromOffset, maxRecords, Infinity)).records
  }

  async commit(group: string, topic: string, partition: number, nextOffset: number): Promise<void> {
    this.checkOpen()
    this.partition(topic, partition)
    if (!Number.isSafeInteger(nextOffset) || nextOffset < 0) throw new LogError('BANSTREAM_ERR_LOG_OFFSET', `cannot commit offset ${nextOffset}`)
    await this.offsets.commit(group, topic, partition, nextOffset)
  }

  async committed(group: string, topic: string, partition: number): Promise<number | undefined> {
    this.checkOpen()
    this.partition(topic, partition)
    return this.offsets.committed(group, topic, partition)
  }

  async startOffsets(topic: string): Promise<number[]> {
    return this.topic(topic).partitions.map((p) => p.startOffset)
  }

  async endOffsets(topic: string): Promise<number[]> {
    return this.topic(topic).partitions.map((p) => p.endOffset)
  }

  /** Applies every topic's retention now (it also runs every retentionCheckIntervalMs). */
  async enforceRetention(): Promise<void> {
    const now = this.settings.now()
    await Promise.all([...this.topics.values()].flatMap((t) => t.partitions.map((p) => p.enforceRetention(now))))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    await Promise.all([...this.subscriptions].map((s) => s.close()))
    await Promise.all([...this.creating.values()].map((c) => c.catch(() => undefined)))
    await Promise.all([...this.topics.values()].flatMap((t) => t.partitions.map((p) => p.close())))
    await this.offsets.close()
    await this.unlock()
  }

  private async openTopics(): Promise<void> {
    for (const entry of await readdir(this.logDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const meta = join(this.logDir, entry.name, 'topic.json')
      let partitions: number
      try {
        partitions = (JSON.parse(await readFile(meta, 'utf8')) as { partitions: number }).partitions
        if (!Number.isSafeInteger(partitions) || partitions < 1) throw new Error(`bad partition count ${partitions}`)
      } catch (err) {
        // A topic whose creation never finished has no topic.json; createTopic picks its directory up again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.settings.report({ kind: 'unreadable-segment', topic: entry.name, file: meta, reason: `topic skipped: ${(err as Error).message}` })
        continue
      }
      this.topics.set(entry.name, await this.openTopic(entry.name, partitions))
    }
  }

  private async create(topic: string, partitions: number): Promise<void> {
    const t = await this.openTopic(topic, partitions)
    const dir = join(this.logDir, topic)
    const meta = join(dir, 'topic.json')
    // topic.json is written last and by rename: a topic exists on disk exactly when its partitions do.
    await writeFile(`${meta}.tmp`, JSON.stringify({ partitions }))
    await rename(`${meta}.tmp`, meta)
    if (this.settings.fsync !== 'never') {
      await syncDir(dir)
      await syncDir(this.logDir)
    }
    this.topics.set(topic, t)
  }

  private async openTopic(name: string, partitions: number): Promise<Topic> {
    const overrides = this.settings.topics[name] ?? {}
    const retentionMs = overrides.retentionMs ?? this.settings.retentionMs
    const retentionBytes = overrides.retentionBytes ?? this.settings.retentionBytes
    const logs: PartitionLog[] = []
    for (let p = 0; p < partitions; p++) {
      logs.push(
        await PartitionLog.open(join(this.logDir, name, String(p)), name, p, {
          segmentBytes: overrides.segmentBytes ?? this.settings.segmentBytes,
          indexIntervalBytes: this.settings.indexIntervalBytes,
          ...(Number.isFinite(retentionMs) ? { retentionMs } : {}),
          ...(Number.isFinite(retentionBytes) ? { retentionBytes } : {}),
          fsync: this.settings.fsync,
          report: this.settings.report,
        }),
      )
    }
    return { name, partitions: logs, version: 0, waiters: new Set(), nextRoundRobin: 0 }
  }

  private startTimers(): void {
    const { fsync, retentionCheckIntervalMs } = this.settings
    if (typeof fsync === 'object') {
      this.timers.push(
        setInterval(() => {
          for (const t of this.topics.values()) {
            for (const p of t.partitions) {
              p.syncIfDirty().catch((err: Error) => this.settings.report({ kind: 'io-error', topic: t.name, partition: p.partition, reason: `fsync failed: ${err.message}` }))
            }
          }
        }, fsync.intervalMs).unref(),
      )
    }
    this.timers.push(
      setInterval(() => {
        this.enforceRetention().catch((err: Error) => this.settings.report({ kind: 'io-error', reason: `retention failed: ${err.message}` }))
      }, retentionCheckIntervalMs).unref(),
    )
  }

  private toStored(record: ProducedRecord, now: number): StoredRecord {
    if (!Buffer.isBuffer(record.value) || (record.key !== null && !Buffer.isBuffer(record.key))) {
      throw new LogError('BANSTREAM_ERR_LOG_RECORD', 'a record needs a Buffer value and a Buffer or null key')
    }
    const timestamp = record.timestamp ?? now
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new LogError('BANSTREAM_ERR_LOG_RECORD', `invalid record timestamp ${timestamp}`)
    const headers = record.headers ?? {}
    const bytes = frameBytes(record.key, record.value, headers)
    if (bytes > this.settings.maxRecordBytes) throw new LogError('BANSTREAM_ERR_LOG_RECORD_TOO_LARGE', `record of ${bytes} bytes exceeds maxRecordBytes ${this.settings.maxRecordBytes}`)
    return { key: record.key, value: record.value, headers, timestamp }
  }

  private topic(name: string): Topic {
    const t = this.topics.get(name)
    if (t === undefined) throw new LogError('BANSTREAM_ERR_LOG_UNKNOWN_TOPIC', `unknown topic ${name}`)
    return t
  }

  private partition(topic: string, partition: number): PartitionLog {
    const p = this.topic(topic).partitions[partition]
    if (p === undefined) throw new LogError('BANSTREAM_ERR_LOG_UNKNOWN_PARTITION', `topic ${topic} has no partition ${partition}`)
    return p
  }

  private checkOpen(): void {
    if (this.closed) throw new LogError('BANSTREAM_ERR_LOG_CLOSED', 'the log is closed')
  }
}

function wake(t: Topic): void {
  t.version++
  const waiters = [...t.waiters]
  t.waiters.clear()
  for (const resolve of waiters) resolve()
}

function changed(t: Topic, seen: number, signal: AbortSignal): Promise<void> {
  if (t.version !== seen || signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      t.waiters.delete(done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    t.waiters.add(done)
    signal.addEventListener('abort', done, { once: true })
  })
}

function checkSettings(s: { segmentBytes?: number; indexIntervalBytes?: number; retentionMs?: number; retentionBytes?: number; maxRecordBytes?: number }): void {
  for (const [name, value] of Object.entries(s)) {
    if (!['segmentBytes', 'indexIntervalBytes', 'retentionMs', 'retentionBytes', 'maxRecordBytes'].includes(name) || value === undefined) continue
    if (typeof value !== 'number' || !(value > 0)) throw new LogError('BANSTREAM_ERR_LOG_SETTINGS', `${name} must be a positive number, not ${String(value)}`)
  }
  const fsync = (s as { fsync?: FsyncPolicy }).fsync
  if (typeof fsync === 'object' && !(fsync.intervalMs > 0)) throw new LogError('BANSTREAM_ERR_LOG_SETTINGS', `fsync.intervalMs must be a positive number, not ${String(fsync.intervalMs)}`)
  if (s.segmentBytes !== undefined && s.segmentBytes > MAX_SEGMENT_BYTES) throw new LogError('BANSTREAM_ERR_LOG_SETTINGS', `segmentBytes must be at most ${MAX_SEGMENT_BYTES}`)
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function reportToStderr(problem: LogProblem): void {
  process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'log', ...problem })}\n`)
}
