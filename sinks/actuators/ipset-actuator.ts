import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import { endFlows } from './conntrack.js'
import {
  chainRestoreScript, ipsetBanScript, ipsetCreateScript, ipsetDestroyScript, ipsetElement, ipsetFlushScript, IpsetInputError,
  ipsetReconcileScript, ipsetUnbanScript, jumpRules, ipsetChainName, parseIpsetSave,
  type IpsetBan, type IpsetJail, type IpsetReconcilePlan,
} from './ipset-commands.js'
import type { ActuationOutcome, StepFailure, StepResult } from './actuator-backend.js'
import { bookKey, outcome, SetFirewall, type SetBanPending, type SetPending } from './backend-kit.js'
import { runCommand, type CommandResult } from './run-command.js'

export interface IpsetActuatorOptions {
  /** The jails with an ipset action on this host; decisions of other jails fail. */
  readonly jails: readonly IpsetJail[]
  /** Put before every command, e.g. `['ip', 'netns', 'exec', 'fw']` to act inside a network namespace. */
  readonly command_prefix?: readonly string[]
  /** The conntrack program that ends a banned address's flows; null = leave flows alone. Default `conntrack`. */
  readonly conntrack?: string | null
  /** Wall clock in epoch milliseconds, for the time a ban has left. Default Date.now. */
  readonly now?: () => number
  /** How long one command may run before it is killed and counted as failed. Default 30 s. */
  readonly command_timeout_ms?: number
}

/** Where a decision's address goes in this backend. */
type Element = {
  readonly jail: IpsetJail
  readonly set: string
  readonly text: string
}

type Pending<D> = SetPending<D, Element>

const FULL = /Hash is full|maximal number of elements/i
const NO_SET = /set with the given name does not exist/i

/**
 * The ipset + iptables/ip6tables backend: keeps each jail's hash:ip (and
 * hash:net) sets equal to the bans, behind a chain of the jail's own that INPUT (or the
 * jail's `chain`) jumps to.
 *
 * Obligations: idempotent (a ban of a banned address sets its new time, an
 * unban of an absent one succeeds); never throws from apply/lift/actuate but
 * reports an outcome per decision; many decisions go to one `ipset -exist
 * restore`, which stops at the first line it refuses and names it, so the
 * lines before it are done, that one fails with ipset's error and the rest
 * are sent again; ipset, iptables and conntrack run from an argv array, never
 * a shell, and only re-serialised addresses reach them. Calls run one at a
 * time in the order they were made.
 */
export class IpsetActuator extends SetFirewall<IpsetReconcilePlan, Element> {
  readonly name = 'ipset'
  private readonly jails: ReadonlyMap<string, IpsetJail>
  private readonly prefix: readonly string[]
  private readonly conntrack: string | null
  protected readonly now: () => number
  private readonly timeoutMs: number

  constructor(options: IpsetActuatorOptions) {
    super()
    this.jails = new Map(options.jails.map((j) => [j.jail, j]))
    this.prefix = options.command_prefix ?? []
    this.conntrack = options.conntrack === undefined ? 'conntrack' : options.conntrack
    this.now = options.now ?? Date.now
    this.timeoutMs = options.command_timeout_ms ?? 30_000
  }

  /** Empties every jail's sets; chains and rules stay. */
  flush(): Promise<StepResult> {
    return this.queue.run(async () => {
      const result = await this.restore(ipsetFlushScript([...this.jails.values()]))
      if (result.code !== 0) return { ok: false, error: toolError(result) }
      this.book.clear()
      return { ok: true }
    })
  }

