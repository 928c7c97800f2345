import { randomUUID } from 'node:crypto'
import { contains, parseAddress, type Address } from '../../../schemas/events/address.js'
import type { ControlPort, JailStatus, LiftedEntry } from '../../../src/api/control/control-port.js'

/** What an in-memory jail is configured with. */
export interface MemoryJailConfig {
  name: string
  file_list: string[]
  ignoreip?: string[]
  /** -1 = permanent. */
  ban_time_secs: number
  currently_failed?: number
  total_failed?: number
}

type BanEvent =
  | { type: 'banned'; jail: string; ip: string; expires_at: string | null; event_id: string }
  | { type: 'lifted'; jail: string; ip: string; at: string; ban_event_id: string }

interface JailState { bans: Map<string, { expires_at: string | null; event_id: string }>; total_banned: number }

/** Folds one ban event into the jails' state: the only place state changes. */
function evolve(state: Map<string, JailState>, event: BanEvent): void {
  const jail = state.get(event.jail)!
  if (event.type === 'banned') {
    jail.bans.set(event.ip, { expires_at: event.expires_at, event_id: event.event_id })
    jail.total_banned++
  } else {
    jail.bans.delete(event.ip)
  }
}

/**
 * The run role's side of the control API, in memory: decides ban/unban
 * commands against the jails' state and folds the resulting events into it.
 * `events` is the record; `reloads` counts reload() calls.
 */
export class MemoryControlPort implements ControlPort {
  readonly events: BanEvent[] = []
  reloads = 0
  private readonly state = new Map<string, JailState>()
  private readonly configs = new Map<string, MemoryJailConfig & { ignored: Address[] }>()

  constructor(jails: MemoryJailConfig[], private readonly now: () => Date) {
    for (const jail of jails) {
      this.configs.set(jail.name, { ...jail, ignored: (jail.ignoreip ?? []).map((ip) => parseAddress(ip)!) })
      this.state.set(jail.name, { bans: new Map(), total_banned: 0 })
    }
  }

  private emit(event: BanEvent): void {
    this.events.push(event)
    evolve(this.state, event)
  }

  async jails(): Promise<string[]> {
    return [...this.configs.keys()]
  }

  async status(jail: string): Promise<JailStatus | undefined> {
    const config = this.configs.get(jail)
    const state = this.state.get(jail)
    if (!config || !state) return undefined
    return {
      name: jail,
      filter: { currently_failed: config.currently_failed ?? 0, total_failed: config.total_failed ?? 0, file_list: config.file_list },
      actions: { currently_banned: state.bans.size, total_banned: state.total_banned, banned_ip_list: [...state.bans.keys()] },
    }
  }

  async banned(): Promise<{ jail: string; ip: string; expires_at: string | null; event_id: string }[]> {
    return [...this.state].flatMap(([jail, s]) => [...s.bans].map(([ip, ban]) => ({ jail, ip, ...ban })))
  }

  async liftedSince(ms: number): Promise<LiftedEntry[]> {
    return this.events.flatMap((e) => (e.type === 'lifted' && Date.parse(e.at) >= ms
      ? [{ jail: e.jail, ip: e.ip, ban_event_id: e.ban_event_id, lifted_at: e.at }] : []))
  }

  async ban(jail: string, ips: string[], opts: { force?: boolean }): Promise<{ ip: string; result: 'banned' | 'already banned' | 'ignored' }[]> {
    const config = this.configs.get(jail)!
    const state = this.state.get(jail)!
    return ips.map((ip) => {
      const address = parseAddress(ip)!
      if (!opts.force && config.ignored.some((net) => contains(net, address))) return { ip, result: 'ignored' as const }
      if (state.bans.has(ip)) return { ip, result: 'already banned' as const }
      const expires_at = config.ban_time_secs < 0 ? null
        : new Date(this.now().getTime() + config.ban_time_secs * 1000).toISOString()
      this.emit({ type: 'banned', jail, ip, expires_at, event_id: randomUUID() })
      return { ip, result: 'banned' as const }
    })
  }

  async unban(jail: string | undefined, ips: string[] | 'all'): Promise<number> {
    const lifted = [...this.state]
      .filter(([name]) => jail === undefined || name === jail)
      .flatMap(([name, s]) => [...s.bans].filter(([ip]) => ips === 'all' || ips.includes(ip)).map(([ip, ban]) => ({ jail: name, ip, ban_event_id: ban.event_id })))
    const at = this.now().toISOString()
    for (const entry of lifted) this.emit({ type: 'lifted', ...entry, at })
    return lifted.length
  }

  async reload(): Promise<void> {
    this.reloads++
  }
}
