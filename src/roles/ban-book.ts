import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { Decision } from '../../schemas/events/decision.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { partitionKey, Topics } from '../../schemas/topics.js'
import { emptyExpireState, evolveExpire, expireDue, nextExpiry, type ExpireState } from '../../streams/expire.js'
import type { Log, LogProblem, LogRecord, Subscription } from '../log/log.js'
import { readToEnd } from '../log/read-to-end.js'

export interface BanBookOptions {
  readonly log: Log
  /** Wall clock in milliseconds (default Date.now): bans end on it. */
  readonly now?: () => number
  /** Append each ban's lift when it ends (default true): the expire stage. False to only follow `decisions`. */
  readonly expire?: boolean
  readonly report: (problem: LogProblem) => void
}

// setTimeout's limit; a later end is re-armed when the timer fires.
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The bans in force, folded from `decisions`, and the expire stage: when a ban
 * ends on the wall clock, its lift is appended to `decisions`. At start the
 * whole topic is folded before any timer is armed, so a ban lifted before a
 * restart is not lifted again, and one that ended while banstream was down is
 * lifted at once.
 */
export class BanBook {
  private readonly state: ExpireState = emptyExpireState()
  private readonly now: () => number
  private subscription: Subscription | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly waiters = new Map<string, (() => void)[]>()
  private readonly watchers = new Set<(decision: Decision) => void>()
  private readonly issued = new Map<string, number>()
  private expiring: Promise<void> = Promise.resolve()
  private stopped = false

  private constructor(private readonly options: BanBookOptions) {
    this.now = options.now ?? Date.now
  }

  static async start(options: BanBookOptions): Promise<BanBook> {
    const book = new BanBook(options)
    for await (const record of readToEnd(options.log, Topics.decisions.name)) book.apply(record, false)
    // fail2ban counts the bans it restores at start among the jail's total.
    for (const ban of book.state.bans.values()) book.countIssued(ban)
    const ends = await options.log.endOffsets(Topics.decisions.name)
    book.subscription = options.log.subscribe(
      { topic: Topics.decisions.name, group: 'ban-book', from: { offsets: Object.fromEntries(ends.map((e, p) => [p, e])) }, autoCommit: false },
      async (records) => {
        for (const record of records) book.apply(record, true)
        book.arm()
      },
    )
    book.arm()
    return book
  }

  /** The bans in force, every jail. */
  bans(): BanIssued[] {
    return [...this.state.bans.values()]
  }

  /** Bans issued since start (restored ones included), by jail: `Total banned`. */
  totalBanned(jail: string): number {
    return this.issued.get(jail) ?? 0
  }

  /** Resolves once the decision with this id has been folded in (for answering a command only when its effect shows). */
  folded(eventId: string): Promise<void> {
    return new Promise((resolve) => {
      const list = this.waiters.get(eventId)
      if (list) list.push(resolve)
      else this.waiters.set(eventId, [resolve])
    })
  }

  /**
   * Calls `watcher` with every decision folded in from now on, once the book
   * holds its effect (for answering a command by what it caused, when the
   * caller cannot know the decision's id); the returned function stops it.
   */
  watch(watcher: (decision: Decision) => void): () => void {
    this.watchers.add(watcher)
    return () => this.watchers.delete(watcher)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.subscription?.close()
    await this.expiring
  }

  private apply(record: LogRecord, live: boolean): void {
    const decoded = decodeEvent(Decision, record.value)
    if (!decoded.ok) {
      this.options.report({ kind: 'corrupt-record', topic: record.topic, partition: record.partition, position: record.offset, reason: decoded.errors.join('; ') })
      return
    }
    const decision = decoded.value
    if (live && decision.type === 'BanIssued' && decision.reason !== 'prolonged' && !this.state.bans.has(`${decision.jail}\u0000${decision.ip}`)) {
      this.countIssued(decision)
    }
    evolveExpire(this.state, decision)
    const waiting = this.waiters.get(decision.event_id)
    if (waiting) {
      this.waiters.delete(decision.event_id)
      for (const resolve of waiting) resolve()
    }
    for (const watcher of this.watchers) watcher(decision)
  }

  private countIssued(ban: BanIssued): void {
    this.issued.set(ban.jail, (this.issued.get(ban.jail) ?? 0) + 1)
  }

  private arm(): void {
    clearTimeout(this.timer)
    if (this.stopped || this.options.expire === false) return
    const next = nextExpiry(this.state)
    if (next === undefined) return
    this.timer = setTimeout(() => {
      this.expiring = this.expiring.then(() => this.expire()).finally(() => this.arm())
    }, Math.min(MAX_TIMER_MS, Math.max(0, next * 1000 - this.now())))
  }

  /** The lifts leave the state at once; appending them is retried until it succeeds (their ids make a retry harmless). */
  private async expire(): Promise<void> {
    const lifts = expireDue(this.state, this.now() / 1000)
    if (lifts.length === 0) return
    const records = lifts.map((lift) => ({ key: Buffer.from(partitionKey(lift.ip)), value: Buffer.from(JSON.stringify(lift)) }))
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.log.append(Topics.decisions.name, records)
        return
      } catch (error) {
        this.options.report({ kind: 'io-error', topic: Topics.decisions.name, reason: `appending lifts failed: ${(error as Error).message}` })
        if (this.stopped) return
        await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 100 * 2 ** attempt)))
      }
    }
  }
}
