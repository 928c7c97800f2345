import type { BanOutcome, JailStatus } from '../../schemas/api/control.js'
import { formatAddress, networkOf, parseAddress } from '../../schemas/events/address.js'
import type { BanAddress } from '../../schemas/events/ban-address.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { LiftBan } from '../../schemas/events/lift-ban.js'
import { partitionKey, Topics } from '../../schemas/topics.js'
import { touchesIgnored } from '../../streams/decide-ignore.js'
import type { JailPolicy } from '../../streams/decide-policy.js'
import { ControlError, unknownJail } from '../api/control/control-error.js'
import type { BannedEntry, ControlPort, LiftedEntry } from '../api/control/control-port.js'
import type { Log } from '../log/log.js'
import type { Store } from '../store/store.js'
import type { BanBook } from './ban-book.js'
import { banCommand, liftCommand } from './control-commands.js'
import { liftedSince } from './lifted-since.js'

/** A jail as the fleet's API knows it: from the configuration the detect workers run. */
export interface FleetJail {
  readonly name: string
  /** The decide policy, ignoreip resolved: refuses a ban the detect workers would refuse. */
  readonly policy: JailPolicy
  /** The jail's logpath patterns: the files are on the forwarders' hosts, not here. */
  readonly file_list: readonly string[]
}

export interface FleetControlParts {
  /** The fleet's log: commands are appended to `commands`. */
  readonly log: Log
  /** The bans in force, folded from `decisions`. */
  readonly book: BanBook
  /** The history the store role keeps: the failure counts of status. */
  readonly store: Store
  jails(): readonly FleetJail[]
  /** Reads the configuration again (jails, ignoreip). */
  reload(): Promise<void>
  /** Wall clock in milliseconds. */
  now(): number
  /** How long a ban or unban waits for its decision (default 15 000 ms). */
  readonly answerWithinMs?: number
}

const DEFAULT_ANSWER_WITHIN_MS = 15_000

/** A call waiting for the decision its command causes; cancel() when the command was never appended. */
interface Wait {
  readonly decided: Promise<Decision>
  cancel(): void
}

/**
 * fail2ban-client's commands for a fleet, where the detect workers decide
 * elsewhere. A ban that ignoreip covers (not forced) or that the book already
 * holds is answered here without a command, as decide would answer it;
 * otherwise a BanAddress goes to `commands` and the call answers once the
 * book folds the BanIssued it caused — or, after `answerWithinMs`, a 504
 * (no detect worker running, or one refusing what this API let through:
 * an ignoreip host name resolving differently there, a ban the book had not
 * seen yet). An unban sends a LiftBan per ban in force it names and waits for
 * each lift alike.
 *
 * status(): jails and bans from the configuration and the book; the failure
 * counts come from the history, since the windows live in the detect workers:
 * `currently_failed` is the distinct addresses (or failure ids) with failures
 * of the jail inside its findtime back from now, `total_failed` every failure
 * of the jail the history holds (its retention, not since a start). A ban
 * that cleared a window still counts in the former until findtime passes.
 */
export class FleetControl implements ControlPort {
  private readonly pending = new Map<string, ((decision: Decision) => void)[]>()
  private readonly unwatch: () => void

  constructor(private readonly parts: FleetControlParts) {
    this.unwatch = parts.book.watch((decision) => this.seen(decision))
  }

  /** Stops following the book; calls still waiting end in their timeout. */
  close(): void {
    this.unwatch()
  }

  async jails(): Promise<string[]> {
    return this.parts.jails().map((j) => j.name)
  }

  async status(name: string): Promise<JailStatus | undefined> {
    const jail = this.parts.jails().find((j) => j.name === name)
    if (!jail) return undefined
    const bans = this.inForce().filter((b) => b.jail === name)
    const [counts] = await this.parts.store.query<{ currently_failed: number; total_failed: number }>(
      `SELECT uniqExactIf(ip, ifNull(fid, ''), occurred_at >= fromUnixTimestamp64Milli({since_ms:Int64})) AS currently_failed,
              count() AS total_failed
         FROM failures FINAL WHERE jail = {jail:String} AND NOT success`,
      { jail: name, since_ms: this.parts.now() - jail.policy.find_time_secs * 1000 },
    )
    return {
      name,
      filter: { currently_failed: counts?.currently_failed ?? 0, total_failed: counts?.total_failed ?? 0, file_list: [...jail.file_list] },
      actions: { currently_banned: bans.length, total_banned: this.parts.book.totalBanned(name), banned_ip_list: bans.map((b) => b.ip) },
    }
  }

  async banned(): Promise<BannedEntry[]> {
    return this.inForce().map((b) => ({ jail: b.jail, ip: b.ip, expires_at: b.expires_at, event_id: b.event_id, banned_at: b.occurred_at }))
  }

  liftedSince(ms: number): Promise<LiftedEntry[]> {
    return liftedSince(this.parts.log, ms)
  }

