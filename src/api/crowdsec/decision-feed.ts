import type { CrowdsecDecision, DecisionStream } from '../../../schemas/api/crowdsec.js'
import { asOf, type TimedDecision } from './crowdsec-decision.js'
import { BouncerViews } from './bouncer-views.js'
import type { PullLedger } from './pull-ledger.js'

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

/**
 * CrowdSec's decision stream: a bouncer starts with every active decision
 * (`startup=true`), then each pull gets what changed since its previous one —
 * decisions it has not been sent (new bans, a ban now held by a longer one)
 * and those it was sent whose ban is over. What each bouncer was sent is kept
 * here, per bouncer and filter. A bouncer whose view this feed does not hold
 * (banstream restarted, or the view was forgotten) gets the full list, which
 * bouncers apply idempotently, and as deleted every ban lifted since its last
 * pull that is not in force again: without them, a ban that ended meanwhile
 * would stay in its firewall.
 */
export class DecisionFeed {
  private readonly sent = new BouncerViews<ReadonlyMap<string, TimedDecision>>()

  constructor(private readonly ledger: PullLedger) {}

  /**
   * What `bouncer`'s `view` (its filter) is to be sent now that `active` is in force. The feed keeps
   * `active` as what the view was sent, so it must not change afterwards (ActiveDecisions hands out
   * such maps); the same map pulled again has nothing new. `liftedSince` (the decisions of the bans
   * lifted since a time, as the view's filter lets them through) is asked only for a view the feed lost.
   */
  async pull(bouncer: string, view: string, active: ReadonlyMap<string, TimedDecision>, startup: boolean, nowMs: number,
    liftedSince: (ms: number) => Promise<readonly CrowdsecDecision[]>): Promise<DecisionStream> {
    const before = startup ? undefined : this.sent.get(bouncer, view)
    const lastPull = startup || before ? undefined : this.ledger.lastPull(bouncer, view)
    const lifted = lastPull === undefined ? [] : await liftedSince(lastPull)
    this.sent.set(bouncer, view, active)
    this.ledger.pulled(bouncer, view, nowMs)
    if (before === active) return { new: [], deleted: [] }
    const fresh: CrowdsecDecision[] = []
    const deleted: CrowdsecDecision[] = []
    for (const [value, timed] of active) {
      if (before?.get(value)?.decision.id !== timed.decision.id) fresh.push(asOf(timed, nowMs))
    }
    if (before) for (const [value, timed] of before) if (!active.has(value)) deleted.push(asOf(timed, nowMs))
    const told = new Set<string>()
    for (const decision of lifted) {
      if (active.has(decision.value) || told.has(decision.value)) continue
      told.add(decision.value)
      deleted.push(decision)
    }
    return { new: fresh, deleted }
  }
}
