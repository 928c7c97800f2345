/**
 * The failure count of one address (or failure id) in one jail: fail2ban's
 * FailTicket as kept by its FailManager, or a true sliding window. Times are
 * event times in seconds. Pure: every function returns a new window.
 */
export interface Window {
  /** Start of the counted interval (fail2ban moves it when it rescales). */
  readonly first: number
  /** Latest failure time. */
  readonly last: number
  /** The count compared with maxretry (weighted by bantime.increment for known offenders; rescaled by fail2ban's window). */
  readonly retry: number
  /** Failures seen, unweighted: the `failures` of the ban. */
  readonly attempts: number
  readonly matches: readonly string[]
  /** The hosts whose logs showed the failures, when the jail bans on them (bantarget origin); a sliding window keeps the hosts of failures it has dropped. */
  readonly hosts?: readonly string[]
  /**
   * The user the window's first failure captured (<F-USER>): fail2ban's FailManager keeps the first
   * ticket's data and counts later failures into it, so that is the user its actions are told of.
   */
  readonly user?: string
  /** Sliding window only: each counted failure as [time, weight]. */
  readonly hits?: ReadonlyArray<readonly [number, number]>
}

export interface WindowRules {
  readonly find_time_secs: number
  readonly max_matches: number
  readonly window: 'fail2ban' | 'sliding'
}

/** Python's round(): halves go to the even neighbour (round(2.5) = 2), which fail2ban's rescaling inherits. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x)
  const diff = x - floor
  if (diff > 0.5) return floor + 1
  if (diff < 0.5) return floor
  return floor % 2 === 0 ? floor : floor + 1
}

/**
 * Whether fail2ban's cleanup would have dropped the window by `now`: its last
 * failure is findtime or more before. The next failure then starts afresh.
 */
export function windowExpired(window: Window, now: number, findTimeSecs: number): boolean {
  return window.last <= now - findTimeSecs
}

/**
 * The window a first failure opens (fail2ban keeps the first ticket's lines
 * whole). `hosts` and `user` are kept as given; every window has the same fields, so a
 * million of them share one object layout (see memory in bench/pipeline.ts).
 */
export function openWindow(time: number, weight: number, matches: readonly string[], rules: WindowRules, hosts?: readonly string[], user?: string): Window {
  return {
    first: time,
    last: time,
    retry: weight,
    attempts: 1,
    matches: rules.window === 'sliding' ? trim(matches, rules.max_matches) : matches,
    hosts,
    user,
    ...(rules.window === 'sliding' ? { hits: [[time, weight] as const] } : {}),
  }
}

function trim(matches: readonly string[], max: number): readonly string[] {
  if (max <= 0) return []
  return matches.length > max ? matches.slice(-max) : matches
}

/** Adds a failure of `weight` at `time` to a live window; `hosts` replaces the window's. */
export function addToWindow(window: Window, time: number, weight: number, matches: readonly string[], rules: WindowRules, hosts?: readonly string[]): Window {
  const merged = rules.max_matches > 0 ? trim([...window.matches, ...matches], rules.max_matches) : []
  if (rules.window === 'sliding') {
    const latest = Math.max(window.last, time)
    const hits = [...(window.hits ?? []), [time, weight] as const].filter(([t]) => t > latest - rules.find_time_secs)
    return {
      first: Math.min(...hits.map(([t]) => t)),
      last: latest,
      retry: hits.reduce((sum, [, w]) => sum + w, 0),
      attempts: hits.length,
      matches: merged,
      hosts,
      user: window.user,
      hits,
    }
  }
  let { first, last, retry } = window
  // fail2ban's FailTicket.adjustTime: only a failure newer than the last one moves the window.
  if (time > last) {
    if (first < time - rules.find_time_secs) {
      retry = roundHalfEven((retry / (time - first)) * rules.find_time_secs)
      first = time - rules.find_time_secs
    }
    last = time
  }
  return { first, last, retry: retry + weight, attempts: window.attempts + 1, matches: merged, hosts, user: window.user }
}
