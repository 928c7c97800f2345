import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import {
  banScript, nftablesElement, nftablesTable, parseSetListing, reconcileScript, setupScript, teardownScript, unbanScript,
  flushScript, NftablesInputError, type NftablesBan, type NftablesJail, type NftablesReconcilePlan, type NftablesTable,
} from './nftables-commands.js'
import { endFlows } from './conntrack.js'
import type { ActuationOutcome, StepFailure, StepResult } from './actuator-backend.js'
import { bookKey, outcome, SetFirewall, type SetBanPending, type SetElement, type SetPending } from './backend-kit.js'
import { runCommand, type CommandResult } from './run-command.js'

export interface NftablesActuatorOptions {
  /** The jails with an nftables action on this host; decisions of other jails fail. */
  readonly jails: readonly NftablesJail[]
  /** Table, chain and hook; defaults as DEFAULT_NFTABLES_TABLE. */
  readonly table?: Partial<NftablesTable>
  /** Put before every command, e.g. `['ip', 'netns', 'exec', 'fw']` to act inside a network namespace. */
  readonly command_prefix?: readonly string[]
  /** The nft program. Default `nft`. */
  readonly nft?: string
  /** The conntrack program that ends a banned address's flows; null = leave flows alone. Default `conntrack`. */
  readonly conntrack?: string | null
  /** Wall clock in epoch milliseconds, for the time a ban has left. Default Date.now. */
  readonly now?: () => number
  /** How long one command may run before it is killed and counted as failed. Default 30 s. */
  readonly command_timeout_ms?: number
}

type Pending<D> = SetPending<D, SetElement>

const ENFILE = 'Too many open files in system'

/**
 * The nftables backend: keeps one table's per-jail sets equal to the bans.
 *
 * Obligations: idempotent (a ban of a banned address sets its new time, an
 * unban of an absent one succeeds); never throws from apply/lift/actuate but
 * reports an outcome per decision; many decisions go to nft in one `nft -f -`
 * transaction, and when it fails the batch is split until each failing
 * decision carries nft's error; nft and conntrack run from an argv array,
 * never a shell, and only re-serialised addresses reach them. Calls run one
 * at a time in the order they were made.
 */
export class NftablesActuator extends SetFirewall<NftablesReconcilePlan, SetElement> {
  readonly name = 'nftables'
  private readonly table: NftablesTable
  private readonly jails: ReadonlyMap<string, NftablesJail>
  private readonly prefix: readonly string[]
  private readonly nft: string
  private readonly conntrack: string | null
  protected readonly now: () => number
  private readonly timeoutMs: number

  constructor(options: NftablesActuatorOptions) {
    super()
    this.table = nftablesTable(options.table)
    this.jails = new Map(options.jails.map((j) => [j.jail, j]))
    this.prefix = options.command_prefix ?? []
    this.nft = options.nft ?? 'nft'
    this.conntrack = options.conntrack === undefined ? 'conntrack' : options.conntrack
    this.now = options.now ?? Date.now
    this.timeoutMs = options.command_timeout_ms ?? 30_000
  }

  /** Empties every jail's sets; the rules stay. */
  flush(): Promise<StepResult> {
    return this.queue.run(async () => {
      const result = await this.runScript(flushScript(this.table, [...this.jails.values()]))
      if (result.ok) this.book.clear()
      return result
    })
  }

  /** Removes the table with everything in it. */
  teardown(): Promise<StepResult> {
    return this.queue.run(async () => {
      const result = await this.runScript(teardownScript(this.table))
      if (result.ok) this.book.clear()
      return result
    })
  }

  protected async setupNow(): Promise<StepResult> {
    return this.runScript(setupScript(this.table, [...this.jails.values()]))
  }

  protected banScript(batch: readonly SetBanPending<SetElement>[], now: number): string {
    return banScript(this.table, batch.map((p) => ({
      jail: p.decision.jail, ip: p.text, timeout_secs: p.expires_ms === null ? null : Math.ceil((p.expires_ms - now) / 1000),
    })))
  }

  protected unbanScript(batch: readonly Pending<BanLifted>[]): string {
    return unbanScript(this.table, batch.map((p) => ({ jail: p.decision.jail, ip: p.text })))
  }

