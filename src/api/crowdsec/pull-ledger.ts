import { readFile } from 'node:fs/promises'
import { writeAtomically } from '../../files/write-atomically.js'

/** Bouncer views remembered (a bouncer may pull with filters of its choosing); the least recently pulling one is forgotten first. */
const MAX_CONSUMERS = 4096
/** A pull's time reaches the file at most this much later: it errs earlier, which only re-sends lifts. */
const SAVE_DELAY_MS = 5_000

/**
 * When each bouncer view (bouncer and filter) last pulled the decision stream,
 * kept in a file when given one. A view the feed no longer holds (banstream
 * restarted, or the view was forgotten) is told every ban lifted since then,
 * as CrowdSec's LAPI tells a bouncer what expired since its last pull.
 */
export class PullLedger {
  private saving: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined

  private constructor(private readonly path: string | undefined, private readonly last: Map<string, number>) {}

  /** The ledger kept in `path` (read when it exists; an unreadable one starts empty), or in memory alone. */
  static async open(path?: string): Promise<PullLedger> {
    const last = new Map<string, number>()
    if (path !== undefined) {
      const saved = await readFile(path, 'utf8').then((text) => JSON.parse(text) as unknown).catch(() => undefined)
      if (saved !== null && typeof saved === 'object') {
        for (const [consumer, ms] of Object.entries(saved)) if (Number.isFinite(ms)) last.set(consumer, ms as number)
      }
    }
    return new PullLedger(path, last)
  }

  lastPull(consumer: string): number | undefined {
    return this.last.get(consumer)
  }

  pulled(consumer: string, ms: number): void {
    this.last.delete(consumer)
    this.last.set(consumer, ms)
    if (this.last.size > MAX_CONSUMERS) this.last.delete(this.last.keys().next().value!)
    if (this.path !== undefined && this.timer === undefined) {
      this.timer = setTimeout(() => void this.save(), SAVE_DELAY_MS)
      this.timer.unref()
    }
  }

  /** Writes what is pending now. */
  async close(): Promise<void> {
    if (this.timer !== undefined) await this.save()
    await this.saving
  }

  private save(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const text = JSON.stringify(Object.fromEntries(this.last))
    // A failed write is retried by the next pull's; the file only ever errs towards older times.
    this.saving = this.saving.then(() => writeAtomically(this.path!, text)).catch(() => undefined)
    return this.saving
  }
}
