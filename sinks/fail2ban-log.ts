import { open, stat, type FileHandle } from 'node:fs/promises'
import { contains, parseAddress, type Address } from '../schemas/events/address.js'
import type { BanIssued } from '../schemas/events/ban-issued.js'
import type { BanLifted } from '../schemas/events/ban-lifted.js'
import type { FailureDetected } from '../schemas/events/failure-detected.js'
import { utf8BytesAtMost } from '../src/files/utf8-bound.js'

/**
 * banstream's own log in fail2ban.log's format, so that what reads fail2ban's
 * log (the recidive filter, log watchers, an operator's grep) reads ours:
 *
 *     2026-11-22 10:00:00,123 fail2ban.filter         [1234]: INFO    [sshd] Found 192.0.2.1 - 2026-11-22 10:00:00
 *     2026-11-22 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 192.0.2.1
 *
 * fail2ban's layout is `%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s %(message)s`, its times
 * local and without a zone.
 */

export type LogLevel = 'CRITICAL' | 'ERROR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG'

export interface LogLineOptions {
  /** The process id in brackets. */
  readonly pid: number
  /** The IANA zone the times are written in; default: the process's local zone, as fail2ban writes them. */
  readonly time_zone?: string
}

/** One line (without terminator) from a logger name, a level and a message, at `atMs` (epoch milliseconds). */
export function formatLogLine(atMs: number, logger: string, level: LogLevel, message: string, opts: LogLineOptions): string {
  const t = localTime(atMs, opts.time_zone)
  const stamp = `${t.date} ${t.time},${String(atMs - Math.floor(atMs / 1000) * 1000).padStart(3, '0')}`
  return `${stamp} ${logger.padEnd(24)}[${opts.pid}]: ${level.padEnd(7)} ${oneLine(message)}`
}

/**
 * fail2ban's filter line for a failure: `[jail] Found ip - YYYY-MM-DD HH:MM:SS`, at the time it was
 * counted (`countedMs`: a running service counts some lines as now), else the failure's own.
 */
export function foundLine(atMs: number, failure: FailureDetected, opts: LogLineOptions, countedMs = Date.parse(failure.occurred_at)): string {
  const t = localTime(countedMs, opts.time_zone)
  return formatLogLine(atMs, 'fail2ban.filter', 'INFO', `[${failure.jail}] Found ${failure.ip} - ${t.date} ${t.time}`, opts)
}

/**
 * fail2ban's actions line for a ban: `[jail] Ban ip`. A prolonged ban is one of an address already
 * banned, which fail2ban reports as `[jail] ip already banned` — and which recidive must not count again.
 */
export function banLine(atMs: number, ban: BanIssued, opts: LogLineOptions): string {
  const message = ban.reason === 'prolonged' ? `[${ban.jail}] ${ban.ip} already banned` : `[${ban.jail}] Ban ${ban.ip}`
  return formatLogLine(atMs, 'fail2ban.actions', 'NOTICE', message, opts)
}

/**
 * fail2ban's observer line for a ban that bantime.increment made longer (or shorter, with rndtime)
 * than the jail's bantime: `[jail] Increase Ban ip (count # length -> end)`, written after the Ban line.
 */
export function increaseBanLine(atMs: number, ban: BanIssued, opts: LogLineOptions): string {
  let length = 'permanent'
  let end = 'infinite'
  if (ban.ban_time_secs !== -1 && ban.expires_at !== null) {
    const t = localTime(Date.parse(ban.expires_at), opts.time_zone)
    length = banLength(ban.ban_time_secs)
    end = `${t.date} ${t.time}`
  }
  return formatLogLine(atMs, 'fail2ban.observer', 'NOTICE', `[${ban.jail}] Increase Ban ${ban.ip} (${ban.ban_count} # ${length} -> ${end})`, opts)
}

/**
 * A ban's length as fail2ban's MyTime.seconds2str writes it: at most three units, rounded to the
 * day past a year, to the hour past a week, to the minute past a day, to ten seconds past an hour.
 */