  protected async checkNow(active: Iterable<BanIssued>): Promise<{ plan: NftablesReconcilePlan; expiries: Map<string, number | null> } | StepFailure> {
    // As arguments: with -j, nft reads -f input as JSON from /dev/stdin, which a socket pair cannot open.
    const listing = await this.run([this.nft, '-j', 'list', 'table', 'inet', this.table.table])
    if (listing.code !== 0) return { ok: false, error: nftError(listing) }
    const now = this.now()
    const latest = new Map<string, { ban: BanIssued; text: string; expires: number | null }>()
    for (const ban of active) {
      const target = this.locate(ban)
      if ('error' in target) continue
      const key = bookKey(target)
      const expires = ban.expires_at === null ? null : Date.parse(ban.expires_at)
      const seen = latest.get(key)
      if (seen && (seen.expires === null || (expires !== null && expires <= seen.expires))) continue
      latest.set(key, { ban, text: target.text, expires })
    }
    const expiries = new Map<string, number | null>()
    const desired: NftablesBan[] = []
    for (const [key, { ban, text, expires }] of latest) {
      if (expires !== null && expires <= now) continue
      expiries.set(key, expires)
      desired.push({ jail: ban.jail, ip: text, timeout_secs: expires === null ? null : Math.ceil((expires - now) / 1000) })
    }
    try {
      return { plan: reconcileScript(this.table, [...this.jails.values()], parseSetListing(listing.stdout), desired), expiries }
    } catch (err) {
      if (err instanceof NftablesInputError || err instanceof SyntaxError) return { ok: false, error: err.message }
      throw err
    }
  }

  protected locate(decision: Decision): { set: string; text: string } | { error: string } {
    if (!this.jails.has(decision.jail)) return { error: `jail ${decision.jail} has no nftables action on this host` }
    try {
      return nftablesElement(decision.jail, decision.ip)
    } catch (err) {
      if (err instanceof NftablesInputError) return { error: err.message }
      throw err
    }
  }

  /**
   * Runs the script of all `pending` in one transaction; when nft refuses it,
   * sets the table up again if it vanished and otherwise halves the batch
   * until each failing decision is alone with nft's error. Once a ban finds
   * its set full, the batch's other bans for that set fail with the same error.
   * Returns those done.
   */
  protected async inBatches<D extends Decision, P extends Pending<D>>(
    pending: readonly P[],
    script: (batch: readonly P[]) => string,
    outcomes: Map<D, ActuationOutcome>,
    done: 'applied' | 'removed',
  ): Promise<P[]> {
    const succeeded: P[] = []
    let repaired = false
    // A full set stays full for the rest of a batch of adds: failing its other bans at once spares
    // two nft runs per ban (the halving down to each one) when thousands arrive at a full set.
    const full = new Map<string, string>()
    const attempt = async (given: readonly P[]): Promise<void> => {
      const batch = given.filter((p) => {
        const error = full.get(p.set)
        if (error !== undefined) outcomes.set(p.decision, outcome(p.decision, 'failed', error))
        return error === undefined
      })
      if (batch.length === 0) return
      let result = await this.runNft(script(batch))
      if (result.code !== 0 && !repaired && /No such file or directory/.test(result.stderr)) {
        repaired = true
        if ((await this.setupNow()).ok) result = await this.runNft(script(batch))
      }
      if (result.code === 0) {
        for (const p of batch) outcomes.set(p.decision, outcome(p.decision, done))
        succeeded.push(...batch)
        return
      }
      if (batch.length === 1) {
        const only = batch[0]!
        // An unban adds the element before deleting it (so an absent one is no error); in a full set
        // that add fails only when the element is absent, which is what the unban asks for.
        if (done === 'removed' && result.stderr.includes(ENFILE)) {
          outcomes.set(only.decision, outcome(only.decision, done))
          succeeded.push(only)
          return
        }
        const error = nftError(result, only.set)
        outcomes.set(only.decision, outcome(only.decision, 'failed', error))
        if (result.stderr.includes(ENFILE)) full.set(only.set, error)
        return
      }
      const half = Math.ceil(batch.length / 2)
      await attempt(batch.slice(0, half))
      await attempt(batch.slice(half))
    }
    await attempt(pending)
    return succeeded
  }

  /** Ends the banned addresses' established flows (see conntrack.ts); a warning when conntrack failed. */
  protected endFlows(banned: readonly string[]): Promise<string | undefined> {
    if (this.conntrack === null) return Promise.resolve(undefined)
    return endFlows((argv) => this.run(argv), this.conntrack, banned)
  }

  protected async runScript(script: string): Promise<StepResult> {
    const result = await this.runNft(script)
    return result.code === 0 ? { ok: true } : { ok: false, error: nftError(result) }
  }

  private runNft(script: string): Promise<CommandResult> {
    return this.run([this.nft, '-f', '-'], script)
  }

  private run(argv: readonly string[], input = ''): Promise<CommandResult> {
    return runCommand([...this.prefix, ...argv], input, this.timeoutMs)
  }
}

function nftError(result: CommandResult, set?: string): string {
  const text = result.stderr.trim() || `nft exited with code ${result.code}`
  return set !== undefined && text.includes(ENFILE) ? `set ${set} is full: ${text}` : text
}
