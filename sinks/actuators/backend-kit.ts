import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome } from './actuator-backend.js'
import type { CommandResult } from './run-command.js'

/** The outcome of one decision. */
export function outcome(decision: Decision, kind: ActuationOutcome['outcome'], error?: string): ActuationOutcome {
  return {
    decision_event_id: decision.event_id, jail: decision.jail, ip: decision.ip, outcome: kind,
    ...(error === undefined ? {} : { error }),
  }
}

/** A failed command's own message, or its exit code when it printed none. */
export function toolError(result: CommandResult): string {
  return result.stderr.trim() || `exited with code ${result.code}`
}

/** Whether a ban's time is already over at `now_ms` (a permanent ban never is). */
export function banOver(ban: BanIssued, now_ms: number): boolean {
  return ban.expires_at !== null && Date.parse(ban.expires_at) <= now_ms
}

/**
 * Runs steps one at a time in the order they were queued, so a backend's
 * commands never interleave; a step that rejects does not stop the next.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()

  run<T>(step: () => Promise<T>): Promise<T> {
    const next = this.tail.then(step)
    this.tail = next.catch(() => undefined)
    return next
  }
}

/**
 * Carries out decisions in their order, a run of bans or of unbans at a time,
 * and returns the outcomes in the same order.
 */
export async function inRuns(
  decisions: readonly Decision[],
  apply: (bans: readonly BanIssued[]) => Promise<ActuationOutcome[]>,
  lift: (lifts: readonly BanLifted[]) => Promise<ActuationOutcome[]>,
): Promise<ActuationOutcome[]> {
  const outcomes: ActuationOutcome[] = []
  for (let i = 0; i < decisions.length;) {
    const type = decisions[i]!.type
    let j = i
    while (j < decisions.length && decisions[j]!.type === type) j++
    const run = decisions.slice(i, j)
    outcomes.push(...(type === 'BanIssued' ? await apply(run as BanIssued[]) : await lift(run as BanLifted[])))
    i = j
  }
  return outcomes
}
