import type { CrowdsecDecision, DecisionStream } from '../../../schemas/api/crowdsec.js'
import { asOf, type TimedDecision } from './crowdsec-decision.js'

/** Which decisions a bouncer asked for: CrowdSec's `scopes`, `origins` and scenario filters. */
export interface DecisionFilter {
  /** Lower-case scopes; CrowdSec's default is `ip` alone. */
  readonly scopes: readonly string[]
  readonly origins: readonly string[] | undefined
  readonly scenariosContaining: readonly string[] | undefined
  readonly scenariosNotContaining: readonly string[] | undefined
}

function commaList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '')
  return items.length === 0 ? undefined : items
}

export function decisionFilter(query: { scopes?: string; origins?: string; scenarios_containing?: string; scenarios_not_containing?: string }): DecisionFilter {
  return {
    scopes: (commaList(query.scopes) ?? ['ip']).map((s) => s.toLowerCase()),
    origins: commaList(query.origins),
    scenariosContaining: commaList(query.scenarios_containing),
    scenariosNotContaining: commaList(query.scenarios_not_containing),
  }
}

export function passes(filter: DecisionFilter, decision: CrowdsecDecision): boolean {
  if (!filter.scopes.includes(decision.scope.toLowerCase())) return false
  if (filter.origins && !filter.origins.includes(decision.origin)) return false
  if (filter.scenariosContaining && !filter.scenariosContaining.some((w) => decision.scenario.includes(w))) return false
  if (filter.scenariosNotContaining?.some((w) => decision.scenario.includes(w))) return false
  return true
}

/** How many bouncer views are remembered; the least recently pulling one is forgotten first (it then restarts from a full list). */
const MAX_CONSUMERS = 1024

/**
 * CrowdSec's decision stream: a bouncer starts with every active decision
 * (`startup=true`), then each pull gets what changed since its previous one —
 * decisions it has not been sent (new bans, a ban now held by a longer one)
 * and those it was sent whose ban is over. What each bouncer was sent is kept
 * here, per bouncer and filter; a bouncer this feed has not seen (banstream
 * restarted) gets the full list, which bouncers apply idempotently.
 */
export class DecisionFeed {
  private readonly sent = new Map<string, ReadonlyMap<string, TimedDecision>>()

  /**
   * What `consumer` is to be sent now that `active` is in force. The feed keeps `active` as what the
   * consumer was sent, so it must not change afterwards (ActiveDecisions hands out such maps); the
   * same map pulled again has nothing new.
   */
  pull(consumer: string, active: ReadonlyMap<string, TimedDecision>, startup: boolean, nowMs: number): DecisionStream {
    const before = startup ? undefined : this.sent.get(consumer)
    this.sent.delete(consumer)
    this.sent.set(consumer, active)
    if (this.sent.size > MAX_CONSUMERS) this.sent.delete(this.sent.keys().next().value!)
    if (before === active) return { new: [], deleted: [] }
    const fresh: CrowdsecDecision[] = []
    const deleted: CrowdsecDecision[] = []
    for (const [value, timed] of active) {
      if (before?.get(value)?.decision.id !== timed.decision.id) fresh.push(asOf(timed, nowMs))
    }
    if (before) for (const [value, timed] of before) if (!active.has(value)) deleted.push(asOf(timed, nowMs))
    return { new: fresh, deleted }
  }
}
