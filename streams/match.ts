import { Observable, type OperatorFunction } from 'rxjs'
import type { FailureDetected } from '../schemas/events/failure-detected.js'
import { eventId } from '../schemas/events/event-id.js'
import { parseAddress, type Address } from '../src/filters/address.js'
import type { CompiledFilter } from '../src/filters/compiled-filter.js'
import type { Failure, MatchOptions as FilterMatchOptions } from '../src/filters/filter-matcher.js'
import { StreamMatcher, StreamPrefilter } from '../src/filters/stream-matcher.js'
import type { LineBatch } from '../src/sources/source.js'
import { MatchCounters, type JailMatchCounts } from './match-counters.js'
import { MAX_STREAMS } from './match-limits.js'
import { globToRegExp } from '../src/sources/glob.js'

export { MatchCounters, type JailMatchCounts } from './match-counters.js'

/** A jail as the match stage sees it: its filter and the streams it reads. */
export interface MatchJail {
  /** The jail's name, as in jail.conf; names the events. */
  readonly name: string
  /** The jail's filter, compiled (its `now` and time zone decide yearless and zoneless dates). */
  readonly filter: CompiledFilter
  /** fail2ban's `logpath`: paths or globs that a file batch's stream (the file's path) is matched against. */
  readonly logpath?: readonly string[]
  /**
   * Streams read whole, by name: 'journald' for a journal-backed jail (`backend = systemd`; its
   * `journalmatch` is applied by the journald source), 'syslog' or a configured name for a syslog listener.
   */
  readonly streams?: readonly string[]
  /**
   * Whether the jail is told of successes (a login that worked, `<F-MLFGAINED>`): decide resets a
   * count on them under `resetonsuccess`. Default false: a success is then only a helper.
   */
  readonly successes?: boolean
}

export interface MatchOptions {
  /** Where the stage counts what it saw; read them from outside. A private set is used when absent. */
  readonly counters?: MatchCounters
  /**
   * Takes the failures whose host is a name, for jails with `usedns = yes|warn`: the caller resolves
   * the name (I/O, outside this stage) and emits one failure per address. Without it they are counted
   * as `unparseable_host` and dropped.
   */
  readonly onHostName?: (failure: HostNameFailure) => void
  /**
   * At most this many (host, stream) filter states are kept; a new stream beyond it takes the place of
   * the one heard from least recently. Default MAX_STREAMS.
   */
  readonly maxStreams?: number
}

/** A failure whose host is a name still to be resolved: a FailureDetected without its address. */
export type HostNameFailure = Omit<FailureDetected, 'ip'> & { readonly host_name: string }

/**
 * The match stage: finds failures in batches of raw lines and emits one
 * FailureDetected per failure and jail. Pure: no I/O; its only state is the
 * filters' own (multi-line buffers, last dates), kept per source host and stream
 * and per subscription.
 */
export function match(jails: readonly MatchJail[], options: MatchOptions = {}): OperatorFunction<LineBatch, FailureDetected> {
  const routes = new JailRoutes(jails)
  const counters = options.counters ?? new MatchCounters()
  return (batches) => new Observable<FailureDetected>((subscriber) => {
    const stage = new MatchStage(routes, counters, options.onHostName, options.maxStreams ?? MAX_STREAMS)
    return batches.subscribe({
      next: (batch) => { for (const event of stage.process(batch)) subscriber.next(event) },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    })
  })
}

/** Which jails read which stream; resolved once per stream name. */
class JailRoutes {
  private readonly selectors: { jail: number; paths: RegExp[]; streams: Set<string> }[]
  private readonly cache = new Map<string, number[]>()

  constructor(readonly jails: readonly MatchJail[]) {
    const names = new Set<string>()
    for (const jail of jails) {
      if (names.has(jail.name)) throw new Error(`match: jail '${jail.name}' is given twice`)
      names.add(jail.name)
    }
    this.selectors = jails.map((jail, i) => ({
      jail: i,
      paths: (jail.logpath ?? []).map(globToRegExp),
      streams: new Set(jail.streams ?? []),
    }))
  }

  of(stream: string): number[] {
    let found = this.cache.get(stream)
    if (!found) {
      found = this.selectors
        .filter((s) => s.streams.has(stream) || s.paths.some((p) => p.test(stream)))
        .map((s) => s.jail)
      this.cache.set(stream, found)
    }
    return found
  }
}

