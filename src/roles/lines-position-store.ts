import { Topics } from '../../schemas/topics.js'
import type { Log } from '../log/log.js'
import { readToEnd } from '../log/read-to-end.js'
import type { LineBatch } from '../sources/source.js'
import { JsonFilePositionStore, type PositionStore } from '../sources/position-store.js'

/** Where in `lines` the records not covered by a saved position begin, per partition. */
const UNSAVED_FROM = 'lines-unsaved-from'

interface Appended {
  stream: string
  partition: number
  offset: number
}

/**
 * Source positions that agree with the `lines` topic. A source saves its
 * position after its batch is appended, so a crash between the two would
 * make it read the batch again and count its failures twice. The record of
 * what was read is the topic itself: at open, the records appended after the
 * last saved positions are read back and their positions saved.
 *
 * So a save need not reach the disk before the source reads on: it resolves at
 * once and the file is written behind it, saves that come meanwhile sharing
 * one write. Waiting for each synced write held a source to one 64 KiB read
 * per disk sync. flush() waits for the writes.
 */
export class LinesPositionStore implements PositionStore {
  private readonly appended = new WeakMap<object, Appended>()
  private writing: Promise<void> = Promise.resolve()
  /** Per stream, the oldest appended record no saved position covers yet. */
  private readonly unsaved = new Map<string, Appended>()
  private readonly ends = new Map<number, number>()

  private constructor(
    private readonly file: JsonFilePositionStore,
    private readonly keyOf: (stream: string) => string | undefined,
    ends: readonly number[],
    private readonly onError: (error: Error) => void,
  ) {
    ends.forEach((end, partition) => this.ends.set(partition, end))
  }

  /**
   * `keyOf` names the position key a stream's source saves under; streams without positions give
   * undefined. `onError` hears of a write that failed; the next save writes again.
   */
  static async open(path: string, log: Log, keyOf: (stream: string) => string | undefined, onError: (error: Error) => void = () => undefined): Promise<LinesPositionStore> {
    const file = new JsonFilePositionStore(path)
    const from = ((await file.load(UNSAVED_FROM)) ?? {}) as Record<number, number>
    const ends = await log.endOffsets(Topics.lines.name)
    const saves: Promise<void>[] = []
    for await (const record of readToEnd(log, Topics.lines.name, from)) {
      const { stream, position } = record.headers
      const key = stream === undefined ? undefined : keyOf(stream)
      if (key !== undefined && position !== undefined) saves.push(file.save(key, JSON.parse(position)))
    }
    const store = new LinesPositionStore(file, keyOf, ends, onError)
    saves.push(file.save(UNSAVED_FROM, store.unsavedFrom()))
    await Promise.all(saves)
    return store
  }

  /** Tells the store where a batch landed; call it once the append resolved, before the source saves. */
  noteAppended(batch: LineBatch, partition: number, offset: number): void {
    this.ends.set(partition, offset + 1)
    if (typeof batch.position !== 'object' || batch.position === null || this.keyOf(batch.stream) === undefined) return
    const where = { stream: batch.stream, partition, offset }
    this.appended.set(batch.position, where)
    if (!this.unsaved.has(batch.stream)) this.unsaved.set(batch.stream, where)
  }

  load(key: string): Promise<unknown> {
    return this.file.load(key)
  }

  async save(key: string, position: unknown): Promise<void> {
    const where = typeof position === 'object' && position !== null ? this.appended.get(position) : undefined
    if (where && (this.unsaved.get(where.stream)?.offset ?? Infinity) <= where.offset) this.unsaved.delete(where.stream)
    // Position first: any file written with the new mark holds the position it relies on.
    const saving = this.file.save(key, position)
    const marking = this.file.save(UNSAVED_FROM, this.unsavedFrom())
    this.writing = Promise.all([saving, marking]).then(() => undefined, (error: Error) => this.onError(error))
  }

  /** Waits until the positions saved so far are written. */
  flush(): Promise<void> {
    return this.writing
  }

  private unsavedFrom(): Record<number, number> {
    const from: Record<number, number> = Object.fromEntries(this.ends)
    for (const { partition, offset } of this.unsaved.values()) from[partition] = Math.min(from[partition] ?? Infinity, offset)
    return from
  }
}
