import { uniformFromId } from '../schemas/events/event-id.js'

/**
 * bantime.increment of a jail (fail2ban's observer.py): each new ban of an
 * address that was banned before lasts longer. Times are in seconds.
 */
export interface BanTimeIncrement {
  /** bantime.factor: the coefficient of the formula, or the common multiplier of `multipliers`. */
  readonly factor: number
  /** bantime.formula, compiled by banTimeFormula; used when there are no multipliers. */
  readonly formula: BanTimeFormula
  /** bantime.multipliers: the ban of count n (n >= 1 earlier bans) lasts bantime * factor * multipliers[n], the last one repeating. */
  readonly multipliers: readonly number[]
  /** bantime.maxtime: the longest an increased ban may last. */
  readonly max_time_secs: number | null
  /** bantime.rndtime: up to this many seconds are added, so a botnet cannot predict the unban. */
  readonly rnd_time_secs: number | null
  /** bantime.overalljails: count earlier bans of the address in every jail, not only this one. */
  readonly overall_jails: boolean
}

/** The ban length for a base `time` and `count` earlier bans, before maxtime and rndtime. */
export type BanTimeFormula = (time: number, count: number, factor: number) => number

const DEFAULT_FORMULA = 'ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor'
const EXP_FORMULA = 'ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)'

const FORMULAS: ReadonlyMap<string, BanTimeFormula> = new Map([
  [DEFAULT_FORMULA, (time: number, count: number, factor: number) => time * 2 ** Math.min(count, 20) * factor],
  [EXP_FORMULA, (time: number, count: number, factor: number) => (time * Math.exp((count + 1) * factor)) / Math.exp(factor)],
].map(([text, fn]) => [squeeze(text as string), fn as BanTimeFormula]))

function squeeze(text: string): string {
  return text.replace(/\s+/g, '')
}

/** Thrown for a bantime.formula that is not one of the formulas jail.conf documents. */
export class UnsupportedFormulaError extends Error {
  readonly code = 'BANSTREAM_ERR_BANTIME_FORMULA'
  constructor(formula: string) {
    super(`bantime.formula '${formula}' is not supported: fail2ban evaluates it as Python; banstream knows `
      + `the two formulas of jail.conf ('${DEFAULT_FORMULA}' and '${EXP_FORMULA}'), or use bantime.multipliers`)
    this.name = 'UnsupportedFormulaError'
  }
}

/**
 * Compiles a bantime.formula. fail2ban evaluates any Python expression; we
 * accept the two formulas jail.conf documents (spacing aside) and refuse the
 * rest rather than guess. Like fail2ban, the result is never below the base time.
 */
export function banTimeFormula(formula: string = DEFAULT_FORMULA): BanTimeFormula {
  const fn = FORMULAS.get(squeeze(formula))
  if (!fn) throw new UnsupportedFormulaError(formula)
  return (time, count, factor) => Math.max(time, fn(time, count, factor))
}

/** The increment settings of jail.conf's defaults (factor 1, formula 1, 2, 4, 8 ...). */
export function defaultIncrement(overrides: Partial<BanTimeIncrement> = {}): BanTimeIncrement {
  return {
    factor: 1,
    formula: banTimeFormula(),
    multipliers: [],
    max_time_secs: null,
    rnd_time_secs: null,
    overall_jails: false,
    ...overrides,
  }
}

/**
 * The length of a ban, as fail2ban's observer computes it (incrBanTime):
 * `baseSecs` when the increment is off, the ban is permanent (-1), or the
 * address has no earlier ban; otherwise the formula (or multiplier) for
 * `earlierBans`, capped by maxtime, plus up to rndtime seconds drawn from
 * `eventId` so that a replay gives the same length.
 * Fractions of a second are dropped: ban_time_secs is whole seconds.
 */
export function banTimeSecs(baseSecs: number, earlierBans: number, increment: BanTimeIncrement | null, eventId: string): number {
  if (!increment || baseSecs <= 0 || earlierBans <= 0) return baseSecs
  const { factor, multipliers } = increment
  let secs = multipliers.length > 0
    ? baseSecs * factor * multipliers[Math.min(earlierBans, multipliers.length - 1)]!
    : increment.formula(baseSecs, earlierBans, factor)
  if (increment.max_time_secs !== null) secs = Math.min(secs, increment.max_time_secs)
  if (increment.rnd_time_secs !== null) secs += uniformFromId(eventId) * increment.rnd_time_secs
  return Math.floor(secs)
}

/**
 * How much one failure counts toward maxretry for an address banned `banCount`
 * times before (fail2ban's observer failureFound): 2, 3, 5, 9 ... (2^b/2 + 1),
 * never more than maxretry; 1 for an address never banned.
 */
export function failureWeight(banCount: number, maxRetry: number): number {
  if (banCount <= 0) return 1
  return Math.min(2 ** Math.min(banCount, 20) / 2 + 1, maxRetry)
}