export function banLength(secs: number): string {
  const units = (value: number, steps: readonly [number, string][]): string => {
    const parts: string[] = []
    let rest = value
    steps.forEach(([size, unit], i) => {
      const n = Math.floor(rest / size)
      // The first unit is always written; the others only when not zero.
      if (i === 0 || n > 0) parts.push(`${n}${unit}`)
      rest -= n * size
    })
    return parts.join(' ')
  }
  if (secs >= 31_536_000) return units(pyRound(secs / 86_400), [[365, 'y'], [7, 'w'], [1, 'd']])
  if (secs >= 604_800) return units(pyRound(secs / 3_600), [[168, 'w'], [24, 'd'], [1, 'h']])
  if (secs >= 86_400) return units(pyRound(secs / 60), [[1_440, 'd'], [60, 'h'], [1, 'm']])
  if (secs >= 3_595) return units(pyRound(secs / 10), [[360, 'h'], [6, 'm']])
  if (secs === 0) return '0'
  const parts: string[] = []
  if (secs >= 60) parts.push(`${Math.floor(secs / 60)}m`)
  if (secs % 60) parts.push(`${secs % 60}s`)
  return parts.join(' ')
}

/** Python 3's round(): halves to the even neighbour. */
function pyRound(x: number): number {
  const floor = Math.floor(x)
  const diff = x - floor
  if (diff !== 0.5) return Math.round(x)
  return floor % 2 === 0 ? floor : floor + 1
}

/** fail2ban's actions line for a failure of an address already banned: `[jail] ip already banned`. */
export function alreadyBannedLine(atMs: number, jail: string, ip: string, opts: LogLineOptions): string {
  return formatLogLine(atMs, 'fail2ban.actions', 'NOTICE', `[${jail}] ${ip} already banned`, opts)
}

/** fail2ban's actions line for an unban: `[jail] Unban ip`. */
export function unbanLine(atMs: number, lift: BanLifted, opts: LogLineOptions): string {
  return formatLogLine(atMs, 'fail2ban.actions', 'NOTICE', `[${lift.jail}] Unban ${lift.ip}`, opts)
}

/** A message must stay one line, or its continuation could be read as a line of its own (a forged Ban). */
function oneLine(message: string): string {
  return message.replace(/[\r\n]/g, ' ')
}

/** Date and time of a second; the milliseconds are the caller's. */
interface LocalTime { date: string; time: string }

interface Zone {
  readonly format: Intl.DateTimeFormat
  /** Date and time by epoch second: lines come in bursts within a second, and formatToParts costs microseconds. */
  readonly seconds: Map<number, { date: string; time: string }>
}

const zones = new Map<string, Zone>()
const SECONDS_KEPT = 1024

function localTime(atMs: number, timeZone: string | undefined): LocalTime {
  const key = timeZone ?? ''
  let zone = zones.get(key)
  if (!zone) {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    })
    zone = { format, seconds: new Map() }
    zones.set(key, zone)
  }
  const second = Math.floor(atMs / 1000)
  let formatted = zone.seconds.get(second)
  if (!formatted) {
    const parts: Record<string, string> = {}
    for (const p of zone.format.formatToParts(second * 1000)) parts[p.type] = p.value
    formatted = {
      date: `${parts['year']!.padStart(4, '0')}-${parts['month']}-${parts['day']}`,
      time: `${parts['hour']}:${parts['minute']}:${parts['second']}`,
    }
    if (zone.seconds.size >= SECONDS_KEPT) zone.seconds.clear()
    zone.seconds.set(second, formatted)
  }
  // The cached object itself: an object spread here made V8 allocate each copy in the old generation.
  return formatted
}

export interface Fail2banLogConfig extends Partial<LogLineOptions> {
  /** The file to append to (fail2ban's `logtarget`). */
  readonly path: string
  /** Wall clock in milliseconds, the time each line is stamped with; injectable for tests. */
  readonly now?: () => number
}

