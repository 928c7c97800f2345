import { createHash } from 'node:crypto'
import type { CrowdsecDecision } from '../../../schemas/api/crowdsec.js'
import type { BannedEntry, LiftedEntry } from '../control/control-port.js'

/**
 * What a permanent ban is told as: CrowdSec decisions always end, and Go's
 * duration tops out near 292 years; ten years outlives any firewall's memory.
 */
const PERMANENT_MS = 87_600 * 3_600_000

/** A Go duration (`3h59m50s`, `-2m5s`, `0s`) of whole seconds, as CrowdSec prints a decision's time left. */
export function goDuration(ms: number): string {
  const sign = ms < 0 ? '-' : ''
  let secs = Math.floor(Math.abs(ms) / 1000)
  if (secs === 0) return '0s'
  const hours = Math.floor(secs / 3600)
  secs -= hours * 3600
  const minutes = Math.floor(secs / 60)
  secs -= minutes * 60
  if (hours > 0) return `${sign}${hours}h${minutes}m${secs}s`
  if (minutes > 0) return `${sign}${minutes}m${secs}s`
  return `${sign}${secs}s`
}

/** A positive integer below 2^52 from a ban's identity: Go bouncers read `id` as int64, JavaScript exactly. */
export function decisionId(ban: BannedEntry): number {
  const hex = ban.event_id !== undefined
    ? ban.event_id.replace(/-/g, '')
    : createHash('sha256').update(`${ban.jail}\u0000${ban.ip}\u0000${ban.expires_at ?? ''}`).digest('hex')
  return Number.parseInt(hex.slice(0, 13), 16) || 1
}

/** A decision with the time its ban ends, so that its remaining duration can be told at any later pull. */
export interface TimedDecision {
  readonly decision: CrowdsecDecision
  /** Infinity for a permanent ban. */
  readonly endsMs: number
}

/** When a ban ends, epoch milliseconds; Infinity for a permanent one. */
export function banEndMs(ban: BannedEntry): number {
  return ban.expires_at === null ? Infinity : Date.parse(ban.expires_at)
}

/** What is left of a ban ending at `endsMs`, as bouncers are told it: a permanent one always has PERMANENT_MS left. */
function remainingMs(endsMs: number, nowMs: number): number {
  return Number.isFinite(endsMs) ? endsMs - nowMs : PERMANENT_MS
}

/**
 * The active bans as CrowdSec decisions, one per address or network: bouncers
 * key their firewall sets by value, so two jails banning one address make one
 * decision, the one that ends last (its jail names the scenario). `keep` (a
 * bouncer's filter) chooses among each ban's decision before they are merged:
 * a ban the filter lets through is not hidden by a longer one it does not.
 */
export function activeDecisions(bans: readonly BannedEntry[], nowMs: number, keep: (decision: CrowdsecDecision) => boolean = () => true): Map<string, TimedDecision> {
  const byValue = new Map<string, TimedDecision>()
  for (const ban of bans) {
    const ends = banEndMs(ban)
    if (ends <= nowMs) continue
    const held = byValue.get(ban.ip)
    if (held && held.endsMs >= ends) continue
    const decision: CrowdsecDecision = {
      id: decisionId(ban), origin: 'banstream', type: 'ban',
      scope: scopeOf(ban.ip), value: ban.ip,
      duration: goDuration(remainingMs(ends, nowMs)), scenario: `banstream/${ban.jail}`,
    }
    if (keep(decision)) byValue.set(ban.ip, { endsMs: ends, decision })
  }
  return byValue
}

/** The decision of a lifted ban, as a deleted one is told: its duration the (negative) time since it ended. */
export function liftedDecision(entry: LiftedEntry, nowMs: number): CrowdsecDecision {
  return {
    id: decisionId({ jail: entry.jail, ip: entry.ip, expires_at: null, event_id: entry.ban_event_id }), origin: 'banstream', type: 'ban',
    scope: scopeOf(entry.ip), value: entry.ip, duration: goDuration(Date.parse(entry.lifted_at) - nowMs), scenario: `banstream/${entry.jail}`,
  }
}

function scopeOf(ip: string): CrowdsecDecision['scope'] {
  return ip.includes('/') ? 'Range' : 'Ip'
}

/** A decision with its duration as of now (negative once its ban has ended). */
export function asOf(timed: TimedDecision, nowMs: number): CrowdsecDecision {
  return { ...timed.decision, duration: goDuration(remainingMs(timed.endsMs, nowMs)) }
}
