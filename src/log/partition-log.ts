import { mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeFrame, MIN_FRAME_BYTES, type FrameContent } from './record-frame.js'
import { Segment, segmentFileName, type SegmentSettings } from './segment.js'
import { syncDir } from './sync-dir.js'
import type { LogRecord, ProblemReporter } from './log.js'

/**
 * When appended bytes are forced to disk:
 * - `always`: before an append resolves (concurrent appends share one fsync);
 * - `{ intervalMs }`: every interval, so a power loss loses at most that long;
 * - `never`: whenever the OS writes back.
 * A process crash loses nothing already written under any policy: the page
 * cache outlives the process.
 */
export type FsyncPolicy = 'always' | 'never' | { intervalMs: number }

export interface PartitionSettings {
  /** A segment is rolled before it would grow past this many bytes. */
  segmentBytes: number
  /** One index entry per this many bytes of frames. */
  indexIntervalBytes: number
  /** Whole segments whose newest record is older than this are deleted. */
  retentionMs?: number
  /** Oldest segments are deleted while the partition stays at least this big without them. */
  retentionBytes?: number
  fsync: FsyncPolicy
  report: ProblemReporter
}

/** A record ready to store: defaults filled in by the caller. */
export interface StoredRecord {
  key: Buffer | null
  value: Buffer
  headers: Record<string, string>
  timestamp: number
}

interface PendingAppend {
  records: StoredRecord[]
  resolve: (firstOffset: number) => void
  reject: (err: unknown) => void
}

const SEGMENT_NAME = /^(\d{20})\.log$/

