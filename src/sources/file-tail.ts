import { createHash } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { lineTranscoder, type LineTranscoder } from './encoding.js'
import { expandGlob, globBase, hasMagic } from './glob.js'
import { LineSplitter } from './line-splitter.js'
import type { LogPath } from './logpath.js'
import type { PositionStore } from './position-store.js'
import { stderrLog, type LineBatch, type Source, type SourceCounters, type SourceLog } from './source.js'

/** Follows log files the way fail2ban's `logpath` names them. */
export interface FileTailConfig {
  /** The files or globs to follow (see parseLogPaths); a glob also picks up files created later. */
  paths: LogPath[]
  /** fail2ban's `logencoding`: 'auto' (UTF-8), 'utf-8', 'latin-1', or any encoding node's TextDecoder knows. Lines are handed on as UTF-8. */
  encoding?: string
  /** Longer lines are cut to this many bytes and counted as `oversized_lines`. Default DEFAULT_MAX_LINE_BYTES. */
  max_line_bytes?: number
  /** How often files are checked when no change notification came (the fallback for file systems fs.watch cannot see). Default 1000. */
  poll_interval_ms?: number
  /** How long a file that was rotated away is still read, for writers that reopen their log late. Default 5000. */
  rotate_wait_ms?: number
  /**
   * Largest read; also bounds the lines of one batch (one `lines` record, well under Kafka's default
   * 1 MB message limit). Default DEFAULT_READ_CHUNK_BYTES.
   */
  read_chunk_bytes?: number
  /** Where positions are kept so a restart resumes; without it every start follows `start_at`. */
  position_store?: PositionStore
  /** The batch's host. Default os.hostname(). */
  host?: string
  log?: SourceLog
  /** Wall clock in milliseconds; injectable for tests. */
  now?: () => number
}

/** The resume token of a file batch. */
export interface FilePosition {
  path: string
  dev: string
  ino: string
  /** Bytes of the file consumed through the last complete line. */
  offset: number
  /** Hash of the file's first line, to tell a reused inode from the same file (as fail2ban does). */
  head_hash?: string
}

interface OpenFile {
  path: string
  handle: FileHandle
  dev: string
  ino: string
  /** Bytes read from the file so far; the resume offset is this less what the splitter holds. */
  offset: number
  splitter: LineSplitter
  head_hash?: string
  retired_at?: number
  /** Bytes the file held when banstream started: lines up to here are backlog, not live. */
  backlog_until?: number
}

interface Followed {
  path: string
  start_at: 'head' | 'tail'
  current?: OpenFile
  retired: OpenFile[]
  /** The last error met on this path, so a lasting one (a permission) is logged once. */
  last_error?: string
}

const HEAD_HASH_BYTES = 4096

export const DEFAULT_MAX_LINE_BYTES = 65536

/** A backlog read in 64 KiB batches spent more time waiting on a read and an append per batch than matching its lines. */
export const DEFAULT_READ_CHUNK_BYTES = 262_144

export class FileTail implements Source {
  private readonly transcode: LineTranscoder | undefined
  private readonly maxLineBytes: number
  private readonly chunkBytes: number
  private readonly host: string
  private readonly log: SourceLog
  private readonly now: () => number
  private readonly followed = new Map<string, Followed>()
  private readonly noted = new Set<string>()
  private readonly watchers = new Map<string, FSWatcher>()
  private readonly count = {
    lines: 0,
    batches: 0,
    oversized_lines: 0,
    rotations: 0,
    truncations: 0,
    scan_errors: 0,
    emit_errors: 0,
  }
  private emit: ((batch: LineBatch) => Promise<void>) | undefined
  private timer: NodeJS.Timeout | undefined
  private scanning: Promise<void> | undefined
  /** A scan of everything is due: discovery, then every followed path. */
  private fullScanDue = false
  /**
   * Followed paths whose content changed, as their directory's watcher said: only these are read.
   * Reading every followed file on any change made one busy file among a log host's thousand cost
   * 75 % of a core at 1.5 k lines/s.
   */
  private readonly changed = new Set<string>()
  private stopped = false

