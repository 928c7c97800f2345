import { readFile } from 'node:fs/promises'
import { writeAtomically } from '../files/write-atomically.js'

/**
 * Where sources keep how far they got, so a restart resumes there.
 * Implementations must: return what the last completed `save` of a key stored
 * (undefined when none); make a `save` durable before it resolves, or not at
 * all, so a crash leaves the previous position and never a torn one.
 */
export interface PositionStore {
  load(key: string): Promise<unknown>
  save(key: string, position: unknown): Promise<void>
}

/**
 * Positions of every key in one JSON file, replaced whole on each save by
 * writing a temporary file, syncing it and renaming it over the old one.
 * Saves are serialized; a save that waits behind another is merged with it.
 */
export class JsonFilePositionStore implements PositionStore {
  private positions: Record<string, unknown> | undefined
  private loading: Promise<Record<string, unknown>> | undefined
  private writing: Promise<void> = Promise.resolve()
  private queued: Promise<void> | undefined

  constructor(private readonly path: string) {}

  async load(key: string): Promise<unknown> {
    return (await this.all())[key]
  }

  async save(key: string, position: unknown): Promise<void> {
    ;(await this.all())[key] = position
    if (this.queued) return this.queued
    const queued = this.writing.then(() => {
      this.queued = undefined
      return this.write()
    })
    this.queued = queued
    this.writing = queued.catch(() => undefined)
    return queued
  }

  // One shared load: saves that wait on it resume in call order, so the last save wins.
  private all(): Promise<Record<string, unknown>> {
    this.loading ??= this.read()
    return this.loading
  }

  private async read(): Promise<Record<string, unknown>> {
    let text: string | undefined
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    const parsed: unknown = text === undefined ? {} : JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`position file ${this.path} does not hold a JSON object`)
    }
    this.positions = parsed as Record<string, unknown>
    return this.positions
  }

  private write(): Promise<void> {
    return writeAtomically(this.path, `${JSON.stringify(this.positions, null, 1)}\n`)
  }
}