/** One topic-partition: an ordered run of segments under `<dataDir>/log/<topic>/<partition>/`. */
export class PartitionLog {
  /** Offsets below this are delivered to readers: appended and, under `always`, synced. */
  private readableEnd: number
  private pending: PendingAppend[] = []
  private draining = false
  private dirty = false
  /** The interval policy's sync while it runs: beside the chain, so appends do not wait for the disk. */
  private syncing: Promise<void> | undefined
  private closed = false
  /** Appends, rolls, retention and close run one at a time, in call order. */
  private chain: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly dir: string,
    readonly topic: string,
    readonly partition: number,
    private readonly settings: PartitionSettings,
    private readonly segmentSettings: SegmentSettings,
    private segments: Segment[],
  ) {
    this.readableEnd = this.active.nextOffset
  }

  static async open(dir: string, topic: string, partition: number, settings: PartitionSettings): Promise<PartitionLog> {
    const segmentSettings: SegmentSettings = {
      indexIntervalBytes: settings.indexIntervalBytes,
      report: (problem) => settings.report({ ...problem, topic, partition }),
    }
    await mkdir(dir, { recursive: true })
    const bases = (await readdir(dir))
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((base): base is string => base !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
    const segments: Segment[] = []
    // Offsets an unreadable segment may hold are never reused: a later read of it must not see two records at one offset.
    let nextBase = 0
    for (const [i, base] of bases.entries()) {
      try {
        const segment = await Segment.open(dir, base, i === bases.length - 1, segmentSettings)
        segments.push(segment)
        nextBase = segment.nextOffset
      } catch (err) {
        const path = join(dir, segmentFileName(base, 'log'))
        settings.report({ kind: 'unreadable-segment', topic, partition, file: path, reason: `cannot open: ${(err as Error).message}` })
        const size = await stat(path).then((s) => s.size, () => 0)
        nextBase = Math.max(nextBase, base + Math.floor(size / MIN_FRAME_BYTES) + 1)
      }
    }
    const newest = segments[segments.length - 1]
    if (newest === undefined || newest.baseOffset !== bases[bases.length - 1]) {
      segments.push(await Segment.create(dir, nextBase, segmentSettings))
      if (settings.fsync !== 'never') await syncDir(dir)
    }
    return new PartitionLog(dir, topic, partition, settings, segmentSettings, segments)
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!
  }

  get startOffset(): number {
    return this.segments[0]!.baseOffset
  }

  get endOffset(): number {
    return this.readableEnd
  }

  /** Bytes of all segments; what size retention weighs. */
  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0)
  }

  /** Stores the records in order and resolves with the first one's offset. */
  append(records: StoredRecord[]): Promise<number> {
    if (this.closed) return Promise.reject(new Error(`partition ${this.topic}/${this.partition} is closed`))
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject })
      if (!this.draining) {
        this.draining = true
        void this.serial(() => this.drain())
      }
    })
  }

  /**
   * Up to `maxRecords` records from `fromOffset` (raised to the log start),
   * stopping before the record that would take the batch past `maxBytes`
   * (one record always fits). `next` is where the following read continues:
   * past any damaged records that were skipped.
   */
  async read(fromOffset: number, maxRecords: number, maxBytes: number): Promise<{ records: LogRecord[]; next: number }> {
    const records: LogRecord[] = []
    const limit = this.readableEnd
    let next = Math.max(fromOffset, this.startOffset)
    let bytes = 0
    let segments = this.segments
    let i = floorSegment(segments, next)
    while (i < segments.length && records.length < maxRecords && next < limit) {
      const segment = segments[i]!
      if (segment.isDeleted) {
        // Retention removed it mid-read; carry on from the new log start.
        segments = this.segments
        next = Math.max(next, this.startOffset)
        i = floorSegment(segments, next)
        continue
      }
      let stopped = false
      const visit = (frame: FrameContent): boolean => {
        const size = frame.value.length + (frame.key?.length ?? 0)
        if (frame.offset >= limit || records.length >= maxRecords || (records.length > 0 && bytes + size > maxBytes)) {
          stopped = true
          return false
        }
        records.push({ topic: this.topic, partition: this.partition, offset: frame.offset, key: frame.key, value: frame.value, headers: frame.headers, timestamp: frame.timestamp })
        bytes += size
        return true
      }
      try {
        next = Math.max(next, await segment.read(next, visit))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EIO') throw err
        this.settings.report({ kind: 'unreadable-segment', topic: this.topic, partition: this.partition, file: segment.logPath, reason: `read failed, skipping the rest of the segment: ${(err as Error).message}` })
        next = Math.max(next, segments[i + 1]?.baseOffset ?? segment.nextOffset)
      }
      if (stopped) break
      i++
    }
    return { records, next: Math.min(next, Math.max(limit, fromOffset)) }
  }

  /**
   * Forces appended bytes to disk if any are unsynced; the interval policy's
   * tick. It runs beside appends rather than between them: an fsync waits
   * for the disk (on a disk busy with other writers, or a journal commit,
   * far longer than a write into the page cache), and under this policy no
   * append needs it, so none should queue behind it. fsync covers what was
   * written before it started; what is appended meanwhile marks the
   * partition dirty again for the next tick. A tick while the last sync runs
   * joins it.
   */
  syncIfDirty(): Promise<void> {
    if (this.syncing === undefined && this.dirty && !this.closed) {
      this.syncing = this.syncNow().finally(() => {
        this.syncing = undefined
      })
    }
    return this.syncing ?? Promise.resolve()
  }

  /** Waits for a running interval sync, whose file a deletion or close is about to touch. */
  private async syncSettled(): Promise<void> {
    await this.syncing?.catch(() => undefined)
  }

  /**
   * Deletes whole segments from the oldest on: those whose newest record is
   * older than `now - retentionMs`, then those the size limit does not need.
   * The segment being appended to is rolled first when all of it has expired,
   * so an idle topic does not keep expired records forever.
   */
  enforceRetention(now: number): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return
      const { retentionMs, retentionBytes } = this.settings
      if (retentionMs !== undefined) {
        const cutoff = now - retentionMs
        const expired = (s: Segment) => (s === this.active ? !s.empty && s.maxTimestamp < cutoff : s.empty || s.maxTimestamp < cutoff)
        while (expired(this.segments[0]!)) {
          if (this.segments[0] === this.active) await this.roll()
          await this.deleteOldest()
        }
      }
      if (retentionBytes !== undefined) {
        let size = this.sizeBytes
        while (this.segments.length > 1 && size - this.segments[0]!.size >= retentionBytes) {
          size -= this.segments[0]!.size
          await this.deleteOldest()
        }
      }
    })
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      if (this.closed) return
      this.closed = true
      await this.syncSettled()
      if (this.dirty && this.settings.fsync !== 'never') await this.syncNow()
      for (const segment of this.segments) await segment.close()
    })
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task)
    this.chain = run.catch(() => undefined)
    return run
  }

  /** Writes every queued append in one go and, under `always`, syncs once for all of them. */
  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0)
        let firsts: number[]
        try {
          if (this.closed) throw new Error(`partition ${this.topic}/${this.partition} is closed`)
          firsts = await this.write(batch)
          if (this.settings.fsync === 'always') await this.syncNow()
          else this.dirty = true
        } catch (err) {
          for (const append of batch) append.reject(err)
          continue
        } finally {
          this.readableEnd = this.active.nextOffset
        }
        batch.forEach((append, i) => append.resolve(firsts[i]!))
      }
    } finally {
      this.draining = false
    }
  }

  private async write(batch: PendingAppend[]): Promise<number[]> {
    const firsts: number[] = []
    let next = this.active.nextOffset
    let frames: Buffer[] = []
    let offsets: number[] = []
    let timestamps: number[] = []
    let bytes = 0
    for (const append of batch) {
      firsts.push(next)
      for (const record of append.records) {
        const frame = encodeFrame(next, record.timestamp, record.key, record.value, record.headers)
        const used = this.active.size + bytes
        if (used > 0 && used + frame.length > this.settings.segmentBytes) {
          if (frames.length > 0) await this.active.append(frames, offsets, timestamps)
          frames = []
          offsets = []
          timestamps = []
          bytes = 0
          await this.roll()
        }
        frames.push(frame)
        offsets.push(next)
        timestamps.push(record.timestamp)
        bytes += frame.length
        next++
      }
    }
    if (frames.length > 0) await this.active.append(frames, offsets, timestamps)
    return firsts
  }

  /**
   * Seals the active segment and starts a new one at the next offset. A
   * sealed segment is synced first (unless the policy is `never`), so after
   * a power loss only the newest segment can end in a torn write.
   */
  private async roll(): Promise<void> {
    const sealed = this.active
    if (this.settings.fsync !== 'never') await sealed.sync()
    const segment = await Segment.create(this.dir, sealed.nextOffset, this.segmentSettings)
    if (this.settings.fsync !== 'never') await syncDir(this.dir)
    this.segments = [...this.segments, segment]
  }

  private async deleteOldest(): Promise<void> {
    await this.syncSettled()
    const [oldest, ...rest] = this.segments
    this.segments = rest
    await oldest!.delete()
  }

  private async syncNow(): Promise<void> {
    this.dirty = false
    try {
      await this.active.sync()
    } catch (err) {
      this.dirty = true
      throw err
    }
  }
}

/** Index of the last segment whose base offset is at or below `offset` (0 when none is). */
function floorSegment(segments: Segment[], offset: number): number {
  let lo = 0
  let hi = segments.length - 1
  let found = 0
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (segments[mid]!.baseOffset <= offset) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return found
}
