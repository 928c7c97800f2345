import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome, ReconcileResult, StepResult } from './actuator-backend.js'
import { addressLines, banOver, type CommandOptions, outcome, QueuedBackend, toolError, triage } from './backend-kit.js'
import { endFlows } from './conntrack.js'
import {
  directRuleArgv, directRules, entriesArgv, entryFailures, firewalldEntry, FirewalldInputError, firewalldSets, isJailRule, newIpsetArgv,
  parseDirectRules, type FirewalldJail,
} from './firewalld-commands.js'
import { runCommand, type CommandResult } from './run-command.js'

/** `command_prefix` may set the bus (`['env', 'DBUS_SYSTEM_BUS_ADDRESS=…']`); `command_timeout_ms` defaults to 60 s, as a reload takes seconds. */
export interface FirewalldActuatorOptions extends CommandOptions {
  /** The jails with a firewalld action on this host; decisions of other jails fail. */
  readonly jails: readonly FirewalldJail[]
  /** The conntrack program that ends a banned address's flows; null = leave flows alone. Default `conntrack`. */
  readonly conntrack?: string | null
}

interface Pending<T> {
  readonly decision: T
  readonly set: string
  readonly entry: string
}

// firewall-cmd takes each entry as an argument: a long batch is split so argv stays far below the kernel's limit.
const ENTRIES_PER_CALL = 1000
const NO_SET = /INVALID_IPSET/

/**
 * The firewalld backend: keeps each jail's firewalld ipsets equal to the
 * bans, behind direct rules that match them.
 *
 * Obligations: idempotent (firewall-cmd's ALREADY_ENABLED and NOT_ENABLED
 * are success); never throws from actuate but reports an outcome per
 * decision, firewall-cmd's warning for an entry it refused becoming that
 * decision's error; a run of decisions is one firewall-cmd per set (per
 * thousand entries); firewall-cmd and conntrack run from an argv array,
 * never a shell, and only re-serialised addresses reach them. Setup reloads
 * firewalld only when one of our sets is missing from the running firewall
 * (a reload drops every runtime-only change, ours included, which setup and
 * reconcile then restore). Calls run one at a time in order.
 */
export class FirewalldActuator extends QueuedBackend {
  readonly name = 'firewalld'
  private readonly jails: ReadonlyMap<string, FirewalldJail>
  private readonly prefix: readonly string[]
  private readonly conntrack: string | null
  private readonly now: () => number
  private readonly timeoutMs: number

  constructor(options: FirewalldActuatorOptions) {
    super()
    this.jails = new Map(options.jails.map((j) => [j.jail, j]))
    this.prefix = options.command_prefix ?? []
    this.conntrack = options.conntrack === undefined ? 'conntrack' : options.conntrack
    this.now = options.now ?? Date.now
    this.timeoutMs = options.command_timeout_ms ?? 60_000
  }

  /**
   * Makes the sets hold exactly the bans in `active` that are not over: sets
   * and rules set up again, missing entries added, others removed. Repairs a
   * reload or an entry removed by hand.
   */
  reconcile(active: readonly BanIssued[]): Promise<ReconcileResult> {
    return this.queue.run(async () => {
      const setup = await this.setupNow()
      if (!setup.ok) return { ...setup, added: 0, removed: 0 }
      const now = this.now()
      const wanted = new Map<string, Set<string>>()
      for (const jail of this.jails.values()) for (const set of firewalldSets(jail)) wanted.set(set.name, new Set())
      for (const ban of active) {
        const target = this.locate(ban)
        if ('error' in target || banOver(ban, now)) continue
        wanted.get(target.set)!.add(target.entry)
      }
      let added = 0
      let removed = 0
      const problems: string[] = []
      const newlyBanned: string[] = []
      for (const [set, want] of wanted) {
        const listed = await this.run(['firewall-cmd', `--ipset=${set}`, '--get-entries'])
        if (listed.code !== 0) return { ok: false, error: toolError(listed), added, removed }
        const have = addressLines(listed.stdout)
        for (const [change, entries] of [['remove', [...have].filter((e) => !want.has(e))], ['add', [...want].filter((e) => !have.has(e))]] as const) {
          const failures = await this.change(change, set, entries)
          for (const [entry, error] of failures) problems.push(`${set} ${entry}: ${error}`)
          const done = entries.filter((e) => !failures.has(e))
          if (change === 'add') { added += done.length; newlyBanned.push(...done) } else removed += done.length
        }
      }
      await this.endFlows(newlyBanned)
      return problems.length === 0 ? { ok: true, added, removed } : { ok: false, error: problems.join('; '), added, removed }
    })
  }

