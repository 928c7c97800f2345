import { formatAddress, parseAddress } from '../../schemas/events/address.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome, ActuatorBackend, ReconcileResult, StepFailure, StepResult } from './actuator-backend.js'
import type { CommandResult } from './run-command.js'

/** The settings every backend that runs firewall tools takes. */
export interface CommandOptions {
  /** Put before every command, e.g. `['ip', 'netns', 'exec', 'fw']` to act inside a network namespace. */
  readonly command_prefix?: readonly string[]
  /** Wall clock in epoch milliseconds, for the time a ban has left. Default Date.now. */
  readonly now?: () => number
  /** How long one command may run before it is killed and counted as failed. Default 30 s. */
  readonly command_timeout_ms?: number
}

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

/** What a backend's locate found for a decision, without the refusal. */
export type Located<R> = Exclude<R, { readonly error: string }>

/**
 * Sorts decisions before a backend acts: one its `locate` refuses (unknown
 * jail, not an address) fails with the reason, a ban already over at
 * `now_ms` is skipped, and the rest are pending with where they go.
 */
export function triage<D extends Decision, R extends object>(
  decisions: readonly D[],
  locate: (decision: D) => R,
  now_ms: number,
): { outcomes: Map<D, ActuationOutcome>; pending: (Located<R> & { readonly decision: D })[] } {
  const outcomes = new Map<D, ActuationOutcome>()
  const pending: (Located<R> & { readonly decision: D })[] = []
  for (const decision of decisions) {
    const target = locate(decision)
    if ('error' in target && typeof target.error === 'string') outcomes.set(decision, outcome(decision, 'failed', target.error))
    else if (decision.type === 'BanIssued' && banOver(decision, now_ms)) {
      outcomes.set(decision, outcome(decision, 'skipped', `the ban expired at ${decision.expires_at}`))
    } else pending.push({ ...(target as Located<R>), decision })
  }
  return { outcomes, pending }
}

/** The addresses of a tool's listing, one a line (pfctl -T show, firewall-cmd --get-entries), canonical; other lines are skipped. */
export function addressLines(text: string): Set<string> {
  const addresses = new Set<string>()
  for (const line of text.split('\n')) {
    const address = parseAddress(line.trim())
    if (address) addresses.add(formatAddress(address))
  }
  return addresses
}

/**
 * A backend whose tool calls run one at a time in the order they were made:
 * setup, bans and unbans queue behind each other (and behind whatever else
 * the subclass queues on `queue`), and a batch of decisions is carried out a
 * run of bans or of unbans at a time.
 */
export abstract class QueuedBackend implements ActuatorBackend {
  abstract readonly name: string
  protected readonly queue = new SerialQueue()

  setup(): Promise<StepResult> {
    return this.queue.run(() => this.setupNow())
  }

  /** Bans each address for the time its ban has left. */
  apply(bans: readonly BanIssued[]): Promise<ActuationOutcome[]> {
    return this.queue.run(() => this.applyNow(bans))
  }

  /** Takes each address out. */
  lift(lifts: readonly BanLifted[]): Promise<ActuationOutcome[]> {
    return this.queue.run(() => this.liftNow(lifts))
  }

  actuate(decisions: readonly Decision[]): Promise<ActuationOutcome[]> {
    return this.queue.run(() => inRuns(decisions, (bans) => this.applyNow(bans), (lifts) => this.liftNow(lifts)))
  }

  protected abstract setupNow(): Promise<StepResult>
  protected abstract applyNow(bans: readonly BanIssued[]): Promise<ActuationOutcome[]>
  protected abstract liftNow(lifts: readonly BanLifted[]): Promise<ActuationOutcome[]>
}

/** What a set-based firewall must change to hold exactly the bans in force. */
export interface ReconcilePlan {
  /** The tool's script doing it ('' when nothing is to change). */
  readonly script: string
  readonly add: readonly { readonly ip: string }[]
  readonly remove: readonly unknown[]
}

/** An address as it goes into a set: the set's name and the element's text. */
export interface SetElement {
  readonly set: string
  readonly text: string
}

/** A decision on its way to a set element. */
export type SetPending<D, T extends SetElement> = T & { readonly decision: D }
export type SetBanPending<T extends SetElement> = SetPending<BanIssued, T> & { readonly expires_ms: number | null }

/** The book's key of a set element. */
export function bookKey(target: SetElement): string {
  return `${target.set} ${target.text}`
}

/**
 * A firewall of per-jail sets with timeouts (nftables, ipset): it books the
 * expiry of what it put in each set, so a repeated or reordered ban never
 * shortens a longer one still in force, and it reconciles by a plan computed
 * from a listing of the sets.
 */
export abstract class SetFirewall<P extends ReconcilePlan, T extends SetElement> extends QueuedBackend {
  // Expiry (ms, null = permanent) of each set element this process put there, by set and element.
  protected readonly book = new Map<string, number | null>()
  /** Wall clock in epoch milliseconds, for the time a ban has left. */
  protected abstract readonly now: () => number