/**
 * Appends lines to banstream's fail2ban-format log. Follows logrotate: before
 * each write the path is checked, and a file moved away or deleted is replaced
 * by a new one at the path; reopen() does the same at once (wire it to SIGHUP).
 * Writes are serialised in call order. Lines made while a write is in flight
 * are written together by the next one (one path check and one append for the
 * lot, not one per line: a flood's Found lines would otherwise cost a stat and
 * a write each); a failed write fails every line it carried.
 */
export class Fail2banLog {
  private readonly opts: LogLineOptions
  private readonly now: () => number
  private handle: FileHandle | undefined
  private identity: string | undefined
  private queue: Promise<void> = Promise.resolve()
  /** Lines waiting for the write queued for them; lines made until it starts join it. */
  private batch: { readonly lines: LineBytes; readonly written: Promise<void> } | undefined
  /**
   * Bans decided whose Ban line is not written yet, by `jail\0ip`, with the "already banned" lines
   * made meanwhile: the decision reaches the actions (which write Ban) through the decisions topic, a
   * few milliseconds after the decide stage saw the next failure of the address. fail2ban writes both
   * lines from its actions thread, Ban first.
   */
  private readonly awaitedBans = new Map<string, AwaitedBan>()
  /** How many of them are of a network (an IPv6 prefix): the failures of any address inside wait for those. */
  private awaitedNetworks = 0
  /** Lines held, all bans together: past MAX_HELD_LINES (an actuator stuck under a flood) lines go out at once, out of order. */
  private heldLines = 0

  constructor(private readonly config: Fail2banLogConfig) {
    this.opts = { pid: config.pid ?? process.pid, ...(config.time_zone !== undefined && { time_zone: config.time_zone }) }
    this.now = config.now ?? Date.now
  }

  found(failure: FailureDetected, countedMs?: number): Promise<void> {
    return this.append(foundLine(this.now(), failure, this.opts, countedMs))
  }

  /**
   * A ban was decided: "already banned" lines of its address wait for its Ban line (see ban()), and
   * so does its Increase Ban line when `increased` (the ban, made longer by bantime.increment) is given.
   */
  expectBan(jail: string, ip: string, increased?: BanIssued): void {
    const key = banKey(jail, ip)
    // Past the bound (a flood of bans the actions lag behind) a ban's notices go out at once, out of order.
    if (this.awaitedBans.has(key) || this.awaitedBans.size >= MAX_AWAITED_BANS) return
    const network = ip.includes('/') ? parseAddress(ip) : null
    if (network !== null) this.awaitedNetworks++
    this.awaitedBans.set(key, { jail, ip, network, held: [], ...(increased !== undefined && { increased }) })
  }

  ban(ban: BanIssued): Promise<void> {
    const written = this.append(banLine(this.now(), ban, this.opts))
    const awaited = this.awaitedBans.get(banKey(ban.jail, ban.ip))
    if (awaited?.increased?.event_id === ban.event_id) void this.append(increaseBanLine(this.now(), ban, this.opts))
    if (awaited !== undefined) this.release(awaited)
    return written
  }

  /** `[jail] ip already banned`; after the Ban line when that ban was expected (expectBan) and is not written yet. */
  alreadyBanned(jail: string, ip: string): Promise<void> {
    const awaited = this.heldLines >= MAX_HELD_LINES ? undefined : this.awaitedBans.get(banKey(jail, ip)) ?? this.awaitedNetworkOf(jail, ip)
    if (awaited === undefined) return this.append(alreadyBannedLine(this.now(), jail, ip, this.opts))
    this.heldLines++
    return new Promise((resolve, reject) => awaited.held.push({ ip, resolve, reject }))
  }

  unban(lift: BanLifted): Promise<void> {
    return this.append(unbanLine(this.now(), lift, this.opts))
  }

  /** Appends a line of any logger and level, stamped now. */
  log(logger: string, level: LogLevel, message: string): Promise<void> {
    return this.append(formatLogLine(this.now(), logger, level, message, this.opts))
  }

