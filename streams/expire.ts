import { Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs'
import type { BanIssued } from '../schemas/events/ban-issued.js'
import type { BanLifted } from '../schemas/events/ban-lifted.js'
import type { Decision } from '../schemas/events/decision.js'
import { eventId } from '../schemas/events/event-id.js'
import { ExpiryQueue } from './expire-queue.js'

/** The bans in force with an end, by jail and address, and their ends in time order. */
export interface ExpireState {
  readonly bans: Map<string, BanIssued>
  readonly ends: ExpiryQueue
}

const keyOf = (jail: string, ip: string) => `${jail}\u0000${ip}`

export function emptyExpireState(): ExpireState {
  return { bans: new Map(), ends: new ExpiryQueue() }
}

/**
 * Applies a decision: a ban starts (or, prolonged, replaces the one in force),
 * a lift ends the ban it names. Idempotent, so past decisions can be folded
 * again at every start.
 */
export function evolveExpire(state: ExpireState, decision: Decision): ExpireState {
  const key = keyOf(decision.jail, decision.ip)
  if (decision.type === 'BanIssued') {
    if (state.bans.get(key)?.event_id === decision.event_id) return state
    state.bans.set(key, decision)
    if (decision.expires_at !== null) {
      state.ends.push({ ends: Date.parse(decision.expires_at) / 1000, jail: decision.jail, ip: decision.ip, event_id: decision.event_id })
    }
  } else if (state.bans.get(key)?.event_id === decision.ban_event_id) {
    state.bans.delete(key)
  }
  return state
}

/** Folds past decisions (the `decisions` topic from its start, or a snapshot) into the bans in force. */
export function rebuildExpireState(decisions: Iterable<Decision>): ExpireState {
  const state = emptyExpireState()
  for (const decision of decisions) evolveExpire(state, decision)
  return state
}

function isCurrent(state: ExpireState, due: { jail: string; ip: string; event_id: string }): boolean {
  return state.bans.get(keyOf(due.jail, due.ip))?.event_id === due.event_id
}

/** The lift of a ban whose time is up; its time is the ban's end, not when the lift was noticed. */
export function expiredLift(ban: BanIssued): BanLifted {
  return {
    type: 'BanLifted',
    event_id: eventId('BanLifted', 'expired', ban.event_id),
    ban_event_id: ban.event_id,
    jail: ban.jail,
    ip: ban.ip,
    occurred_at: ban.expires_at ?? ban.occurred_at,
    reason: 'expired',
  }
}

/**
 * Lifts every ban that has ended by `nowSecs` (wall time) and applies the
 * lifts to the state. A prolonged or lifted ban left a stale entry behind;
 * it is dropped here.
 */
export function expireDue(state: ExpireState, nowSecs: number): BanLifted[] {
  const lifts: BanLifted[] = []
  for (let due = state.ends.peek(); due && due.ends <= nowSecs; due = state.ends.peek()) {
    state.ends.pop()
    if (!isCurrent(state, due)) continue
    const lift = expiredLift(state.bans.get(keyOf(due.jail, due.ip))!)
    evolveExpire(state, lift)
    lifts.push(lift)
  }
  return lifts
}

/** When the next ban in force ends (seconds), if any does. */
export function nextExpiry(state: ExpireState): number | undefined {
  for (let due = state.ends.peek(); due; due = state.ends.peek()) {
    if (isCurrent(state, due)) return due.ends
    state.ends.pop()
  }
  return undefined
}

/**
 * The expire stage: a BanLifted when each ban ends, timed on the injected
 * clock. `history` (past decisions) rebuilds the bans in force at start, so a
 * restart neither forgets an expiry nor lifts a ban twice: bans that ended
 * while the stage was down are lifted at once. Completes when the input has
 * completed and no ban with an end is left.
 */
export function expire(clock: SchedulerLike, history: Iterable<Decision> = []): OperatorFunction<Decision, BanLifted> {
  return (decisions) => new Observable<BanLifted>((subscriber) => {
    const state = rebuildExpireState(history)
    let timer: Subscription | undefined
    let armedFor: number | undefined
    let inputDone = false

    const arm = () => {
      const next = nextExpiry(state)
      if (next !== undefined && next === armedFor) return
      timer?.unsubscribe()
      timer = undefined
      armedFor = next
      if (next === undefined) {
        if (inputDone) subscriber.complete()
        return
      }
      timer = clock.schedule(() => {
        timer = undefined
        armedFor = undefined
        run()
      }, Math.max(0, next * 1000 - clock.now()))
    }
    const run = () => {
      for (const lift of expireDue(state, clock.now() / 1000)) subscriber.next(lift)
      arm()
    }

    run()
    const input = decisions.subscribe({
      next: (decision) => {
        evolveExpire(state, decision)
        run()
      },
      error: (error) => subscriber.error(error),
      complete: () => {
        inputDone = true
        arm()
      },
    })
    return () => {
      input.unsubscribe()
      timer?.unsubscribe()
    }
  })
}