/** What the streams read by one set of jails share: their filters' prefilter, and which jails use which filter. */
interface StreamPlan {
  prefilter: StreamPrefilter
  /** Filter index in the prefilter → the jails using that filter. */
  jailsOf: number[][]
  /** Filter index in the prefilter → how it matches: helpers, and successes no jail of it is told of, are only counted. */
  options: FilterMatchOptions[]
  /** Every jail reading the stream. */
  jails: number[]
}

/** The filters of one (host, stream): one StreamMatcher, so a line costs one prefilter scan for every jail reading it. */
interface StreamState extends StreamPlan {
  matcher: StreamMatcher
}

/**
 * A (host, stream) unheard from this long, by the batches' read times, loses its filter state
 * (multi-line buffers, last date, connection ids): a fleet's hosts come and go, and a detect worker
 * that kept every host it ever saw would grow by some 65 KiB a host for as long as it runs. Longer
 * than anything the state is for: fail2ban forgets connection ids after 5 minutes and a last date
 * after 60 s.
 */
const IDLE_STREAM_MS = 3_600_000
const SWEEP_EVERY_MS = 60_000

class MatchStage {
  /** In the order they were last heard from, least recent first. */
  private readonly streams = new Map<string, { state: StreamState | null; seen: number }>()
  /** The latest read time of a batch so far; forgetting idle streams goes by it. */
  private clock = -Infinity
  private nextSweep = -Infinity
  /** By the jails' indexes: a fleet's hosts send the same streams, read by the same jails. */
  private readonly plans = new Map<string, StreamPlan>()
  private readonly counts: JailMatchCounts[]
  /** The last failure time written, and its text: a log's failures come many to a second. */
  private lastTime = { ms: NaN, iso: '' }

  constructor(
    private readonly routes: JailRoutes, private readonly counters: MatchCounters,
    private readonly onHostName: ((failure: HostNameFailure) => void) | undefined, private readonly maxStreams: number,
  ) {
    this.counts = routes.jails.map((j) => counters.jail(j.name))
  }

  process(batch: LineBatch): FailureDetected[] {
    const state = this.stateOf(batch)
    if (!state) {
      this.counters.unrouted_lines += batch.lines.length
      return []
    }
    for (const j of state.jails) this.counts[j]!.lines += batch.lines.length
    const position = positionKey(batch)
    const events: FailureDetected[] = []
    batch.lines.forEach((line, index) => {
      const ms = batch.times?.[index]
      let results
      try {
        results = state.matcher.processLine(line, ms === undefined ? undefined : ms / 1000)
      } catch {
        this.counters.line_errors++
        return
      }
      for (const { filter, result } of results) {
        if (result.helpers > 0) for (const j of state.jailsOf[filter]!) this.counts[j]!.helpers += result.helpers
        result.failures.forEach((failure, nth) => {
          for (const j of state.jailsOf[filter]!) {
            const event = this.toEvent(batch, position, index, nth, j, failure)
            if (event) events.push(event)
          }
        })
      }
    })
    return events
  }

  private stateOf(batch: LineBatch): StreamState | null {
    // Filters keep per-stream state (multi-line buffers, the last date): the same path on two hosts is two streams.
    const key = `${batch.host}\u0000${batch.stream}`
    this.forgetIdle(batch.received_at)
    let stream = this.streams.get(key)
    if (stream === undefined) {
      if (this.streams.size >= this.maxStreams) this.forgetLeastRecent()
      const jails = this.routes.of(batch.stream)
      stream = { state: jails.length === 0 ? null : this.stateFor(jails), seen: batch.received_at }
    } else {
      stream.seen = Math.max(stream.seen, batch.received_at)
      this.streams.delete(key)
    }
    this.streams.set(key, stream)
    return stream.state
  }

  private forgetIdle(receivedAt: number): void {
    this.clock = Math.max(this.clock, receivedAt)
    if (this.clock < this.nextSweep) return
    this.nextSweep = this.clock + SWEEP_EVERY_MS
    for (const [key, stream] of this.streams) {
      if (stream.seen < this.clock - IDLE_STREAM_MS) this.streams.delete(key)
    }
  }

  private forgetLeastRecent(): void {
    const oldest = this.streams.keys().next()
    if (oldest.done) return
    this.streams.delete(oldest.value)
    this.counters.streams_forgotten++
  }

  private stateFor(jails: number[]): StreamState {
    const key = jails.join()
    let plan = this.plans.get(key)
    if (!plan) {
      plan = streamPlan(this.routes.jails, jails)
      this.plans.set(key, plan)
    }
    return { ...plan, matcher: new StreamMatcher(plan.prefilter, (filter) => plan.options[filter]!) }
  }