  /** Removes the jumps, the jails' chains and their sets; succeeds when they are already gone. */
  teardown(): Promise<StepResult> {
    return this.queue.run(async () => {
      const jails = [...this.jails.values()]
      for (const family of [4, 6] as const) {
        for (const jail of jails) {
          for (const jump of jumpRules(jail)) {
            // A jump added twice by hand is deleted as often as it is found.
            while ((await this.iptables(family, ['-C', ...jump])).code === 0) {
              const deleted = await this.iptables(family, ['-D', ...jump])
              if (deleted.code !== 0) return { ok: false, error: toolError(deleted) }
            }
          }
          const chain = ipsetChainName(jail)
          if ((await this.iptables(family, ['-n', '-L', chain])).code !== 0) continue
          for (const step of [['-F', chain], ['-X', chain]]) {
            const result = await this.iptables(family, step)
            if (result.code !== 0) return { ok: false, error: toolError(result) }
          }
        }
      }
      const destroyed = await this.restore(ipsetDestroyScript(jails))
      if (destroyed.code !== 0 && !NO_SET.test(destroyed.stderr)) return { ok: false, error: toolError(destroyed) }
      // A destroy stops at the first absent set: the rest are destroyed one by one.
      if (destroyed.code !== 0) {
        for (const line of ipsetDestroyScript(jails).trim().split('\n')) {
          const result = await this.restore(`${line}\n`)
          if (result.code !== 0 && !NO_SET.test(result.stderr)) return { ok: false, error: toolError(result) }
        }
      }
      this.book.clear()
      return { ok: true }
    })
  }

  protected async setupNow(): Promise<StepResult> {
    const jails = [...this.jails.values()]
    if (jails.length === 0) return { ok: true }
    const sets = await this.restore(ipsetCreateScript(jails))
    if (sets.code !== 0) return { ok: false, error: toolError(sets) }
    for (const family of [4, 6] as const) {
      const chains = await this.run([family === 4 ? 'iptables-restore' : 'ip6tables-restore', '-w', '--noflush'], chainRestoreScript(jails, family))
      if (chains.code !== 0) return { ok: false, error: toolError(chains) }
      for (const jail of jails) {
        for (const jump of jumpRules(jail)) {
          if ((await this.iptables(family, ['-C', ...jump])).code === 0) continue
          const inserted = await this.iptables(family, ['-I', jump[0]!, '1', ...jump.slice(1)])
          if (inserted.code !== 0) return { ok: false, error: toolError(inserted) }
        }
      }
    }
    return { ok: true }
  }

  protected banScript(batch: readonly SetBanPending<Element>[], now: number): string {
    return ipsetBanScript(batch.map((p) => ({
      jail: p.jail, ip: p.text, timeout_secs: p.expires_ms === null ? null : Math.ceil((p.expires_ms - now) / 1000),
    })))
  }

  protected unbanScript(batch: readonly Pending<BanLifted>[]): string {
    return ipsetUnbanScript(batch.map((p) => ({ jail: p.jail, ip: p.text })))
  }

  protected async checkNow(active: Iterable<BanIssued>): Promise<{ plan: IpsetReconcilePlan; expiries: Map<string, number | null> } | StepFailure> {
    const listing = await this.run(['ipset', 'save'])
    if (listing.code !== 0) return { ok: false, error: toolError(listing) }
    const now = this.now()
    const latest = new Map<string, { ban: BanIssued; jail: IpsetJail; text: string; expires: number | null }>()
    for (const ban of active) {
      const target = this.locate(ban)
      if ('error' in target) continue
      const key = bookKey(target)
      const expires = ban.expires_at === null ? null : Date.parse(ban.expires_at)
      const seen = latest.get(key)
      if (seen && (seen.expires === null || (expires !== null && expires <= seen.expires))) continue
      latest.set(key, { ban, jail: target.jail, text: target.text, expires })
    }
    const expiries = new Map<string, number | null>()
    const desired: IpsetBan[] = []
    for (const [key, { jail, text, expires }] of latest) {
      if (expires !== null && expires <= now) continue
      expiries.set(key, expires)
      desired.push({ jail, ip: text, timeout_secs: expires === null ? null : Math.ceil((expires - now) / 1000) })
    }
    try {
      return { plan: ipsetReconcileScript([...this.jails.values()], parseIpsetSave(listing.stdout), desired), expiries }
    } catch (err) {
      if (err instanceof IpsetInputError) return { ok: false, error: err.message }
      throw err
    }
  }

