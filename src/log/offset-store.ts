import { mkdir, readFile, rename, writeFile, open } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { syncDir } from './sync-dir.js'
import { fileSafeName } from './names.js'
import type { ProblemReporter } from './log.js'

/**
 * Committed consumer offsets, one JSON file per group and topic
 * (`<dataDir>/offsets/<group>/<topic>.json`, `{ "<partition>": nextOffset }`).
 * A file is replaced by write-then-rename, so a crash leaves the old or the
 * new version, never a mix. With `durable`, the file and its directory are
 * synced before a commit resolves. Commits that arrive while a write is in
 * flight share the next write.
 */
export class OffsetStore {
  private readonly files = new Map<string, OffsetFile>()
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly dir: string,
    private readonly durable: boolean,
    private readonly report: ProblemReporter,
  ) {}

  async committed(group: string, topic: string, partition: number): Promise<number | undefined> {
    return (await this.file(group, topic)).get(partition)
  }

  async commit(group: string, topic: string, partition: number, nextOffset: number): Promise<void> {
    const commit = this.file(group, topic).then((file) => file.set(partition, nextOffset))
    this.inFlight.add(commit)
    try {
      await commit
    } finally {
      this.inFlight.delete(commit)
    }
  }

  /** Waits for writes in flight. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight])
    await Promise.all([...this.files.values()].map((f) => f.settled()))
  }

  private async file(group: string, topic: string): Promise<OffsetFile> {
    const path = join(this.dir, fileSafeName(group), `${topic}.json`)
    let file = this.files.get(path)
    if (file === undefined) {
      file = new OffsetFile(path, this.durable, await this.load(path, topic))
      // Another caller may have loaded the same file meanwhile; keep the first.
      file = this.files.get(path) ?? file
      this.files.set(path, file)
    }
    return file
  }

  private async load(path: string, topic: string): Promise<Map<number, number>> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
      this.report({ kind: 'unreadable-offsets', topic, file: path, reason: (err as Error).message })
      return new Map()
    }
    try {
      const parsed: unknown = JSON.parse(text)
      const offsets = new Map<number, number>()
      for (const [partition, offset] of Object.entries(parsed as Record<string, unknown>)) {
        if (!/^\d+$/.test(partition) || !Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error(`bad entry ${partition}: ${String(offset)}`)
        offsets.set(Number(partition), offset as number)
      }
      return offsets
    } catch (err) {
      this.report({ kind: 'unreadable-offsets', topic, file: path, reason: `not an offsets file: ${(err as Error).message}` })
      return new Map()
    }
  }
}

class OffsetFile {
  private chain: Promise<void> = Promise.resolve()
  private queued: Promise<void> | undefined
  private dirReady = false

  constructor(
    private readonly path: string,
    private readonly durable: boolean,
    private readonly offsets: Map<number, number>,
  ) {}

  get(partition: number): number | undefined {
    return this.offsets.get(partition)
  }

  set(partition: number, nextOffset: number): Promise<void> {
    this.offsets.set(partition, nextOffset)
    if (this.queued !== undefined) return this.queued
    const write = this.chain.then(() => {
      this.queued = undefined
      return this.write()
    })
    this.queued = write
    this.chain = write.catch(() => undefined)
    return write
  }

  settled(): Promise<void> {
    return this.chain
  }

  private async write(): Promise<void> {
    const body = JSON.stringify(Object.fromEntries([...this.offsets].sort(([a], [b]) => a - b)))
    const dir = dirname(this.path)
    const tmp = `${this.path}.tmp`
    if (!this.dirReady) {
      await mkdir(dir, { recursive: true })
      this.dirReady = true
    }
    if (this.durable) {
      const handle = await open(tmp, 'w')
      try {
        await handle.writeFile(body)
        await handle.sync()
      } finally {
        await handle.close()
      }
    } else {
      await writeFile(tmp, body)
    }
    await rename(tmp, this.path)
    if (this.durable) await syncDir(dir)
  }
}
