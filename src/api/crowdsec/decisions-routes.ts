import { createHash } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse } from '../../../schemas/api/control.js'
import { DecisionList, DecisionsQuery, DecisionStream, DecisionStreamQuery, type CrowdsecDecision } from '../../../schemas/api/crowdsec.js'
import { overlaps, parseAddress, contains } from '../../../schemas/events/address.js'
import type { ControlPort } from '../control/control-port.js'
import { coerceQuery } from '../query-coercion.js'
import { ActiveDecisions } from './active-decisions.js'
import { activeDecisions, asOf, liftedDecision } from './crowdsec-decision.js'
import { DecisionFeed, decisionFilter, passes } from './decision-feed.js'
import { PullLedger } from './pull-ledger.js'

/**
 * CrowdSec's bouncer API over banstream's active bans: GET /v1/decisions/stream
 * (what CrowdSec's bouncers poll) and GET /v1/decisions (live lookups). Both
 * take a bouncer key in `X-Api-Key` or an `actuate` bearer token.
 */
export const decisionsRoutes: FastifyPluginAsync<{ control: ControlPort; now: () => number; pullsFile?: string }> = async (app, { control, now, pullsFile }) => {
  const ledger = await PullLedger.open(pullsFile)
  app.addHook('onClose', () => ledger.close())
  const feed = new DecisionFeed(ledger)
  const decisions = new ActiveDecisions()
  const config = { permission: 'actuate' as const, bouncerKey: true }
  const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse }

  app.get<{ Querystring: DecisionStreamQuery }>('/v1/decisions/stream', {
    config,
    preValidation: coerceQuery(DecisionStreamQuery),
    schema: { tags: ['crowdsec'], querystring: DecisionStreamQuery, response: { 200: DecisionStream, ...errors } },
  }, async (request): Promise<DecisionStream> => {
    const filter = decisionFilter(request.query)
    const nowMs = now()
    const active = decisions.filtered(await control.banned(), nowMs, filter)
    // The filter by its digest: a bouncer writes it, and the pull ledger keeps every view's key in its file.
    const view = createHash('sha256').update(JSON.stringify(filter)).digest('base64url').slice(0, 22)
    const liftedSince = async (ms: number) =>
      (await control.liftedSince(ms)).map((entry) => liftedDecision(entry, nowMs)).filter((decision) => passes(filter, decision))
    return feed.pull(request.principal?.id ?? 'anonymous', view, active, request.query.startup === true, nowMs, liftedSince)
  })

  app.get<{ Querystring: DecisionsQuery }>('/v1/decisions', {
    config,
    preValidation: coerceQuery(DecisionsQuery),
    schema: { tags: ['crowdsec'], querystring: DecisionsQuery, response: { 200: DecisionList, ...errors } },
  }, async (request): Promise<DecisionList> => {
    const q = request.query
    const nowMs = now()
    const wanted = q.ip ?? q.range
    const target = wanted === undefined ? undefined : parseAddress(wanted)!
    const holding = q.contains ?? true
    const covered = (ip: string): boolean => {
      if (!target) return true
      const banned = parseAddress(ip)!
      return holding ? contains(banned, target) : q.ip !== undefined ? overlaps(target, banned) && banned.prefix === target.prefix : contains(target, banned)
    }
    // Each ban's decision is judged before the bans of one address are merged into the one that ends last.
    const kept = (d: CrowdsecDecision): boolean => {
      if (q.scope !== undefined && q.scope.toLowerCase() !== d.scope.toLowerCase()) return false
      if (q.value !== undefined && q.value !== d.value) return false
      if (q.type !== undefined && q.type !== d.type) return false
      if (q.origins !== undefined && !q.origins.split(',').includes(d.origin)) return false
      if (q.scenarios_containing !== undefined && !q.scenarios_containing.split(',').some((w) => w !== '' && d.scenario.includes(w))) return false
      if (q.scenarios_not_containing?.split(',').some((w) => w !== '' && d.scenario.includes(w))) return false
      return true
    }
    const bans = (await control.banned()).filter((ban) => covered(ban.ip))
    const matches = [...activeDecisions(bans, nowMs, kept).values()].map((timed) => asOf(timed, nowMs))
    return matches.length === 0 ? null : matches
  })
}