  /**
   * Bans each address in its set for the time its ban has left, never
   * shorter than what this process already put there; a ban already over is
   * skipped. Then ends the banned addresses' flows (a warning if that failed).
   */
  protected async applyNow(bans: readonly BanIssued[]): Promise<ActuationOutcome[]> {
    const outcomes = new Map<BanIssued, ActuationOutcome>()
    const pending: SetBanPending<T>[] = []
    const now = this.now()
    for (const ban of bans) {
      const target = this.locate(ban)
      if ('error' in target) { outcomes.set(ban, outcome(ban, 'failed', target.error)); continue }
      const booked = this.book.get(bookKey(target))
      const asked = ban.expires_at === null ? null : Date.parse(ban.expires_at)
      const expires = booked === null || asked === null ? null : Math.max(asked, booked ?? asked)
      if (expires !== null && expires <= now) {
        outcomes.set(ban, outcome(ban, 'skipped', `the ban expired at ${ban.expires_at}`))
        continue
      }
      pending.push({ ...target, decision: ban, expires_ms: expires })
    }
    const applied = await this.inBatches(pending, (batch) => this.banScript(batch, now), outcomes, 'applied')
    for (const p of applied) this.book.set(bookKey(p), p.expires_ms)
    const warning = await this.endFlows(applied.map((p) => p.text))
    return bans.map((b) => {
      const o = outcomes.get(b)!
      return warning && o.outcome === 'applied' ? { ...o, warning } : o
    })
  }

  /** Takes each address out of its set. */
  protected async liftNow(lifts: readonly BanLifted[]): Promise<ActuationOutcome[]> {
    const outcomes = new Map<BanLifted, ActuationOutcome>()
    const pending: SetPending<BanLifted, T>[] = []
    for (const lift of lifts) {
      const target = this.locate(lift)
      if ('error' in target) outcomes.set(lift, outcome(lift, 'failed', target.error))
      else pending.push({ ...target, decision: lift })
    }
    const removed = await this.inBatches(pending, (batch) => this.unbanScript(batch), outcomes, 'removed')
    for (const p of removed) this.book.delete(bookKey(p))
    return lifts.map((l) => outcomes.get(l)!)
  }

  /** Where a decision's address goes, or why it cannot (unknown jail, not an address). */
  protected abstract locate(decision: Decision): T | { readonly error: string }
  /** The tool's script adding `batch`, each for the time it has left at `now`. */
  protected abstract banScript(batch: readonly SetBanPending<T>[], now: number): string
  protected abstract unbanScript(batch: readonly SetPending<BanLifted, T>[]): string
  /**
   * Runs `script` over `pending`, splitting as the tool's errors require, and
   * sets an outcome for each decision (`done` or failed); returns those done.
   */
  protected abstract inBatches<D extends Decision, Q extends SetPending<D, T>>(
    pending: readonly Q[], script: (batch: readonly Q[]) => string, outcomes: Map<D, ActuationOutcome>, done: 'applied' | 'removed',
  ): Promise<Q[]>

  /** The drift between the sets and `active` (the bans in force), without changing anything. */
  check(active: Iterable<BanIssued>): Promise<P | StepFailure> {
    return this.queue.run(async () => {
      const drift = await this.checkNow(active)
      return 'plan' in drift ? drift.plan : drift
    })
  }

  /**
   * Makes the firewall equal to `active`: what the jails need is set up
   * again, missing bans added with the time they have left, expired ones
   * skipped, elements no ban asks for removed. Repairs a flushed set, table
   * or chain.
   */
  reconcile(active: Iterable<BanIssued>): Promise<ReconcileResult> {
    return this.queue.run(async () => {
      const setup = await this.setupNow()
      if (!setup.ok) return { ...setup, added: 0, removed: 0 }
      const drift = await this.checkNow(active)
      if (!('plan' in drift)) return { ...drift, added: 0, removed: 0 }
      const { plan, expiries } = drift
      if (plan.script !== '') {
        const result = await this.runScript(plan.script)
        if (!result.ok) return { ...result, added: 0, removed: 0 }
        await this.endFlows(plan.add.map((b) => b.ip))
      }
      this.book.clear()
      for (const [key, expires] of expiries) this.book.set(key, expires)
      return { ok: true, added: plan.add.length, removed: plan.remove.length }
    })
  }

  /** The plan, and the expiry of every element the sets will hold once it has run (the new book). */
  protected abstract checkNow(active: Iterable<BanIssued>): Promise<{ plan: P; expiries: Map<string, number | null> } | StepFailure>
  /** Runs one script of the firewall's tool (`nft -f -`, `ipset restore`). */
  protected abstract runScript(script: string): Promise<StepResult>
  /** Ends the banned addresses' established flows; a warning when that failed. */
  protected abstract endFlows(banned: readonly string[]): Promise<string | undefined>
}