  constructor(private readonly config: FileTailConfig) {
    this.transcode = lineTranscoder(config.encoding ?? 'auto')
    this.maxLineBytes = config.max_line_bytes ?? DEFAULT_MAX_LINE_BYTES
    this.chunkBytes = Math.max(config.read_chunk_bytes ?? DEFAULT_READ_CHUNK_BYTES, 1)
    this.host = config.host ?? hostname()
    this.log = config.log ?? stderrLog
    this.now = config.now ?? Date.now
  }

  counters(): SourceCounters {
    return { ...this.count }
  }

  async start(emit: (batch: LineBatch) => Promise<void>): Promise<void> {
    this.emit = emit
    // Opening before start() resolves fixes where each file begins: lines written after start are read even for `tail`.
    await this.discover()
    for (const followed of this.followed.values()) {
      await this.guarded(followed, () => this.openIfPresent(followed, true))
    }
    this.watchDirectories()
    this.timer = setInterval(() => this.scheduleScan(), this.config.poll_interval_ms ?? 1000)
    this.scheduleScan()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    for (const watcher of this.watchers.values()) watcher.close()
    this.watchers.clear()
    await this.scanning
    for (const followed of this.followed.values()) {
      for (const file of [...followed.retired, ...(followed.current ? [followed.current] : [])]) {
        await file.handle.close().catch(() => undefined)
      }
    }
    this.followed.clear()
  }

  /** Schedules reading `path` alone, or (without one) a scan of everything. Scans run one at a time. */
  private scheduleScan(path?: string): void {
    if (this.stopped) return
    if (path === undefined) this.fullScanDue = true
    else this.changed.add(path)
    this.scanning ??= this.scanLoop().finally(() => {
      this.scanning = undefined
    })
  }

  private async scanLoop(): Promise<void> {
    while (!this.stopped && (this.fullScanDue || this.changed.size > 0)) {
      const full = this.fullScanDue
      const changed = [...this.changed]
      this.fullScanDue = false
      this.changed.clear()
      if (full) {
        try {
          await this.discover()
        } catch (error) {
          this.count.scan_errors++
          this.log('error', `file tail: ${(error as Error).message}`)
        }
        this.watchDirectories()
      }
      const due = full ? [...this.followed.values()] : changed.flatMap((path) => this.followed.get(path) ?? [])
      for (const followed of due) {
        if (this.stopped) return
        await this.guarded(followed, () => this.follow(followed))
      }
    }
  }

  /**
   * A watched directory changed. A change to the content of a followed file needs only that file
   * read; anything else (a file created, renamed, removed; a name the watcher did not give) may
   * start or rotate a followed file, and is scanned for in full.
   */
  private onDirectoryChange(dir: string, event: string, name: string | Buffer | null): void {
    const path = name === null ? undefined : join(dir, name.toString())
    this.scheduleScan(event === 'change' && path !== undefined && this.followed.has(path) ? path : undefined)
  }

  private async guarded(followed: Followed, step: () => Promise<void>): Promise<void> {
    try {
      await step()
      followed.last_error = undefined
    } catch (error) {
      this.count.scan_errors++
      const message = (error as Error).message
      if (message !== followed.last_error) this.log('error', `file tail ${followed.path}: ${message}`)
      followed.last_error = message
    }
  }

  /** Adds every path the logpaths name now; notes, once per logpath, those that name nothing yet. */
  private async discover(): Promise<void> {
    for (const { pattern, start_at } of this.config.paths) {
      const paths = await expandGlob(pattern)
      if (paths.length === 0 && !this.noted.has(pattern)) {
        this.noted.add(pattern)
        this.log(
          'warn',
          hasMagic(pattern)
            ? `logpath ${pattern}: no file matches yet; files that appear will be followed`
            : `logpath ${pattern} does not exist yet; it will be followed when it appears`,
        )
      }
      for (const path of paths) {
        if (this.followed.has(path)) continue
        this.followed.set(path, { path, start_at, retired: [] })
      }
    }
  }

  private watchDirectories(): void {
    if (this.stopped) return
    for (const { pattern } of this.config.paths) {
      const dir = globBase(pattern)
      if (this.watchers.has(dir)) continue
      try {
        const watcher = watch(dir, { persistent: false }, (event, name) => this.onDirectoryChange(dir, event, name))
        watcher.on('error', () => {
          watcher.close()
          this.watchers.delete(dir)
        })
        this.watchers.set(dir, watcher)
      } catch {
        // The directory does not exist (yet): polling covers it and the next scan tries again.
      }
    }
  }

