import { readFile } from 'node:fs/promises'
import { writeAtomically } from '../../files/write-atomically.js'
import { BouncerViews } from './bouncer-views.js'

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
  private readonly last = new BouncerViews<number>()

  private constructor(private readonly path: string | undefined) {}

  /** The ledger kept in `path` (read when it exists; an unreadable one starts empty), or in memory alone. */
  static async open(path?: string): Promise<PullLedger> {
    const ledger = new PullLedger(path)
    if (path === undefined) return ledger
    const saved = await readFile(path, 'utf8').then((text) => JSON.parse(text) as unknown).catch(() => undefined)
    for (const [bouncer, views] of entriesOf(saved)) {
      for (const [view, ms] of entriesOf(views)) if (Number.isFinite(ms)) ledger.last.set(bouncer, view, ms as number)
    }
    return ledger
  }

  lastPull(bouncer: string, view: string): number | undefined {
    return this.last.get(bouncer, view)
  }

  pulled(bouncer: string, view: string, ms: number): void {
    const known = this.last.get(bouncer, view) !== undefined
    this.last.set(bouncer, view, ms)
    if (this.path === undefined) return
    // A view's first pull is saved at once: until it is in the file, a crash would forget the view.
    if (!known) this.schedule(0)
    else if (this.timer === undefined) this.schedule(SAVE_DELAY_MS)
  }

  /** Writes what is pending now. */
  async close(): Promise<void> {
    if (this.timer !== undefined) await this.save()
    await this.saving
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.save(), delayMs)
    this.timer.unref()
  }

  private save(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const file: Record<string, Record<string, number>> = {}
    for (const [bouncer, view, ms] of this.last.entries()) (file[bouncer] ??= {})[view] = ms
    const text = JSON.stringify(file)
    // A failed write is retried by the next pull's; the file only ever errs towards older times.
    this.saving = this.saving.then(() => writeAtomically(this.path!, text)).catch(() => undefined)
    return this.saving
  }
}

function entriesOf(value: unknown): [string, unknown][] {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : []
}