  async ban(jail: string, ips: string[], opts: { force?: boolean }): Promise<{ ip: string; result: BanOutcome }[]> {
    const policy = this.parts.jails().find((j) => j.name === jail)?.policy
    if (!policy) throw unknownJail(jail)
    const held = new Set(this.inForce().filter((b) => b.jail === jail).map((b) => b.ip))
    const outcomes = new Map<string, Promise<BanOutcome>>()
    const commands: BanAddress[] = []
    const waits: Wait[] = []
    for (const ip of new Set(ips)) {
      const address = parseAddress(ip)
      if (!opts.force && address && touchesIgnored(policy.ignore, address)) outcomes.set(ip, Promise.resolve('ignored'))
      else if (held.has(ip)) outcomes.set(ip, Promise.resolve('already banned'))
      else {
        const command = banCommand(jail, ip, this.parts.now(), opts.force)
        const wait = this.wait(`issued\u0000${command.event_id}`, `banning ${ip} in jail '${jail}'`)
        commands.push(command)
        waits.push(wait)
        // A ban the book had not seen when asked is prolonged by decide rather than issued anew.
        outcomes.set(ip, wait.decided.then((d) => ((d as BanIssued).reason === 'prolonged' ? 'already banned' : 'banned')))
      }
    }
    await this.send(commands, waits)
    return Promise.all(ips.map(async (ip) => ({ ip, result: await outcomes.get(ip)! })))
  }

  async unban(jail: string | undefined, ips: string[] | 'all'): Promise<number> {
    const policies = new Map(this.parts.jails().map((j) => [j.name, j.policy]))
    const names = (ban: BannedEntry, ip: string) => {
      if (ban.ip === ip) return true
      // An address of a banned IPv6 network names that ban, as decide's LiftBan finds it.
      const address = parseAddress(ip)
      const prefix = policies.get(ban.jail)?.ipv6_prefix
      return address?.family === 6 && prefix !== undefined && formatAddress(networkOf(address, prefix)) === ban.ip
    }
    const targets = (await this.banned()).filter((b) =>
      (jail === undefined || b.jail === jail) && (ips === 'all' || ips.some((ip) => names(b, ip))))
    const waits: Wait[] = []
    const commands: LiftBan[] = []
    for (const ban of targets) {
      const command = liftCommand(ban.jail, ban.ip, this.parts.now())
      commands.push(command)
      waits.push(this.wait(`lifted\u0000${ban.jail}\u0000${ban.ip}`, `unbanning ${ban.ip} in jail '${ban.jail}'`))
    }
    await this.send(commands, waits)
    return (await Promise.all(waits.map((w) => w.decided))).length
  }

  reload(): Promise<void> {
    return this.parts.reload()
  }

  /** The book's bans whose time is not up: the detect workers append a ban's lift only when it ends. */
  private inForce(): BanIssued[] {
    const now = this.parts.now()
    return this.parts.book.bans().filter((b) => b.expires_at === null || Date.parse(b.expires_at) > now)
  }

  /** Appends the commands; if that fails, the waits for their decisions end with it. */
  private async send(commands: readonly (BanAddress | LiftBan)[], waits: readonly Wait[]): Promise<void> {
    if (commands.length === 0) return
    try {
      await this.parts.log.append(Topics.commands.name, commands.map((c) => ({ key: Buffer.from(partitionKey(c.ip)), value: Buffer.from(JSON.stringify(c)) })))
    } catch (error) {
      for (const wait of waits) wait.cancel()
      throw error
    }
  }

  /**
   * The first decision folded under `key` from now on; a 504 after
   * answerWithinMs. Made before the command is appended, so a decision
   * folded at once is not missed.
   */
  private wait(key: string, what: string): Wait {
    const withinMs = this.parts.answerWithinMs ?? DEFAULT_ANSWER_WITHIN_MS
    let timer: NodeJS.Timeout | undefined
    let answer: ((decision: Decision) => void) | undefined
    const forget = () => {
      clearTimeout(timer)
      const left = this.pending.get(key)?.filter((a) => a !== answer) ?? []
      if (left.length > 0) this.pending.set(key, left)
      else this.pending.delete(key)
    }
    const decided = new Promise<Decision>((resolve, reject) => {
      answer = (decision) => {
        clearTimeout(timer)
        resolve(decision)
      }
      timer = setTimeout(() => {
        forget()
        reject(new ControlError(504, 'BANSTREAM_ERR_DECISION_TIMEOUT',
          `no decision on ${what} within ${withinMs / 1000} s: the command is on the commands topic and is decided once a detect worker reads it; are the detect workers running?`))
      }, withinMs)
      this.pending.set(key, [...(this.pending.get(key) ?? []), answer])
    })
    return { decided, cancel: forget }
  }

  private seen(decision: Decision): void {
    const key = decision.type === 'BanIssued' ? `issued\u0000${decision.cause_event_id}` : `lifted\u0000${decision.jail}\u0000${decision.ip}`
    const answers = this.pending.get(key)
    if (!answers) return
    this.pending.delete(key)
    for (const answer of answers) answer(decision)
  }
}
