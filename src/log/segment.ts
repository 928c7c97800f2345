import { open, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeFrame, FRAME_HEADER_BYTES, peekOffset, type FrameContent } from './record-frame.js'
import type { LogProblem } from './log.js'

/**
 * One file of a partition's log, `<baseOffset>.log`, with its sparse offset
 * index `<baseOffset>.index`. Frames are appended at `size`, which only ever
 * covers whole frames; the index holds one entry per `indexIntervalBytes` so
 * a read seeks close to its offset instead of scanning from the start.
 *
 * Damage never stops a segment: a frame that fails its CRC is reported and
 * the bytes up to the next good frame are skipped (remembered in `skips`, so
 * each damage is reported once). On open, damage that runs to the end of the
 * newest segment is a torn write and is cut off.
 */

/** u32 offset relative to the segment base, u32 byte position, f64 largest timestamp so far. */
const INDEX_ENTRY_BYTES = 16
const READ_CHUNK_BYTES = 256 * 1024

export interface IndexEntry {
  offset: number
  position: number
  /** The largest record timestamp up to and including this entry's record; lets retention age a segment without reading it. */
  maxTimestamp: number
}

export interface SegmentSettings {
  indexIntervalBytes: number
  report: (problem: Omit<LogProblem, 'topic' | 'partition'>) => void
}

export function segmentFileName(baseOffset: number, ext: 'log' | 'index'): string {
  return `${String(baseOffset).padStart(20, '0')}.${ext}`
}

