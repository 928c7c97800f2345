import { Resolver } from 'node:dns/promises'
import { hostname } from 'node:os'
import { formatAddress, parseAddress } from '../../schemas/events/address.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome, ActuatorBackend, ReconcileResult, StepResult } from './actuator-backend.js'
import {
  banCommand, banFacts, execAddress, familyOf, hasCommand, staticCommand, usesTag,
  type BanFacts, type BanOperation, type ExecAction, type FamilyKey, type HostNames, type StaticOperation,
} from './exec-commands.js'
import type { CommandResult } from './run-command.js'
import { runShell } from './shell-command.js'

export interface ExecActuatorOptions {
  /** One action file's use by each jail that has it (exec-commands' execAction). */
  readonly jails: readonly ExecAction[]
  /** Put before the shell, e.g. `['ip', 'netns', 'exec', 'fw']` to act inside a network namespace. */
  readonly command_prefix?: readonly string[]
  /** The shell commands run in. Default `/bin/sh`, as fail2ban. */
  readonly shell?: string
  /** Wall clock in epoch milliseconds: bans end on it. Default Date.now. */
  readonly now?: () => number
  /** <fq-hostname> and <sh-hostname>. Default this host's name. */
  readonly host?: HostNames
  /** <ip-host>: the address's DNS name, looked up only for actions that use it. Default a reverse lookup (2 s). */
  readonly reverseLookup?: (ip: string) => Promise<string | undefined>
}

/** A ban this process carried out, with what it needs to lift it. */
interface Applied {
  ban: BanIssued
  expires: number | null
  restored: boolean
  /** The jail's repair count when applied: a repair since may have lost it (fail2ban's ban epoch). */
  epoch: number
}

/** One jail's action and what this process did with it. */
interface JailState {
  readonly action: ExecAction
  readonly started: Set<FamilyKey>
  readonly applied: Map<string, Applied>
  epoch: number
}

type Step = { ok: true } | { ok: false; error: string }
const OK: Step = { ok: true }

/**
 * The exec backend: runs one fail2ban action.d file for the jails that use
 * it, as fail2ban's CommandAction does: actionstart at setup (or before a
 * family's first ban with actionstart_on_demand), actioncheck before each ban
 * command and, when it fails, actionrepair (or actionstop + actionstart) and
 * the check again; actionban / actionunban through `/bin/sh -c`, each within
 * the action's `timeout`; an address banned again runs actionprolong when the
 * ban now ends later (nothing without one); teardown flushes and runs
 * actionstop.
 *
 * The bans it applied are remembered here, not read back from the world: an
 * exec ban ends at expiry through reconcile(), which the actuate role calls at
 * start and every 60 s, so on this host's clock a ban ends at most a minute
 * late (or at once through the BanLifted of the expire stage). reconcile() at
 * start restores the bans in force (with <restored> = 1, skipping `norestored`
 * actions such as mail), and after a repair re-applies the bans the repair may
 * have lost (actionreban, or actionban).
 *
 * Never throws from actuate; calls run one at a time in the order made.
 */
