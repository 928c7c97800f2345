import { BanAddress } from '../../schemas/events/ban-address.js'
import type { Decision } from '../../schemas/events/decision.js'
import { FailureDetected } from '../../schemas/events/failure-detected.js'
import { LiftBan } from '../../schemas/events/lift-ban.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { partitionKey, Topics } from '../../schemas/topics.js'
import { isDecision, type Decider, type DecideEvent, type DecideInput, type DecideNotice, type DecideOutput } from '../../streams/decide.js'
import type { DecideState } from '../../streams/decide-state.js'
import type { Log, LogProblem, LogRecord } from '../log/log.js'
import type { RecentIds } from './recent-ids.js'

/**
 * How the decide workers step their inputs, shared by the one-process
 * DecideWorker (one state) and the fleet's PartitionDecideWorker (a state per
 * partition): decoding, dropping redelivered failures, the jail's
 * ignorecommand, fail2ban's "Total failed", and appending decisions.
 */

/** One decide state with what goes with it. */
export interface DecideFold {
  state: DecideState
  /** Failure ids already stepped, to drop a failure the match stage delivered twice. */
  readonly recent: RecentIds
  /** Failures counted per jail: `Total failed`. */
  readonly totalFailed: Map<string, number>
}

export interface DecideHooks {
  /** A check that may drop a failure before it is counted (the jail's ignorecommand). */
  readonly ignored?: (failure: FailureDetected) => boolean | Promise<boolean>
  /** Sees every input counted and what it led to: the role logs, counts and answers commands from here. */
  readonly onOutputs?: (input: DecideInput, outputs: readonly DecideOutput[], ignored: boolean) => void
}

// fail2ban counts a failure once it passed ignoreip, ignorecommand and its time checks: the others are not "Total failed".
const NOT_COUNTED = new Set<DecideNotice['kind']>(['ignored', 'too-old', 'invalid-address', 'invalid-time', 'unknown-jail'])

/** A record of `failures` or `commands` as a decide input; a malformed one is reported and skipped. */
export function decodeDecideInput(record: LogRecord, report: (problem: LogProblem) => void): DecideInput | undefined {
  const decoded = record.topic === Topics.failures.name ? decodeEvent(FailureDetected, record.value) : decodeCommand(record.value)
  if (decoded.ok) return decoded.value
  report({ kind: 'corrupt-record', topic: record.topic, partition: record.partition, position: record.offset, reason: decoded.errors.join('; ') })
  return undefined
}

function decodeCommand(value: Buffer): ReturnType<typeof decodeEvent<typeof BanAddress>> | ReturnType<typeof decodeEvent<typeof LiftBan>> {
  const ban = decodeEvent(BanAddress, value)
  return ban.ok ? ban : decodeEvent(LiftBan, value)
}

/** Steps one input through the fold; returns the decisions it led to. */
export async function stepInput(decider: Decider, fold: DecideFold, input: DecideInput, nowSecs: number, hooks: DecideHooks): Promise<Decision[]> {
  if (input.type === 'FailureDetected') {
    if (fold.recent.has(input.event_id)) return []
    fold.recent.add(input.event_id)
    if (hooks.ignored && (await hooks.ignored(input))) {
      hooks.onOutputs?.(input, [], true)
      return []
    }
  }
  const { state, outputs } = decider.step(fold.state, input as DecideEvent, nowSecs)
  fold.state = state
  if (input.type === 'FailureDetected' && !input.success && !outputs.some((o) => o.type === 'DecideNotice' && NOT_COUNTED.has(o.kind))) {
    fold.totalFailed.set(input.jail, (fold.totalFailed.get(input.jail) ?? 0) + 1)
  }
  hooks.onOutputs?.(input, outputs, false)
  return outputs.filter(isDecision)
}

/** Appends decisions to `decisions`, keyed like the failures they came from. */
export async function appendDecisions(log: Log, decisions: readonly Decision[]): Promise<void> {
  if (decisions.length === 0) return
  await log.append(Topics.decisions.name, decisions.map((d) => ({
    key: Buffer.from(partitionKey(d.ip)),
    value: Buffer.from(JSON.stringify(d)),
  })))
}