  private async follow(followed: Followed): Promise<void> {
    for (const file of [...followed.retired]) {
      await this.drain(file)
      if (this.now() - file.retired_at! >= (this.config.rotate_wait_ms ?? 5000)) {
        followed.retired.splice(followed.retired.indexOf(file), 1)
        await file.handle.close()
      }
    }
    const current = followed.current
    if (current) {
      const onDisk = await statIfPresent(current.path)
      if (!onDisk || String(onDisk.ino) !== current.ino || String(onDisk.dev) !== current.dev) {
        await this.retire(followed, current)
      } else {
        await this.checkTruncation(current)
        await this.drain(current)
        return
      }
    }
    await this.openIfPresent(followed)
    if (followed.current) await this.drain(followed.current)
    else if (followed.retired.length === 0) this.followed.delete(followed.path)
  }

  /** Rotation by rename: finish the old file (its partial last line included), keep reading it a while for late writers. */
  private async retire(followed: Followed, file: OpenFile): Promise<void> {
    this.count.rotations++
    this.log('info', `${file.path} was rotated; finishing the old file`)
    await this.drain(file)
    const partial = file.splitter.flush()
    if (partial) await this.emitLines(file, [partial], false)
    file.retired_at = this.now()
    followed.retired.push(file)
    followed.current = undefined
  }

  /** copytruncate leaves the same inode shorter than what was read, or with a new first line. */
  private async checkTruncation(file: OpenFile): Promise<void> {
    const { size } = await file.handle.stat()
    let truncated = size < file.offset
    if (!truncated && file.head_hash !== undefined) truncated = (await headHash(file.handle)) !== file.head_hash
    if (!truncated) return
    this.count.truncations++
    this.log('info', `${file.path} was truncated; reading it again from the start`)
    const partial = file.splitter.flush()
    if (partial) await this.emitLines(file, [partial], true)
    file.offset = 0
    file.head_hash = undefined
  }

