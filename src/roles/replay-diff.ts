import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { Decision } from '../../schemas/events/decision.js'
import { validate } from '../../schemas/events/validate.js'
import { byTimeThenIp, type ReplayBan, type ReplayResult } from './replay.js'

/** A ban issued in production, as the diff shows it. */
export interface ActualBan {
  readonly ip: string
  readonly time: string
  readonly ban_time_secs: number
  readonly failures: number
  readonly event_id: string
  readonly matches: readonly string[]
}

export interface ChangedBan {
  readonly ip: string
  /** The replayed ban's start. */
  readonly time: string
  readonly actual_time: string
  readonly ban_time_secs: number
  readonly actual_ban_time_secs: number
  readonly matches: readonly string[]
}

export interface JailDiff {
  readonly jail: string
  /** Bans the replay issues that production did not. */
  readonly gained: readonly ReplayBan[]
  /** Bans production issued that the replay does not. */
  readonly lost: readonly ActualBan[]
  /** Bans both issued, of different lengths. */
  readonly changed: readonly ChangedBan[]
  /** Bans both issued, of the same length. */
  readonly same: number
}

export interface DiffOptions {
  /** The period compared (epoch seconds); production bans outside it are left out. */
  readonly from: number
  readonly to: number
  /** How far apart two bans of one address may start and still be the same ban (seconds), by jail: its findtime. */
  readonly toleranceSecs: (jail: string) => number
}

/**
 * The difference between a replay and what was actually decided: per jail,
 * threshold bans paired by address and start (within the tolerance, in time
 * order). Manual bans and prolongings are not compared: the first come from
 * operators, the second only lengthen a ban already paired.
 */
export function diffDecisions(result: ReplayResult, decisions: Iterable<Decision>, options: DiffOptions): JailDiff[] {
  const actualByJail = new Map<string, BanIssued[]>()
  for (const d of decisions) {
    if (d.type !== 'BanIssued' || d.reason !== 'threshold') continue
    const t = Date.parse(d.occurred_at) / 1000
    if (t < options.from || t > options.to) continue
    const list = actualByJail.get(d.jail) ?? []
    list.push(d)
    actualByJail.set(d.jail, list)
  }
  return result.jails.map((jail): JailDiff => {
    const tolerance = options.toleranceSecs(jail.jail)
    const actual = (actualByJail.get(jail.jail) ?? []).map(actualOf).sort(byTimeThenIp)
    // Each address's bans in time order: a week of a fleet's bans searched whole for every replayed ban took minutes.
    const byIp = new Map<string, { index: number; ms: number }[]>()
    actual.forEach((a, index) => {
      const list = byIp.get(a.ip)
      const entry = { index, ms: Date.parse(a.time) }
      if (list) list.push(entry)
      else byIp.set(a.ip, [entry])
    })
    const paired = new Set<number>()
    const gained: ReplayBan[] = []
    const changed: ChangedBan[] = []
    let same = 0
    for (const ban of jail.bans.filter((b) => b.reason === 'threshold')) {
      const t = Date.parse(ban.time)
      const at = byIp.get(ban.ip)?.find((a) => !paired.has(a.index) && Math.abs(a.ms - t) <= tolerance * 1000)?.index ?? -1
      if (at < 0) {
        gained.push(ban)
        continue
      }
      paired.add(at)
      const other = actual[at]!
      if (other.ban_time_secs === ban.ban_time_secs) same++
      else changed.push({ ip: ban.ip, time: ban.time, actual_time: other.time, ban_time_secs: ban.ban_time_secs, actual_ban_time_secs: other.ban_time_secs, matches: ban.matches })
    }
    return { jail: jail.jail, gained, lost: actual.filter((_, i) => !paired.has(i)), changed, same }
  })
}

/** The period a diff compares (epoch seconds): the replay's range where given, else its first to last failure, else unbounded. */
export function diffPeriod(result: ReplayResult, range: { readonly from?: number; readonly to?: number }): { from: number; to: number } {
  const seconds = (iso: string | null) => (iso === null ? undefined : Date.parse(iso) / 1000)
  return { from: range.from ?? seconds(result.first_failure_at) ?? -Infinity, to: range.to ?? seconds(result.last_failure_at) ?? Infinity }
}

/** Two bans of one address are the same ban when they start within the jail's findtime. */
export function findTimeTolerance(policies: readonly { readonly name: string; readonly find_time_secs: number }[]): (jail: string) => number {
  const findTime = new Map(policies.map((p) => [p.name, p.find_time_secs]))
  return (jail) => findTime.get(jail) ?? 600
}

function actualOf(ban: BanIssued): ActualBan {
  return { ip: ban.ip, time: ban.occurred_at, ban_time_secs: ban.ban_time_secs, failures: ban.failures, event_id: ban.event_id, matches: ban.matches }
}

/** Decisions from NDJSON (one Decision per line, as GET /v1/events?kind=decisions exports them); other lines are counted and skipped. */
export function parseDecisionsNdjson(text: string): { decisions: Decision[]; skipped: number } {
  const decisions: Decision[] = []
  let skipped = 0
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      skipped++
      continue
    }
    const checked = validate(Decision, value)
    if (checked.ok) decisions.push(checked.value)
    else skipped++
  }
  return { decisions, skipped }
}