export class ExecActuator implements ActuatorBackend {
  readonly name = 'exec'
  private readonly jails: ReadonlyMap<string, JailState>
  private readonly now: () => number
  private readonly host: HostNames
  private readonly reverseLookup: (ip: string) => Promise<string | undefined>
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly options: ExecActuatorOptions) {
    this.jails = new Map(options.jails.map((action) => [action.jail, { action, started: new Set(), applied: new Map(), epoch: 0 }]))
    this.now = options.now ?? Date.now
    const name = hostname()
    this.host = options.host ?? { fq: name, short: name.split('.')[0]! }
    this.reverseLookup = options.reverseLookup ?? reverseName
  }

  /** Runs actionstart for each jail's families not started yet (on-demand actions start at their first ban). */
  setup(): Promise<StepResult> {
    return this.serial(async () => {
      const errors: string[] = []
      for (const state of this.jails.values()) {
        const started = await this.startPending(state)
        if (!started.ok) errors.push(started.error)
      }
      return errors.length === 0 ? OK : { ok: false, error: errors.join('; ') }
    })
  }

  actuate(decisions: readonly Decision[]): Promise<ActuationOutcome[]> {
    return this.serial(async () => {
      const outcomes: ActuationOutcome[] = []
      for (const d of decisions) outcomes.push(await (d.type === 'BanIssued' ? this.applyBan(d) : this.liftBan(d)))
      return outcomes
    })
  }

  /**
   * Makes this process's bans equal to `active` (the bans in force): runs
   * actionban for those it has not applied (restored), again for those a
   * repair may have lost, and actionunban for those no longer in force on
   * this host's clock.
   */
  reconcile(active: readonly BanIssued[]): Promise<ReconcileResult> {
    return this.serial(async () => {
      const errors: string[] = []
      let added = 0
      let removed = 0
      const now = this.now()
      const desired = new Map<JailState, Map<string, BanIssued>>()
      for (const ban of active) {
        const state = this.jails.get(ban.jail)
        const key = addressKey(ban.ip)
        const expires = expiry(ban)
        if (!state || key === undefined || (expires !== null && expires <= now)) continue
        const byIp = desired.get(state) ?? new Map<string, BanIssued>()
        desired.set(state, byIp)
        const seen = byIp.get(key)
        if (!seen || laterThan(expires, expiry(seen))) byIp.set(key, ban)
      }
      for (const state of this.jails.values()) {
        const started = await this.startPending(state)
        if (!started.ok) errors.push(started.error)
        const wanted = desired.get(state) ?? new Map<string, BanIssued>()
        for (const [key, ban] of wanted) {
          const applied = state.applied.get(key)
          if (applied && applied.epoch === state.epoch) continue
          if (!applied && state.action.norestored) continue
          const result = applied ? await this.reban(state, ban, applied.restored) : await this.ban(state, ban, 'actionban', true)
          if (!result.ok) errors.push(`${ban.jail} ${ban.ip}: ${result.error}`)
          else added++
        }
        for (const [key, applied] of [...state.applied]) {
          if (wanted.has(key)) continue
          const result = await this.unban(state, applied)
          if (!result.ok) errors.push(`${applied.ban.jail} ${applied.ban.ip}: ${result.error}`)
          else removed++
        }
      }
      return errors.length === 0 ? { ok: true, added, removed } : { ok: false, error: errors.join('; '), added, removed }
    })
  }

  /**
   * Stops every jail's action as fail2ban stops a jail: its bans go
   * (actionflush when the action has one, else actionunban each), then
   * actionstop for each family started.
   */
  teardown(): Promise<StepResult> {
    return this.serial(async () => {
      const errors: string[] = []
      for (const state of this.jails.values()) {
        const families = [...state.started]
        const flushed = families.length > 0 && families.every((f) => hasCommand(state.action, 'actionflush', f))
        if (flushed) {
          const result = await this.runOperation(state, 'actionflush', families)
          if (!result.ok) errors.push(result.error)
          state.applied.clear()
        }
        for (const applied of [...state.applied.values()]) {
          const result = await this.unban(state, applied)
          if (!result.ok) errors.push(`${applied.ban.jail} ${applied.ban.ip}: ${result.error}`)
        }
        state.applied.clear()
        const stopped = await this.stop(state, families)
        if (!stopped.ok) errors.push(stopped.error)
      }
      return errors.length === 0 ? OK : { ok: false, error: errors.join('; ') }
    })
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step)
    this.queue = next.catch(() => undefined)
    return next
  }

  private async applyBan(ban: BanIssued): Promise<ActuationOutcome> {
    const state = this.jails.get(ban.jail)
    if (!state) return outcome(ban, 'failed', `jail ${ban.jail} has no exec action here`)
    const key = addressKey(ban.ip)
    if (key === undefined) return outcome(ban, 'failed', `${JSON.stringify(ban.ip)} is not an IP address or network`)
    const expires = expiry(ban)
    if (expires !== null && expires <= this.now()) return outcome(ban, 'skipped', `the ban expired at ${ban.expires_at}`)
    const applied = state.applied.get(key)
    const family = familyOf(execAddress(ban.ip))
    if (applied && applied.epoch !== state.epoch) {
      const result = await this.reban(state, laterThan(expires, applied.expires) ? ban : applied.ban, applied.restored)
      return result.ok ? outcome(ban, 'applied') : outcome(ban, 'failed', result.error)
    }
    if (applied) {
      if (applied.ban.event_id === ban.event_id || !laterThan(expires, applied.expires)) return outcome(ban, 'applied')
      if (hasCommand(state.action, 'actionprolong', family)) {
        const result = await this.processCommand(state, 'actionprolong', family, await this.facts(state, 'actionprolong', ban, false))
        if (!result.ok) return outcome(ban, 'failed', result.error)
      }
      applied.ban = ban
      applied.expires = expires
      return outcome(ban, 'applied')
    }
    const result = await this.ban(state, ban, 'actionban', false)
    return result.ok ? outcome(ban, 'applied') : outcome(ban, 'failed', result.error)
  }

  private async liftBan(lift: BanLifted): Promise<ActuationOutcome> {
    const state = this.jails.get(lift.jail)
    if (!state) return outcome(lift, 'failed', `jail ${lift.jail} has no exec action here`)
    const key = addressKey(lift.ip)
    if (key === undefined) return outcome(lift, 'failed', `${JSON.stringify(lift.ip)} is not an IP address or network`)
    // A ban this process never applied has nothing to lift (fail2ban runs actionunban only for a family holding bans).
    const applied = state.applied.get(key)
    if (!applied) return outcome(lift, 'removed')
    const result = await this.unban(state, applied)
    return result.ok ? outcome(lift, 'removed') : outcome(lift, 'failed', result.error)
  }

  /** fail2ban's CommandAction.ban: starts the family on demand, then the ban command; remembers the ban. */
  private async ban(state: JailState, ban: BanIssued, op: BanOperation, restored: boolean): Promise<Step> {
    const family = familyOf(execAddress(ban.ip))
    const started = state.action.start_on_demand && !state.started.has(family) ? await this.start(state, [family]) : await this.startPending(state)
    if (!started.ok) return started
    const result = await this.processCommand(state, op, family, await this.facts(state, op, ban, restored))
    if (result.ok) state.applied.set(addressKey(ban.ip)!, { ban, expires: expiry(ban), restored, epoch: state.epoch })
    return result
  }

  /** A ban a repair since may have lost, applied again as fail2ban does: actionreban when the action has one. */
  private reban(state: JailState, ban: BanIssued, restored: boolean): Promise<Step> {
    const op = hasCommand(state.action, 'actionreban', familyOf(execAddress(ban.ip))) ? 'actionreban' : 'actionban'
    return this.ban(state, ban, op, restored)
  }

  private async unban(state: JailState, applied: Applied): Promise<Step> {
    const family = familyOf(execAddress(applied.ban.ip))
    const result = await this.processCommand(state, 'actionunban', family, await this.facts(state, 'actionunban', applied.ban, applied.restored))
    if (result.ok) state.applied.delete(addressKey(applied.ban.ip)!)
    return result
  }

  private async facts(state: JailState, op: BanOperation, ban: BanIssued, restored: boolean): Promise<BanFacts> {
    const facts = banFacts(ban, restored)
    if (!usesTag(state.action, op, familyOf(facts.ip), 'ip-host')) return facts
    const name = await this.reverseLookup(ban.ip)
    return name === undefined ? facts : { ...facts, ip_host: name }
  }

  /**
   * fail2ban's _processCmd: when the action has an actioncheck and it fails,
   * repairs (actionrepair, or actionstop + actionstart) and checks again
   * before the command; an unban is not repaired for unless
   * actionrepair_on_unban. A repair counts as a new epoch: the jail's earlier
   * bans are re-applied by the next reconcile.
   */
  private async processCommand(state: JailState, op: BanOperation, family: FamilyKey, facts: BanFacts): Promise<Step> {
    const { action } = state
    if (!hasCommand(action, op, family)) return OK
    if (hasCommand(action, 'actioncheck', family)) {
      const check = () => this.run(action, staticCommand(action, 'actioncheck', family, this.host), 'actioncheck')
      if (!(await check()).ok) {
        if (op === 'actionunban' && !action.repair_on_unban) return { ok: false, error: 'actioncheck failed; the unban is impossible (no actionrepair_on_unban)' }
        state.epoch++
        if (hasCommand(action, 'actionrepair', family)) {
          const repaired = await this.run(action, staticCommand(action, 'actionrepair', family, this.host), 'actionrepair')
          if (!repaired.ok) {
            state.started.delete(family)
            return { ok: false, error: `unable to restore a sane environment: ${repaired.error}` }
          }
          state.started.add(family)
        } else {
          await this.stop(state, [family])
          const restarted = await this.start(state, [family])
          if (!restarted.ok) return { ok: false, error: `unable to restore a sane environment: ${restarted.error}` }
        }
        if (state.started.has(family)) {
          const again = await check()
          if (!again.ok) return { ok: false, error: `unable to restore a sane environment: ${again.error}` }
        }
      }
    }
    return this.run(action, banCommand(action, op, facts, this.host), op)
  }

  /** Starts the families of an action not started on demand that are not started yet (a failed setup is retried). */
  private startPending(state: JailState): Promise<Step> {
    if (state.action.start_on_demand) return Promise.resolve(OK)
    return this.start(state, state.action.families.filter((f) => !state.started.has(f)))
  }

  private async start(state: JailState, families: readonly FamilyKey[]): Promise<Step> {
    const result = await this.runOperation(state, 'actionstart', families)
    if (result.ok) for (const f of families) state.started.add(f)
    return result
  }

  private async stop(state: JailState, families: readonly FamilyKey[]): Promise<Step> {
    for (const f of families) state.started.delete(f)
    return this.runOperation(state, 'actionstop', families)
  }

  /** Runs a command without a ban for each family, once when two families render the same command. */
  private async runOperation(state: JailState, op: StaticOperation, families: readonly FamilyKey[]): Promise<Step> {
    const done = new Set<string>()
    const errors: string[] = []
    for (const family of families) {
      if (!hasCommand(state.action, op, family)) continue
      const command = staticCommand(state.action, op, family, this.host)
      if (done.has(command)) continue
      done.add(command)
      const result = await this.run(state.action, command, op)
      if (!result.ok) errors.push(result.error)
    }
    return errors.length === 0 ? OK : { ok: false, error: errors.join('; ') }
  }

  private async run(action: ExecAction, command: string, op: string): Promise<Step> {
    const result = await runShell(command, {
      timeout_ms: action.timeout_secs * 1000,
      ...(this.options.shell === undefined ? {} : { shell: this.options.shell }),
      ...(this.options.command_prefix === undefined ? {} : { prefix: this.options.command_prefix }),
    })
    return result.code === 0 ? OK : { ok: false, error: `${action.file} ${op} (jail ${action.jail}) ${failure(result)}` }
  }
}

function failure(result: CommandResult): string {
  const said = result.stderr.trim() || result.stdout.trim()
  const how = result.code === null ? 'failed' : `exited with code ${result.code}`
  return said === '' ? how : `${how}: ${said}`
}

/** The canonical text of the address, one key per address however the decision spells it. */
function addressKey(ip: string): string | undefined {
  const address = parseAddress(ip)
  return address ? formatAddress(address) : undefined
}

function expiry(ban: BanIssued): number | null {
  return ban.expires_at === null ? null : Date.parse(ban.expires_at)
}

/** Whether an expiry (null = never) is later than another. */
function laterThan(a: number | null, b: number | null): boolean {
  return b !== null && (a === null || a > b)
}

function outcome(decision: Decision, kind: ActuationOutcome['outcome'], error?: string): ActuationOutcome {
  return {
    decision_event_id: decision.event_id, jail: decision.jail, ip: decision.ip, outcome: kind,
    ...(error === undefined ? {} : { error }),
  }
}

async function reverseName(ip: string): Promise<string | undefined> {
  const resolver = new Resolver({ timeout: 2000, tries: 1 })
  try {
    return (await resolver.reverse(ip))[0]
  } catch {
    return undefined
  }
}