  /** Closes the file; the next write opens the path afresh. */
  reopen(): Promise<void> {
    return this.closeAfterPending()
  }

  /** Writes what waits, "already banned" lines whose Ban line never came included, and closes the file. */
  close(): Promise<void> {
    for (const awaited of this.awaitedBans.values()) this.release(awaited)
    return this.closeAfterPending()
  }

  private awaitedNetworkOf(jail: string, ip: string): AwaitedBan | undefined {
    if (this.awaitedNetworks === 0) return undefined
    const address = parseAddress(ip)
    if (address === null) return undefined
    for (const awaited of this.awaitedBans.values()) {
      if (awaited.jail === jail && awaited.network !== null && contains(awaited.network, address)) return awaited
    }
    return undefined
  }

  /** Writes a ban's held "already banned" lines, stamped now: the file's times never go backwards. */
  private release(awaited: AwaitedBan): void {
    this.awaitedBans.delete(banKey(awaited.jail, awaited.ip))
    if (awaited.network !== null) this.awaitedNetworks--
    this.heldLines -= awaited.held.length
    for (const h of awaited.held) this.append(alreadyBannedLine(this.now(), awaited.jail, h.ip, this.opts)).then(h.resolve, h.reject)
  }

  private closeAfterPending(): Promise<void> {
    // Lines made after this call go to the file opened next, as they would one write per line.
    this.batch = undefined
    return this.enqueue(() => this.closeHandle())
  }

  private append(line: string): Promise<void> {
    if (!this.batch) {
      const lines = new LineBytes()
      const written = this.enqueue(async () => {
        if (this.batch?.lines === lines) this.batch = undefined
        const handle = await this.current()
        await handle.appendFile(lines.bytes())
      })
      this.batch = { lines, written }
    }
    this.batch.lines.push(line)
    return this.batch.written
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task)
    // One failed write must not fail every later one.
    this.queue = run.catch(() => undefined)
    return run
  }

  /** The open file, reopened when the path no longer names it (rotated or deleted). */
  private async current(): Promise<FileHandle> {
    if (this.handle) {
      const atPath = await identityOf(this.config.path)
      if (atPath === this.identity) return this.handle
      await this.closeHandle()
    }
    const handle = await open(this.config.path, 'a')
    const s = await handle.stat()
    this.handle = handle
    this.identity = `${s.dev}:${s.ino}`
    return handle
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle
    this.handle = undefined
    this.identity = undefined
    await handle?.close()
  }
}

const MAX_HELD_LINES = 10_000
const MAX_AWAITED_BANS = 100_000

function banKey(jail: string, ip: string): string {
  return `${jail}\0${ip}`
}

/** A ban whose Ban line is not written yet, and the "already banned" lines waiting for it. */
interface AwaitedBan {
  readonly jail: string
  readonly ip: string
  /** The ban's network, when it is one: it holds the lines of the addresses inside. */
  readonly network: Address | null
  readonly held: { readonly ip: string; resolve(): void; reject(error: unknown): void }[]
  /** Set when bantime.increment changed the ban's length: its Increase Ban line follows the Ban line. */
  readonly increased?: BanIssued
}

/**
 * Lines as UTF-8, each with its terminator. A flood's Found lines wait for a write in flight; kept as
 * strings they outlived V8's young generation and went to the old one, hundreds of megabytes between
 * full collections (measured with a million failures), which the heap grew to hold.
 */
class LineBytes {
  private buffer = Buffer.allocUnsafe(LINE_BYTES_START)
  private used = 0

  push(line: string): void {
    const most = utf8BytesAtMost(line) + 1
    if (this.used + most > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + most))
      this.buffer.copy(grown, 0, 0, this.used)
      this.buffer = grown
    }
    this.used += this.buffer.write(line, this.used)
    this.buffer[this.used++] = NEWLINE
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.used)
  }
}

const LINE_BYTES_START = 16 * 1024
const NEWLINE = 0x0a

async function identityOf(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path)
    return `${s.dev}:${s.ino}`
  } catch {
    return undefined
  }
}
