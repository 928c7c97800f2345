import type { BannedEntry } from '../control/control-port.js'
import { activeDecisions, type TimedDecision } from './crowdsec-decision.js'
import { passes, type DecisionFilter } from './decision-feed.js'

/** Filters kept a view each; bouncers choose their filters, so the views are bounded. */
const MAX_VIEWS = 64

/**
 * The active bans as CrowdSec decisions, built once per change of the bans
 * and shared by every pull until the next one. A fleet's bouncers each poll
 * every few seconds; building the decisions of 100 k bans and a copy for each
 * bouncer took ~270 ms a pull. The maps handed out are never changed, so a
 * pull that gets the very map its bouncer was last sent has nothing new
 * (DecisionFeed relies on it).
 */
export class ActiveDecisions {
  /** The listing the decisions were built from. */
  private built: readonly BannedEntry[] = []
  private active: ReadonlyMap<string, TimedDecision> = new Map()
  /** When the first of the decisions ends: they change then without any ban changing. */
  private rebuildAtMs = -Infinity
  /** Each filter's view of `active`, by the filter's JSON. */
  private readonly views = new Map<string, { of: ReadonlyMap<string, TimedDecision>; view: ReadonlyMap<string, TimedDecision> }>()

  /** The decisions of `bans` at `nowMs`, the same map as last time when they are the same. */
  of(bans: readonly BannedEntry[], nowMs: number): ReadonlyMap<string, TimedDecision> {
    if (nowMs < this.rebuildAtMs && this.builtFrom(bans)) return this.active
    this.active = activeDecisions(bans, nowMs)
    this.built = bans
    // A ban outlasted by another of the same address ending changes no decision: only the decisions' ends count.
    let first = Infinity
    for (const { endsMs } of this.active.values()) first = Math.min(first, endsMs)
    this.rebuildAtMs = first
    this.views.clear()
    return this.active
  }

  /** The decisions of `bans` a bouncer's filter lets through, the same map for as long as `of` gives the same. */
  filtered(bans: readonly BannedEntry[], nowMs: number, filter: DecisionFilter): ReadonlyMap<string, TimedDecision> {
    const active = this.of(bans, nowMs)
    const key = JSON.stringify(filter)
    const held = this.views.get(key)
    if (held?.of === active) return held.view
    const view = activeDecisions(this.built, nowMs, (decision) => passes(filter, decision))
    if (this.views.size >= MAX_VIEWS) this.views.clear()
    this.views.set(key, { of: active, view })
    return view
  }

  /**
   * Whether `bans` lists what the decisions were built from. A control port lists its bans in a
   * stable order and copies the same strings into each listing, so comparing in order mostly compares
   * references; a listing in another order only costs a rebuild.
   */
  private builtFrom(bans: readonly BannedEntry[]): boolean {
    const built = this.built
    if (bans.length !== built.length) return false
    for (let i = 0; i < bans.length; i++) {
      const a = bans[i]!, b = built[i]!
      if (a.jail !== b.jail || a.ip !== b.ip || a.expires_at !== b.expires_at || a.event_id !== b.event_id) return false
    }
    return true
  }
}