export class Segment {
  readonly logPath: string
  readonly indexPath: string
  /** Bytes of whole frames; appends go here and reads stop here. */
  size = 0
  /** One past the last record's offset; the base offset while empty. */
  nextOffset: number
  /** Largest record timestamp, -1 while empty. */
  maxTimestamp = -1
  /** Readers in the middle of a read; a deleted segment closes its file when the last one leaves. */
  private readers = 0
  private deleted = false
  private index: IndexEntry[] = []
  private indexEntriesOnDisk = 0
  private bytesSinceIndex = 0
  private indexHandle: FileHandle | undefined
  /** Damaged byte ranges: start position → first position after the damage. */
  private readonly skips = new Map<number, number>()

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly handle: FileHandle,
    private readonly settings: SegmentSettings,
  ) {
    this.logPath = join(dir, segmentFileName(baseOffset, 'log'))
    this.indexPath = join(dir, segmentFileName(baseOffset, 'index'))
    this.nextOffset = baseOffset
  }

  get empty(): boolean {
    return this.size === 0
  }

  get isDeleted(): boolean {
    return this.deleted
  }

  static async create(dir: string, baseOffset: number, settings: SegmentSettings): Promise<Segment> {
    const handle = await open(join(dir, segmentFileName(baseOffset, 'log')), 'wx+')
    const segment = new Segment(dir, baseOffset, handle, settings)
    await writeFile(segment.indexPath, Buffer.alloc(0))
    return segment
  }

  /**
   * Opens an existing segment and checks it against its index. `newest` marks
   * the segment appends continue in: only there is trailing damage a torn
   * write to cut off; elsewhere it is reported and skipped.
   */
  static async open(dir: string, baseOffset: number, newest: boolean, settings: SegmentSettings): Promise<Segment> {
    const handle = await open(join(dir, segmentFileName(baseOffset, 'log')), 'r+')
    const segment = new Segment(dir, baseOffset, handle, settings)
    try {
      await segment.recover(newest)
    } catch (err) {
      await handle.close()
      throw err
    }
    return segment
  }

  /**
   * Appends whole frames. `offsets` and `timestamps` describe the frames in
   * order. On failure the file is cut back to the last whole frame so a later
   * append does not leave stale frames behind its own.
   */
  async append(frames: Buffer[], offsets: number[], timestamps: number[]): Promise<void> {
    let position = this.size
    let done = 0
    try {
      while (done < frames.length) {
        const { bytesWritten } = await this.handle.writev(frames.slice(done), position)
        if (bytesWritten === 0) throw new Error(`write to ${this.logPath} made no progress`)
        // After a short write the partly written frame is written again whole from its start.
        const whole = countWholeFrames(frames, done, bytesWritten)
        for (let i = done; i < done + whole; i++) position += frames[i]!.length
        done += whole
      }
    } catch (err) {
      await this.handle.truncate(this.size).catch(() => undefined)
      throw err
    }
    const newEntries: IndexEntry[] = []
    position = this.size
    for (let i = 0; i < frames.length; i++) {
      this.maxTimestamp = Math.max(this.maxTimestamp, timestamps[i]!)
      if (this.bytesSinceIndex >= this.settings.indexIntervalBytes) {
        newEntries.push({ offset: offsets[i]!, position, maxTimestamp: this.maxTimestamp })
        this.bytesSinceIndex = 0
      }
      this.bytesSinceIndex += frames[i]!.length
      position += frames[i]!.length
    }
    this.size = position
    this.nextOffset = offsets[offsets.length - 1]! + 1
    if (newEntries.length > 0) {
      this.index.push(...newEntries)
      await this.appendIndexEntries(newEntries)
    }
  }

  async sync(): Promise<void> {
    await this.handle.sync()
    await this.indexHandle?.sync()
  }

  /**
   * Calls `visit` with each record from `fromOffset` on, in order, until it
   * returns false or the segment ends. Returns the offset after the last
   * record visited or passed over, so a caller knows how far it got even
   * when everything in reach was damaged.
   */
  async read(fromOffset: number, visit: (frame: FrameContent) => boolean, chunkBytes = READ_CHUNK_BYTES): Promise<number> {
    if (this.deleted) throw new Error(`segment ${this.logPath} was deleted`)
    this.readers++
    try {
      return await this.readFrom(fromOffset, visit, chunkBytes, true)
    } finally {
      this.readers--
      if (this.deleted && this.readers === 0) await this.handle.close().catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    await this.indexHandle?.close()
    this.indexHandle = undefined
    if (!this.deleted) await this.handle.close()
  }

  /** Removes the files; readers already inside finish on the open descriptor. */
  async delete(): Promise<void> {
    this.deleted = true
    await this.indexHandle?.close()
    this.indexHandle = undefined
    await unlink(this.logPath)
    await unlink(this.indexPath).catch(() => undefined)
    if (this.readers === 0) await this.handle.close()
  }

  private async readFrom(fromOffset: number, visit: (frame: FrameContent) => boolean, chunkBytes: number, mayRebuild: boolean): Promise<number> {
    // Appends set size and nextOffset together, so these two agree.
    const end = this.size
    const endOffset = this.nextOffset
    const entry = this.floorEntry(fromOffset)
    let position = entry?.position ?? 0
    let lastOffset = (entry?.offset ?? this.baseOffset) - 1
    let reached = fromOffset
    let chunk: Buffer = Buffer.alloc(0)
    let chunkStart = position
    let checkEntry = entry !== undefined
    while (position < end) {
      const skipTo = this.skips.get(position)
      if (skipTo !== undefined) {
        position = skipTo
        checkEntry = false
        continue
      }
      let result = decodeFrame(chunk, position - chunkStart, end - position - FRAME_HEADER_BYTES)
      // Read again as far as the frame says it needs: twice when the chunk held too little of its header
      // to tell its length, so a frame longer than a chunk is read whole, not taken for damage.
      for (let reads = 0; reads < 2 && result.status === 'short' && position + result.size <= end; reads++) {
        chunkStart = position
        chunk = await this.readAt(position, Math.min(end - position, Math.max(chunkBytes, result.size)))
        result = decodeFrame(chunk, 0, end - position - FRAME_HEADER_BYTES)
      }
      if (checkEntry && (result.status !== 'ok' || result.frame.offset !== entry!.offset) && mayRebuild) {
        await this.rebuildIndex(end, `index entry for offset ${entry!.offset} does not match the segment`)
        return this.readFrom(fromOffset, visit, chunkBytes, false)
      }
      checkEntry = false
      if (result.status !== 'ok') {
        const reason = result.status === 'short' ? 'frame runs past the end of the segment' : result.reason
        const next = await this.resync(position, lastOffset, end)
        this.markDamaged(position, next, reason)
        position = next
        continue
      }
      const { frame, size } = result
      position += size
      lastOffset = frame.offset
      if (frame.offset < fromOffset) continue
      if (!visit(frame)) return frame.offset
      reached = frame.offset + 1
    }
    return Math.max(reached, endOffset)
  }

  private floorEntry(offset: number): IndexEntry | undefined {
    let lo = 0
    let hi = this.index.length - 1
    let found: IndexEntry | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const entry = this.index[mid]!
      if (entry.offset <= offset) {
        found = entry
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  private async readAt(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length)
    let filled = 0
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buf, filled, length - filled, position + filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    return buf.subarray(0, filled)
  }

  /**
   * Finds the first good frame after damaged bytes at `from`: a frame that
   * decodes, passes its CRC and carries an offset above the last good one.
   * Returns `end` when there is none. Reads the rest of the segment at once;
   * damage is rare and a segment is bounded.
   */
  private async resync(from: number, afterOffset: number, end: number): Promise<number> {
    const rest = await this.readAt(from + 1, end - from - 1)
    for (let at = 0; at + FRAME_HEADER_BYTES < rest.length; at++) {
      const offset = peekOffset(rest, at)
      if (offset === undefined || offset <= afterOffset) continue
      const result = decodeFrame(rest, at, rest.length - at - FRAME_HEADER_BYTES)
      if (result.status === 'ok') return from + 1 + at
    }
    return end
  }

  private markDamaged(from: number, to: number, reason: string): void {
    if (this.skips.get(from) === to) return
    this.skips.set(from, to)
    this.settings.report({ kind: 'corrupt-record', file: this.logPath, position: from, reason: `${reason}; skipped ${to - from} bytes` })
  }

  /**
   * Establishes size, nextOffset and maxTimestamp from the file. Trusts the
   * index up to its last entry when that entry points at the record it names,
   * and scans from there to the end of the file.
   */
  private async recover(newest: boolean): Promise<void> {
    const fileSize = (await this.handle.stat()).size
    const loaded = await this.loadIndex(fileSize)
    let trusted = loaded.entries
    let last = trusted[trusted.length - 1]
    if (last !== undefined) {
      const result = await this.decodeAt(last.position, fileSize)
      if (result.status !== 'ok' || result.frame.offset !== last.offset) {
        this.settings.report({ kind: 'rebuilt-index', file: this.indexPath, reason: 'the last index entry does not match the segment' })
        trusted = []
        last = undefined
      }
    }
    const scan = await this.scan(last, fileSize)
    this.index = [...trusted, ...scan.entries]
    this.nextOffset = scan.nextOffset
    this.maxTimestamp = scan.maxTimestamp
    this.bytesSinceIndex = scan.bytesSinceIndex
    this.size = fileSize
    if (scan.damagedFrom !== undefined) {
      if (newest) {
        this.settings.report({ kind: 'torn-tail', file: this.logPath, position: scan.damagedFrom, reason: `cut ${fileSize - scan.damagedFrom} bytes of an incomplete write` })
        await this.handle.truncate(scan.damagedFrom)
        this.size = scan.damagedFrom
      } else {
        this.markDamaged(scan.damagedFrom, fileSize, 'damaged bytes run to the end of the segment')
      }
    }
    if (!loaded.clean || trusted.length !== loaded.entries.length || scan.entries.length > 0) await this.rewriteIndex()
    else this.indexEntriesOnDisk = loaded.entries.length
  }

  private async decodeAt(position: number, end: number) {
    const maxBody = end - position - FRAME_HEADER_BYTES
    const result = decodeFrame(await this.readAt(position, Math.min(end - position, READ_CHUNK_BYTES)), 0, maxBody)
    if (result.status !== 'short' || position + result.size > end) return result
    return decodeFrame(await this.readAt(position, result.size), 0, maxBody)
  }

  /**
   * Walks frames from the record of index entry `from` (or the start) to
   * `end` and returns what it learnt: index entries past `from`, the offset
   * after the last good record, the largest timestamp, and where trailing
   * damage starts when the walk ends in damage. Damage followed by good frames
   * is reported and remembered as a skip.
   */
  private async scan(from: IndexEntry | undefined, end: number) {
    const entries: IndexEntry[] = []
    let position = from?.position ?? 0
    let nextOffset = from?.offset ?? this.baseOffset
    let maxTimestamp = from?.maxTimestamp ?? -1
    // The record at `from` is already indexed; counting from zero keeps the next entry an interval away.
    let bytesSinceIndex = 0
    let chunk: Buffer = Buffer.alloc(0)
    let chunkStart = position
    let damagedFrom: number | undefined
    while (position < end) {
      let result = decodeFrame(chunk, position - chunkStart, end - position - FRAME_HEADER_BYTES)
      if (result.status === 'short' && position + result.size <= end) {
        chunkStart = position
        chunk = await this.readAt(position, Math.min(end - position, Math.max(READ_CHUNK_BYTES, result.size)))
        result = decodeFrame(chunk, 0, end - position - FRAME_HEADER_BYTES)
      }
      if (result.status === 'ok' && result.frame.offset < nextOffset) {
        result = { status: 'corrupt', reason: `offset ${result.frame.offset} does not follow ${nextOffset - 1}` }
      }
      if (result.status !== 'ok') {
        const next = await this.resync(position, nextOffset - 1, end)
        if (next === end) {
          damagedFrom = position
          break
        }
        this.markDamaged(position, next, result.status === 'short' ? 'frame runs past the end of the segment' : result.reason)
        position = next
        continue
      }
      const { frame, size } = result
      maxTimestamp = Math.max(maxTimestamp, frame.timestamp)
      if (bytesSinceIndex >= this.settings.indexIntervalBytes) {
        entries.push({ offset: frame.offset, position, maxTimestamp })
        bytesSinceIndex = 0
      }
      bytesSinceIndex += size
      nextOffset = frame.offset + 1
      position += size
    }
    return { entries, nextOffset, maxTimestamp, bytesSinceIndex, damagedFrom }
  }

  /**
   * Replaces the in-memory index below `end` with one built from the file.
   * Appends may run meanwhile, so entries they added past `end` are kept and
   * nothing else of the append bookkeeping is touched; the file is left as is
   * (the next open checks it again).
   */
  private async rebuildIndex(end: number, reason: string): Promise<void> {
    this.settings.report({ kind: 'rebuilt-index', file: this.indexPath, reason })
    const scan = await this.scan(undefined, end)
    this.index = [...scan.entries, ...this.index.filter((entry) => entry.position >= end)]
  }

  /** The entries of the index file that are in order and inside the segment, and whether that was all of the file. */
  private async loadIndex(fileSize: number): Promise<{ entries: IndexEntry[]; clean: boolean }> {
    let raw: Buffer
    try {
      raw = await readFile(this.indexPath)
    } catch {
      return { entries: [], clean: false }
    }
    const entries: IndexEntry[] = []
    for (let at = 0; at + INDEX_ENTRY_BYTES <= raw.length; at += INDEX_ENTRY_BYTES) {
      const entry = { offset: this.baseOffset + raw.readUInt32BE(at), position: raw.readUInt32BE(at + 4), maxTimestamp: raw.readDoubleBE(at + 8) }
      const previous = entries[entries.length - 1]
      if (entry.position >= fileSize || (previous !== undefined && (entry.offset <= previous.offset || entry.position <= previous.position))) break
      entries.push(entry)
    }
    return { entries, clean: entries.length * INDEX_ENTRY_BYTES === raw.length }
  }

  private async appendIndexEntries(entries: IndexEntry[]): Promise<void> {
    this.indexHandle ??= await open(this.indexPath, 'r+').catch(() => open(this.indexPath, 'w+'))
    await this.indexHandle.write(encodeIndex(entries, this.baseOffset), 0, entries.length * INDEX_ENTRY_BYTES, this.indexEntriesOnDisk * INDEX_ENTRY_BYTES)
    this.indexEntriesOnDisk += entries.length
  }

  /** Replaces the index file whole; it is derived data, so a crash in between only costs a rebuild. */
  private async rewriteIndex(): Promise<void> {
    await this.indexHandle?.close()
    this.indexHandle = undefined
    const tmp = `${this.indexPath}.tmp`
    await writeFile(tmp, encodeIndex(this.index, this.baseOffset))
    await rename(tmp, this.indexPath)
    this.indexEntriesOnDisk = this.index.length
  }
}

function encodeIndex(entries: IndexEntry[], baseOffset: number): Buffer {
  const buf = Buffer.allocUnsafe(entries.length * INDEX_ENTRY_BYTES)
  entries.forEach((entry, i) => {
    const at = i * INDEX_ENTRY_BYTES
    buf.writeUInt32BE(entry.offset - baseOffset, at)
    buf.writeUInt32BE(entry.position, at + 4)
    buf.writeDoubleBE(entry.maxTimestamp, at + 8)
  })
  return buf
}

/** How many of `frames[from..]` lie wholly inside `bytes` written bytes. */
function countWholeFrames(frames: Buffer[], from: number, bytes: number): number {
  let count = 0
  for (let i = from; i < frames.length && bytes >= frames[i]!.length; i++) {
    bytes -= frames[i]!.length
    count++
  }
  return count
}
