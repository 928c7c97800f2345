import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome, ActuatorBackend, ReconcileResult, StepResult } from './actuator-backend.js'
import { addressLines, banOver, outcome, SerialQueue, toolError, triage, type CommandOptions } from './backend-kit.js'
import { pfAddress, pfAddresses, PfInputError, pfLoadArgv, pfRuleset, pfTableArgv, type PfJail } from './pf-commands.js'
import { runCommand, type CommandResult } from './run-command.js'

export interface PfActuatorOptions extends CommandOptions {
  /** The jails with a pf action on this host; decisions of other jails fail. */
  readonly jails: readonly PfJail[]
  /** The pfctl program. Default `pfctl`. */
  readonly pfctl?: string
}

interface Pending<T> {
  readonly decision: T
  readonly jail: PfJail
  readonly address: string
}

/**
 * The pf backend: keeps each jail's pf table (in its anchor f2b/<name>)
 * equal to the bans.
 *
 * Obligations: idempotent (adding a present address or deleting an absent
 * one is no error to pfctl); never throws from actuate but reports an
 * outcome per decision; a run of decisions is one pfctl per jail, the
 * addresses on its stdin; pfctl runs from an argv array, never a shell, and
 * only re-serialised addresses reach it. pf tables have no timeouts: bans end
 * with their lift, or at the next reconcile after they are over. Calls run
 * one at a time in order.
 */
export class PfActuator implements ActuatorBackend {
  readonly name = 'pf'
  private readonly jails: ReadonlyMap<string, PfJail>
  private readonly pfctl: string
  private readonly prefix: readonly string[]
  private readonly now: () => number
  private readonly timeoutMs: number
  private readonly queue = new SerialQueue()

  constructor(options: PfActuatorOptions) {
    this.jails = new Map(options.jails.map((j) => [j.jail, j]))
    this.pfctl = options.pfctl ?? 'pfctl'
    this.prefix = options.command_prefix ?? []
    this.now = options.now ?? Date.now
    this.timeoutMs = options.command_timeout_ms ?? 30_000
  }

  /** Loads each jail's table and block rule into its anchor; the tables' addresses stay. */
  setup(): Promise<StepResult> {
    return this.queue.run(() => this.setupNow())
  }

  /** Carries out decisions in order: each run of bans, or of unbans, is one pfctl per jail. */
  actuate(decisions: readonly Decision[]): Promise<ActuationOutcome[]> {
    return this.queue.run(async () => {
      const outcomes: ActuationOutcome[] = []
      for (let i = 0; i < decisions.length;) {
        const type = decisions[i]!.type
        let j = i
        while (j < decisions.length && decisions[j]!.type === type) j++
        outcomes.push(...await this.change(decisions.slice(i, j), type === 'BanIssued' ? 'add' : 'delete'))
        i = j
      }
      return outcomes
    })
  }

  /**
   * Makes each jail's table hold exactly its bans in `active` that are not
   * over: the anchors are loaded again, missing addresses added and the others
   * deleted. Repairs a flushed table or a reloaded pf.conf.
   */
  reconcile(active: readonly BanIssued[]): Promise<ReconcileResult> {
    return this.queue.run(async () => {
      const setup = await this.setupNow()
      if (!setup.ok) return { ...setup, added: 0, removed: 0 }
      const now = this.now()
      const wanted = new Map<string, Set<string>>([...this.jails.keys()].map((j) => [j, new Set<string>()]))
      for (const ban of active) {
        const target = this.locate(ban)
        if ('error' in target) continue
        if (banOver(ban, now)) continue
        wanted.get(ban.jail)!.add(target.address)
      }
      let added = 0
      let removed = 0
      for (const [name, want] of wanted) {
        const jail = this.jails.get(name)!
        const shown = await this.run(pfTableArgv(jail, 'show', this.pfctl))
        if (shown.code !== 0) return { ok: false, error: toolError(shown), added, removed }
        const have = addressLines(shown.stdout)
        const stale = [...have].filter((a) => !want.has(a))
        const missing = [...want].filter((a) => !have.has(a))
        for (const [command, addresses] of [['delete', stale], ['add', missing]] as const) {
          if (addresses.length === 0) continue
          const result = await this.run(pfTableArgv(jail, command, this.pfctl), pfAddresses(addresses))
          if (result.code !== 0) return { ok: false, error: toolError(result), added, removed }
          if (command === 'add') added += addresses.length
          else removed += addresses.length
        }
      }
      return { ok: true, added, removed }
    })
  }

  private async setupNow(): Promise<StepResult> {
    for (const jail of this.jails.values()) {
      const loaded = await this.run(pfLoadArgv(jail, this.pfctl), pfRuleset(jail))
      if (loaded.code !== 0) return { ok: false, error: `anchor ${jail.name}: ${toolError(loaded)}` }
    }
    return { ok: true }
  }

  private async change(decisions: readonly Decision[], command: 'add' | 'delete'): Promise<ActuationOutcome[]> {
    const { outcomes, pending: all } = triage(decisions, (d) => this.locate(d), this.now())
    const byJail = new Map<PfJail, Pending<Decision>[]>()
    for (const p of all) byJail.set(p.jail, [...(byJail.get(p.jail) ?? []), p])
    for (const [jail, pending] of byJail) {
      const result = await this.run(pfTableArgv(jail, command, this.pfctl), pfAddresses([...new Set(pending.map((p) => p.address))]))
      const error = result.code === 0 ? undefined : toolError(result)
      for (const p of pending) outcomes.set(p.decision, outcome(p.decision, error ? 'failed' : command === 'add' ? 'applied' : 'removed', error))
    }
    return decisions.map((d) => outcomes.get(d)!)
  }

  private locate(decision: Decision): { jail: PfJail; address: string } | { error: string } {
    const jail = this.jails.get(decision.jail)
    if (!jail) return { error: `jail ${decision.jail} has no pf action on this host` }
    try {
      return { jail, address: pfAddress(decision.ip) }
    } catch (err) {
      if (err instanceof PfInputError) return { error: err.message }
      throw err
    }
  }

  private run(argv: readonly string[], input = ''): Promise<CommandResult> {
    return runCommand([...this.prefix, ...argv], input, this.timeoutMs)
  }
}