  protected locate(decision: Decision): { jail: IpsetJail; set: string; text: string } | { error: string } {
    const jail = this.jails.get(decision.jail)
    if (!jail) return { error: `jail ${decision.jail} has no ipset action on this host` }
    try {
      return { jail, ...ipsetElement(jail, decision.ip) }
    } catch (err) {
      if (err instanceof IpsetInputError) return { error: err.message }
      throw err
    }
  }

  /**
   * Sends the lines of all `pending` to one `ipset -exist restore`. ipset
   * applies lines in order and stops at the first it refuses, naming its
   * number: the lines before are done, that decision fails with ipset's error
   * (after one setup and retry when its set vanished), and the rest go again.
   */
  protected async inBatches<D extends Decision, P extends Pending<D>>(
    pending: readonly P[],
    script: (batch: readonly P[]) => string,
    outcomes: Map<D, ActuationOutcome>,
    done: 'applied' | 'removed',
  ): Promise<P[]> {
    const succeeded: P[] = []
    let repaired = false
    let rest = pending
    while (rest.length > 0) {
      const result = await this.restore(script(rest))
      if (result.code === 0) {
        succeeded.push(...rest)
        break
      }
      const line = Number(/Error in line (\d+)/.exec(result.stderr)?.[1] ?? NaN)
      if (!repaired && NO_SET.test(result.stderr)) {
        repaired = true
        if ((await this.setupNow()).ok) continue
      }
      // Without a line number ipset refused the whole input: every decision carries its error.
      const failedAt = Number.isInteger(line) && line >= 1 && line <= rest.length ? line - 1 : -1
      if (failedAt === -1) {
        for (const p of rest) outcomes.set(p.decision, outcome(p.decision, 'failed', toolError(result, p.set)))
        rest = []
        break
      }
      succeeded.push(...rest.slice(0, failedAt))
      const failed = rest[failedAt]!
      const error = toolError(result, failed.set)
      outcomes.set(failed.decision, outcome(failed.decision, 'failed', error))
      rest = rest.slice(failedAt + 1)
      // A full set stays full for the rest of a batch of adds: failing its other bans now spares a
      // restore per ban when thousands arrive at a full set.
      if (FULL.test(result.stderr)) {
        for (const p of rest) if (p.set === failed.set) outcomes.set(p.decision, outcome(p.decision, 'failed', error))
        rest = rest.filter((p) => p.set !== failed.set)
      }
    }
    for (const p of succeeded) outcomes.set(p.decision, outcome(p.decision, done))
    return succeeded
  }

  protected endFlows(banned: readonly string[]): Promise<string | undefined> {
    if (this.conntrack === null) return Promise.resolve(undefined)
    return endFlows((argv) => this.run(argv), this.conntrack, banned)
  }

  protected async runScript(script: string): Promise<StepResult> {
    const result = await this.restore(script)
    return result.code === 0 ? { ok: true } : { ok: false, error: toolError(result) }
  }

  private restore(script: string): Promise<CommandResult> {
    return this.run(['ipset', '-exist', 'restore'], script)
  }

  private iptables(family: 4 | 6, args: readonly string[]): Promise<CommandResult> {
    return this.run([family === 4 ? 'iptables' : 'ip6tables', '-w', ...args])
  }

  private run(argv: readonly string[], input = ''): Promise<CommandResult> {
    return runCommand([...this.prefix, ...argv], input, this.timeoutMs)
  }
}

function toolError(result: CommandResult, set?: string): string {
  const text = result.stderr.trim() || `exited with code ${result.code}`
  return set !== undefined && FULL.test(text) ? `set ${set} is full: ${text}` : text
}
