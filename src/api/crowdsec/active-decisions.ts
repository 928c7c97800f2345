import type { CrowdsecDecision } from '../../../schemas/api/crowdsec.js'
import type { BannedEntry } from '../control/control-port.js'
import { activeDecisions, banEndMs, type TimedDecision } from './crowdsec-decision.js'
import { passes, type DecisionFilter } from './decision-feed.js'

/** Filters kept a view each; bouncers choose their filters, so the views are bounded. */
const MAX_VIEWS = 64
/** The view of no filter, what of() gives. */
const EVERY_DECISION = ''

/**
 * The active bans as CrowdSec decisions, built once per change of the bans
 * and shared by every pull until the next one. A fleet's bouncers each poll
 * every few seconds; building the decisions of 100 k bans and a copy for each
 * bouncer took ~270 ms a pull. The maps handed out are never changed, so a
 * pull that gets the very map its bouncer was last sent has nothing new
 * (DecisionFeed relies on it).
 */
export class ActiveDecisions {
  /** The listing the views were built from. */
  private built: readonly BannedEntry[] = []
  /** When the first of the bans ends: the decisions change then without any ban changing. */
  private rebuildAtMs = -Infinity
  /** Each filter's decisions, by the filter's JSON; every one built from `built`. */
  private readonly views = new Map<string, ReadonlyMap<string, TimedDecision>>()

  /** The decisions of `bans` at `nowMs`, the same map as last time when they are the same. */
  of(bans: readonly BannedEntry[], nowMs: number): ReadonlyMap<string, TimedDecision> {
    return this.view(bans, nowMs, EVERY_DECISION, () => true)
  }

  /** The decisions of `bans` a bouncer's filter lets through, the same map for as long as the bans stay. */
  filtered(bans: readonly BannedEntry[], nowMs: number, filter: DecisionFilter): ReadonlyMap<string, TimedDecision> {
    return this.view(bans, nowMs, JSON.stringify(filter), (decision) => passes(filter, decision))
  }

  private view(bans: readonly BannedEntry[], nowMs: number, key: string, keep: (decision: CrowdsecDecision) => boolean): ReadonlyMap<string, TimedDecision> {
    if (nowMs >= this.rebuildAtMs || !this.builtFrom(bans)) {
      this.built = bans
      // Bans outlasted by another of the same address count too: a rebuild more, never one less.
      let first = Infinity
      for (const ban of bans) {
        const ends = banEndMs(ban)
        if (ends > nowMs) first = Math.min(first, ends)
      }
      this.rebuildAtMs = first
      this.views.clear()
    }
    let view = this.views.get(key)
    if (view === undefined) {
      // Each ban's decision is judged before the bans of one address are merged (see activeDecisions).
      view = activeDecisions(this.built, nowMs, keep)
      if (this.views.size >= MAX_VIEWS) this.views.clear()
      this.views.set(key, view)
    }
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