  /** Opens the file now at the path: at its saved position or per `start_at` when the source starts, else at 0 (it is new). */
  private async openIfPresent(followed: Followed, starting = false): Promise<void> {
    if (followed.current) return
    let handle: FileHandle
    try {
      handle = await open(followed.path, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    const { dev, ino, size } = await handle.stat({ bigint: true })
    const renamed = starting ? undefined : this.takeRetired(String(dev), String(ino))
    if (renamed) {
      await handle.close()
      renamed.path = followed.path
      renamed.retired_at = undefined
      followed.current = renamed
      return
    }
    const file: OpenFile = {
      path: followed.path,
      handle,
      dev: String(dev),
      ino: String(ino),
      offset: 0,
      splitter: new LineSplitter(this.maxLineBytes, () => this.count.oversized_lines++),
      head_hash: await headHash(handle),
    }
    followed.current = file
    if (starting) {
      file.backlog_until = Number(size)
      await this.placeAtStart(followed, file, Number(size))
    }
  }

  /**
   * A rotated file that reappears under a name the logpaths also match (a glob
   * such as `/var/log/app*` matches `app.log.1`) is carried on where it was
   * read up to, not read again from its start.
   */
  private takeRetired(dev: string, ino: string): OpenFile | undefined {
    for (const followed of this.followed.values()) {
      const at = followed.retired.findIndex((file) => file.dev === dev && file.ino === ino)
      if (at !== -1) return followed.retired.splice(at, 1)[0]
    }
    return undefined
  }

  private async placeAtStart(followed: Followed, file: OpenFile, size: number): Promise<void> {
    const saved = await this.config.position_store?.load(filePositionKey(file.path))
    if (isFilePosition(saved)) {
      const same =
        saved.dev === file.dev &&
        saved.ino === file.ino &&
        saved.offset <= size &&
        (saved.head_hash === undefined || saved.head_hash === file.head_hash)
      if (same) file.offset = saved.offset
      else this.log('info', `${file.path} changed while stopped; reading it from the start`)
      return
    }
    if (followed.start_at === 'head' || size === 0) return
    file.offset = size
    const last = Buffer.alloc(1)
    await file.handle.read(last, 0, 1, size - 1)
    if (last[0] !== 0x0a) file.splitter.skipToNextLine()
  }

  private async drain(file: OpenFile): Promise<void> {
    const { size } = await file.handle.stat()
    // The next chunk is read while this one's lines are handed over: reads run on libuv's thread
    // pool, so a backlog is read while it is matched.
    let next = readChunk(file, this.chunkBytes, size)
    try {
      while (next !== undefined && !this.stopped) {
        const chunk = await next
        next = undefined
        if (chunk.length === 0) return
        const resumeAt = file.offset - file.splitter.pending
        file.offset += chunk.length
        if (file.head_hash === undefined) file.head_hash = await headHash(file.handle)
        const lines = file.splitter.push(chunk)
        next = readChunk(file, this.chunkBytes, size)
        if (lines.length === 0) continue
        try {
          await this.emitLines(file, lines, file.retired_at === undefined)
        } catch (error) {
          // Reading again from the last handed-over line gives at-least-once delivery.
          file.offset = resumeAt
          file.splitter.reset()
          throw error
        }
      }
    } finally {
      // No read may be left running on a handle its caller is about to close; its bytes are read again next time.
      if (next !== undefined) await next.catch(() => undefined)
    }
  }

  private async emitLines(file: OpenFile, lines: Buffer[], checkpoint: boolean): Promise<void> {
    const position: FilePosition = {
      path: file.path,
      dev: file.dev,
      ino: file.ino,
      offset: file.offset - file.splitter.pending,
      ...(file.head_hash !== undefined && { head_hash: file.head_hash }),
    }
    const transcode = this.transcode
    const batch: LineBatch = {
      stream: file.path,
      host: this.host,
      lines: transcode ? lines.map(transcode) : lines,
      position,
      received_at: this.now(),
      ...(file.backlog_until !== undefined && position.offset <= file.backlog_until && { backlog: true }),
    }
    try {
      await this.emit!(batch)
    } catch (error) {
      this.count.emit_errors++
      throw error
    }
    this.count.lines += lines.length
    this.count.batches++
    if (checkpoint) await this.config.position_store?.save(filePositionKey(file.path), position)
  }
}

/** The bytes read of the file's next chunk from its offset, up to `size`; undefined when the offset is there. */
function readChunk(file: OpenFile, chunkBytes: number, size: number): Promise<Buffer> | undefined {
  if (file.offset >= size) return undefined
  return readAhead(file.handle, file.offset, Math.min(chunkBytes, size - file.offset))
}

/**
 * The bytes read from `offset`, at most `length` (none at the end of the file), in a new buffer: a
 * read started ahead, while the lines of the chunk before are handed over.
 */
export function readAhead(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const chunk = Buffer.allocUnsafe(length)
  const read = handle.read(chunk, 0, length, offset).then(({ bytesRead }) => chunk.subarray(0, bytesRead))
  // It may fail while the lines before it are handed over, before anyone awaits it: that is no unhandled rejection.
  read.catch(() => undefined)
  return read
}

/** The key a followed file's position is kept under in the position store. */
export function filePositionKey(path: string): string {
  return `file:${path}`
}

function isFilePosition(value: unknown): value is FilePosition {
  const p = value as FilePosition
  return typeof p === 'object' && p !== null && typeof p.dev === 'string' && typeof p.ino === 'string' && typeof p.offset === 'number'
}

async function statIfPresent(path: string): Promise<{ dev: bigint; ino: bigint } | undefined> {
  try {
    return await stat(path, { bigint: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** The hash of the first line, or of the first 4 KiB when that line is longer; undefined until either is there. */
async function headHash(handle: FileHandle): Promise<string | undefined> {
  const head = Buffer.alloc(HEAD_HASH_BYTES)
  const { bytesRead } = await handle.read(head, 0, HEAD_HASH_BYTES, 0)
  const newline = head.subarray(0, bytesRead).indexOf(0x0a)
  if (newline === -1 && bytesRead < HEAD_HASH_BYTES) return undefined
  const firstLine = head.subarray(0, newline === -1 ? HEAD_HASH_BYTES : newline + 1)
  return createHash('sha256').update(firstLine).digest('hex').slice(0, 32)
}