  private isoOf(epochSecs: number): string | undefined {
    const ms = Math.round(epochSecs * 1000)
    if (ms === this.lastTime.ms) return this.lastTime.iso
    if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return undefined
    this.lastTime = { ms, iso: new Date(ms).toISOString() }
    return this.lastTime.iso
  }

  private toEvent(batch: LineBatch, position: string, index: number, nth: number, j: number, failure: Failure): FailureDetected | undefined {
    const counts = this.counts[j]!
    const gained = failure.fields['mlfgained'] !== undefined
    if (gained ? this.routes.jails[j]!.successes !== true : failure.nofail) {
      counts.helpers++
      return undefined
    }
    if (failure.host === null) {
      counts.pending++
      return undefined
    }
    const who = addressOf(failure)
    const filter = this.routes.jails[j]!.filter
    const resolvable = !who && this.onHostName !== undefined && (filter.useDns === 'yes' || filter.useDns === 'warn')
    if (!who && !resolvable) {
      counts.unparseable_host++
      return undefined
    }
    const occurredAt = this.isoOf(failure.time)
    if (occurredAt === undefined) {
      counts.invalid_time++
      return undefined
    }
    const jail = this.routes.jails[j]!.name
    const user = failure.fields['user']
    // Fields added one by one, in the schema's order: spreading an object into a literal with more
    // keys takes V8's slow path, a few microseconds on every failure.
    const event: Partial<FailureDetected & { host_name: string }> = {
      type: 'FailureDetected',
      event_id: eventId('FailureDetected', batch.host, batch.stream, position, index, nth, jail),
      jail,
      host: batch.host,
    }
    if (user !== undefined) event.user = user
    event.matches = failure.matches
    event.occurred_at = occurredAt
    event.source = batch.stream
    event.regex_index = failure.regex
    if (gained) event.success = true
    if (batch.backlog) event.backlog = true
    if (!who) {
      counts.host_names++
      event.host_name = failure.host
      this.onHostName!(event as HostNameFailure)
      return undefined
    }
    counts.matched++
    event.ip = who.ip
    if (who.fid !== undefined) event.fid = who.fid
    return event as FailureDetected
  }
}

function streamPlan(all: readonly MatchJail[], jails: number[]): StreamPlan {
  // Jails sharing one compiled filter share its matcher: the line is matched once and the failure fans out.
  const filters: CompiledFilter[] = []
  const jailsOf: number[][] = []
  for (const j of jails) {
    const filter = all[j]!.filter
    const at = filters.indexOf(filter)
    if (at >= 0) jailsOf[at]!.push(j)
    else {
      filters.push(filter)
      jailsOf.push([j])
    }
  }
  // Helpers are dropped here (toEvent), so those that would change nothing are only counted.
  const options = jailsOf.map((js) => ({ countHelpers: true, successesAreHelpers: js.every((j) => all[j]!.successes !== true) }))
  return { prefilter: new StreamPrefilter(filters), jailsOf, options, jails }
}

/**
 * The address to ban and, for a failure counted by an id other than its address (a "complex id"),
 * that id. fail2ban bans the id itself; here the id never reaches a firewall, even one that reads as
 * an address (a filter captures it from text the client may write): the address captured beside it
 * is banned and the id only keys the count.
 */
function addressOf(failure: Failure): { ip: string; fid?: string } | undefined {
  if (failure.address) return { ip: addressText(failure.address) }
  const fid = failure.fields['fid']
  const ipText = failure.fields['ip4'] ?? failure.fields['ip6']
  if (fid === undefined || ipText === undefined) return undefined
  const cidr = failure.fields['cidr']
  const address = parseAddress(cidr !== undefined ? `${ipText}/${cidr}` : ipText)
  return address ? { ip: addressText(address), fid } : undefined
}

function addressText(address: Address): string {
  return address.prefix !== undefined ? `${address.ip}/${address.prefix}` : address.ip
}

const MAX_DATE_MS = 8.64e15

/**
 * The batch's input position as text, the same for every delivery of the batch. A batch without a
 * resume token (syslog) is named by when it was read, which travels with it on the `lines` topic.
 */
function positionKey(batch: LineBatch): string {
  return batch.position === undefined ? `received_at:${batch.received_at}` : `position:${stableJson(batch.position)}`
}

function stableJson(value: unknown): string {
  if (typeof value === 'bigint') return JSON.stringify(value.toString())
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