  protected async setupNow(): Promise<StepResult> {
    const jails = [...this.jails.values()]
    if (jails.length === 0) return { ok: true }
    const running = await this.run(['firewall-cmd', '--get-ipsets'])
    if (running.code !== 0) return { ok: false, error: toolError(running) }
    const live = new Set(running.stdout.trim().split(/\s+/))
    const missing = jails.flatMap((j) => firewalldSets(j).filter((s) => !live.has(s.name)).map((set) => ({ set, maxelem: j.maxelem })))
    if (missing.length > 0) {
      const stored = await this.run(['firewall-cmd', '--permanent', '--get-ipsets'])
      if (stored.code !== 0) return { ok: false, error: toolError(stored) }
      const permanent = new Set(stored.stdout.trim().split(/\s+/))
      for (const { set, maxelem } of missing) {
        if (permanent.has(set.name)) continue
        const created = await this.run(newIpsetArgv(set, maxelem))
        if (created.code !== 0) return { ok: false, error: `creating ipset ${set.name}: ${toolError(created)}` }
      }
      const reloaded = await this.run(['firewall-cmd', '--reload'])
      if (reloaded.code !== 0) return { ok: false, error: `reloading firewalld: ${toolError(reloaded)}` }
    }
    const listed = await this.run(['firewall-cmd', '--direct', '--get-all-rules'])
    if (listed.code !== 0) return { ok: false, error: toolError(listed) }
    const present = parseDirectRules(listed.stdout)
    const key = (rule: readonly string[]) => rule.join(' ')
    const desired = new Set(jails.flatMap((j) => directRules(j).map(key)))
    // A rule over our sets that the jails no longer ask for (ports changed) goes before the new ones come.
    for (const rule of present) {
      if (desired.has(key(rule)) || !jails.some((j) => isJailRule(j, rule))) continue
      const removed = await this.run(directRuleArgv('remove', rule))
      if (removed.code !== 0) return { ok: false, error: toolError(removed) }
    }
    const have = new Set(present.map(key))
    for (const jail of jails) {
      for (const rule of directRules(jail)) {
        if (have.has(key(rule))) continue
        const addedRule = await this.run(directRuleArgv('add', rule))
        if (addedRule.code !== 0) return { ok: false, error: toolError(addedRule) }
      }
    }
    return { ok: true }
  }

  protected async applyNow(bans: readonly BanIssued[]): Promise<ActuationOutcome[]> {
    const { outcomes, pending } = triage(bans, (b) => this.locate(b), this.now())
    const failures = await this.changeAll('add', pending)
    const applied: string[] = []
    for (const p of pending) {
      const error = failures.get(`${p.set} ${p.entry}`)
      outcomes.set(p.decision, outcome(p.decision, error === undefined ? 'applied' : 'failed', error))
      if (error === undefined) applied.push(p.entry)
    }
    const warning = await this.endFlows([...new Set(applied)])
    return bans.map((b) => {
      const o = outcomes.get(b)!
      return warning && o.outcome === 'applied' ? { ...o, warning } : o
    })
  }

  protected async liftNow(lifts: readonly BanLifted[]): Promise<ActuationOutcome[]> {
    const { outcomes, pending } = triage(lifts, (l) => this.locate(l), this.now())
    const failures = await this.changeAll('remove', pending)
    for (const p of pending) {
      const error = failures.get(`${p.set} ${p.entry}`)
      outcomes.set(p.decision, outcome(p.decision, error === undefined ? 'removed' : 'failed', error))
    }
    return lifts.map((l) => outcomes.get(l)!)
  }

  /** Changes every pending entry, set by set; returns the failures keyed `<set> <entry>`. A missing set is set up once and retried. */
  private async changeAll(change: 'add' | 'remove', pending: readonly Pending<Decision>[]): Promise<Map<string, string>> {
    const bySet = new Map<string, string[]>()
    for (const p of pending) {
      const entries = bySet.get(p.set) ?? []
      if (!entries.includes(p.entry)) entries.push(p.entry)
      bySet.set(p.set, entries)
    }
    const failures = new Map<string, string>()
    let repaired = false
    for (const [set, entries] of bySet) {
      let failed = await this.change(change, set, entries)
      if (!repaired && [...failed.values()].some((e) => NO_SET.test(e))) {
        repaired = true
        if ((await this.setupNow()).ok) failed = await this.change(change, set, entries)
      }
      for (const [entry, error] of failed) failures.set(`${set} ${entry}`, error)
    }
    return failures
  }

  private async change(change: 'add' | 'remove', set: string, entries: readonly string[]): Promise<Map<string, string>> {
    const failures = new Map<string, string>()
    for (let i = 0; i < entries.length; i += ENTRIES_PER_CALL) {
      const chunk = entries.slice(i, i + ENTRIES_PER_CALL)
      const result = await this.run(entriesArgv(change, set, chunk))
      for (const [entry, error] of entryFailures(chunk, result.code, result.stderr)) failures.set(entry, error)
    }
    return failures
  }

  private locate(decision: Decision): { set: string; entry: string } | { error: string } {
    const jail = this.jails.get(decision.jail)
    if (!jail) return { error: `jail ${decision.jail} has no firewalld action on this host` }
    try {
      return firewalldEntry(jail, decision.ip)
    } catch (err) {
      if (err instanceof FirewalldInputError) return { error: err.message }
      throw err
    }
  }

  private endFlows(banned: readonly string[]): Promise<string | undefined> {
    if (this.conntrack === null) return Promise.resolve(undefined)
    return endFlows((argv) => this.run(argv), this.conntrack, banned)
  }

  private run(argv: readonly string[]): Promise<CommandResult> {
    return runCommand([...this.prefix, ...argv], '', this.timeoutMs)
  }
}
