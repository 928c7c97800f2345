import type { BanIssued } from '../schemas/events/ban-issued.js'
import type { BanLifted } from '../schemas/events/ban-lifted.js'
import { ExpiryQueue } from './expire-queue.js'
import type { Window } from './decide-window.js'

/** A ban in force, as the decide stage remembers it. */
export interface ActiveBan {
  readonly event_id: string
  readonly ip: string
  /** Event time the ban started (seconds). */
  readonly started: number
  /** Event time the ban ends (seconds); Infinity when permanent. */
  readonly ends: number
  readonly ban_count: number
  /** The hosts it targets; undefined = every host. */
  readonly targets?: readonly string[]
}

/** What fail2ban's database keeps of an address's bans in a jail (the bips table). */
export interface BanRecord {
  readonly count: number
  /** Event time of the latest ban (seconds). */
  readonly last_ban_at: number
}

/**
 * Keys in the order they were updated, with the time of the update: eviction
 * pops from the front while the front has run out. An entry whose key was
 * updated again since is stale and is dropped as it comes up.
 */
export class UpdateLine {
  private keys: string[] = []
  private times: number[] = []
  private head = 0

  get size(): number {
    return this.keys.length - this.head
  }

  push(key: string, time: number): void {
    this.keys.push(key)
    this.times.push(time)
  }

  /** Pops every entry with a time at or before `until`, oldest first. */
  popUntil(until: number, each: (key: string, time: number) => void): void {
    while (this.head < this.keys.length && this.times[this.head]! <= until) {
      each(this.keys[this.head]!, this.times[this.head]!)
      this.head++
    }
    // Compact once the popped half dominates, keeping pops amortised O(1).
    if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head)
      this.times = this.times.slice(this.head)
      this.head = 0
    }
  }
}

export interface JailState {
  /** Failure counts by failure id (the address, its network, or <F-ID>). */
  readonly windows: Map<string, Window>
  /** Window updates in order, for eviction. */
  readonly windowLine: UpdateLine
  /** Bans in force by banned address or network. */
  readonly bans: Map<string, ActiveBan>
  /** Earlier bans by banned address or network. */
  readonly history: Map<string, BanRecord>
  /** History updates in order, for eviction. */
  readonly historyLine: UpdateLine
}

/**
 * The decide stage's state: a fold over failures, commands and decisions.
 * It is owned by one fold and updated in place (copying a million windows per
 * event would make the fold quadratic); every update goes through evolve.
 */
export interface DecideState {
  readonly jails: Map<string, JailState>
  /** The latest event time seen: the "now" of fail2ban's cleanup, in event time. */
  watermark: number
  readonly banEnds: ExpiryQueue
}

export function emptyDecideState(): DecideState {
  return { jails: new Map(), watermark: -Infinity, banEnds: new ExpiryQueue() }
}

export function jailState(state: DecideState, jail: string): JailState {
  let js = state.jails.get(jail)
  if (!js) {
    js = { windows: new Map(), windowLine: new UpdateLine(), bans: new Map(), history: new Map(), historyLine: new UpdateLine() }
    state.jails.set(jail, js)
  }
  return js
}

/** Stores a window and lines it up for eviction. */
export function putWindow(js: JailState, key: string, window: Window): void {
  js.windows.set(key, window)
  js.windowLine.push(key, window.last)
}

function putRecord(js: JailState, ip: string, record: BanRecord): void {
  js.history.set(ip, record)
  js.historyLine.push(ip, record.last_ban_at)
}

export function secondsOf(iso: string): number {
  return epochMsOf(iso) / 1000
}

/** Date.parse of an event time, the last one remembered: failures come many to a second, in order (the match stage writes each time's text once). */
export function epochMsOf(iso: string): number {
  if (iso !== lastParsed.iso) lastParsed = { iso, ms: Date.parse(iso) }
  return lastParsed.ms
}

let lastParsed = { iso: '', ms: NaN }

export function isoOf(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString()
}

/** The ban in force for `ip` in a jail at event time `at`, if any. */
export function activeBan(js: JailState | undefined, ip: string, at: number): ActiveBan | undefined {
  const ban = js?.bans.get(ip)
  return ban && ban.ends > at ? ban : undefined
}

/**
 * Applies a decision. Idempotent: a redelivered decision changes nothing, so a
 * restart can fold the `decisions` topic over state that already holds some of it.
 */
export function evolveDecision(state: DecideState, decision: BanIssued | BanLifted): DecideState {
  const js = jailState(state, decision.jail)
  if (decision.type === 'BanIssued') {
    const started = secondsOf(decision.occurred_at)
    const ends = decision.ban_time_secs === -1 ? Infinity : started + decision.ban_time_secs
    js.bans.set(decision.ip, { event_id: decision.event_id, ip: decision.ip, started, ends, ban_count: decision.ban_count, ...(decision.targets ? { targets: decision.targets } : {}) })
    if (ends !== Infinity) state.banEnds.push({ ends, jail: decision.jail, ip: decision.ip, event_id: decision.event_id })
    // A prolonged ban is the same ban lasting longer: fail2ban does not count it again.
    if (decision.reason !== 'prolonged') putRecord(js, decision.ip, { count: decision.ban_count, last_ban_at: started })
    state.watermark = Math.max(state.watermark, started)
  } else {
    if (js.bans.get(decision.ip)?.event_id === decision.ban_event_id) js.bans.delete(decision.ip)
    // fail2ban's unban deletes the address from its database: the increment starts over.
    if (decision.reason === 'manual') js.history.delete(decision.ip)
  }
  return state
}

/**
 * Drops what has run out by the watermark: windows one findtime after their
 * last failure (fail2ban's cleanup), bans past their end, ban records older
 * than the history age (fail2ban's dbpurgeage). Updates are lined up in
 * arrival order, so this stops at the first one still alive; one that arrived
 * out of event-time order may outlive its time a little, and lookups check it.
 */
export function evict(state: DecideState, findTimeSecs: (jail: string) => number | undefined, historyMaxAgeSecs: number): void {
  const now = state.watermark
  for (const [jail, js] of state.jails) {
    const findTime = findTimeSecs(jail)
    if (findTime !== undefined) {
      js.windowLine.popUntil(now - findTime, (key, last) => {
        if (js.windows.get(key)?.last === last) js.windows.delete(key)
      })
    }
    js.historyLine.popUntil(now - historyMaxAgeSecs, (ip, at) => {
      if (js.history.get(ip)?.last_ban_at === at) js.history.delete(ip)
    })
  }
  for (let due = state.banEnds.peek(); due && due.ends <= now; due = state.banEnds.peek()) {
    state.banEnds.pop()
    const bans = state.jails.get(due.jail)?.bans
    if (bans?.get(due.ip)?.event_id === due.event_id) bans.delete(due.ip)
  }
}
