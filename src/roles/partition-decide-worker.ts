import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { Decision } from '../../schemas/events/decision.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { Topics } from '../../schemas/topics.js'
import { decider, type Decider, type DecideOptions } from '../../streams/decide.js'
import { secondsOf, type DecideState } from '../../streams/decide-state.js'
import type { Log, LogProblem, LogRecord, Subscription } from '../log/log.js'
import { appendDecisions, decodeDecideInput, stepInput, type DecideFold, type DecideHooks } from './decide-steps.js'
import { RecentIds } from './recent-ids.js'

export interface PartitionDecideWorkerOptions extends DecideHooks {
  readonly log: Log
  readonly decide: DecideOptions
  /** The consumer group on `failures`; it also keeps each partition's position in `commands` (default `decide`). */
  readonly group?: string
  /**
   * How much older than the longest findtime a failure may be, counted from
   * the newest failure of its partition, and still be stepped again when the
   * partition is taken up: failures forwarded this late still count (default 300).
   */
  readonly lateness_secs?: number
  /** How often the held partitions of `commands` are checked for new commands (default 1000 ms). */
  readonly commandsPollMs?: number
  /** Wall clock in milliseconds (default Date.now). */
  readonly now?: () => number
  readonly report: (problem: LogProblem) => void
}

/** One partition's decide state and where it stands. */
interface Held {
  fold: DecideFold
  /** Failures below this offset were stepped when the partition was taken up. */
  resumeAt: number
  /** The next offset of the partition in `commands`. */
  commandsAt: number
  /** A step or an append failed: the state may hold what `decisions` lacks, so it is rebuilt before the next input. */
  broken: boolean
  queue: Promise<void>
}

const CHUNK = 1000

/**
 * The decide stage of a fleet: a member of a consumer group on `failures`
 * with a decide state per partition it holds. `failures`, `decisions` and
 * `commands` are keyed alike, so partition p of each concerns the same
 * addresses. On taking up p the state is rebuilt from the log: `decisions` p
 * folded (bans in force, ban history), then the failures of p within the
 * longest findtime (plus lateness) of its newest one stepped again, each
 * decision checked against the ids already in `decisions` p so that what the
 * previous holder appended is not appended twice and what it lost is. On
 * giving p up its state is dropped. Commands of p are read from `commands` p
 * by the holder, its position kept as the group's committed offset there.
 */
export class PartitionDecideWorker {
  private decider: Decider
  private readonly held = new Map<number, Held>()
  private subscription: Subscription | undefined
  private poller: NodeJS.Timeout | undefined
  private polling: Promise<void> = Promise.resolve()
  private readonly group: string
  private readonly now: () => number

  private constructor(private options: PartitionDecideWorkerOptions) {
    this.decider = decider(options.decide)
    this.group = options.group ?? 'decide'
    this.now = options.now ?? Date.now
  }

  static start(options: PartitionDecideWorkerOptions): PartitionDecideWorker {
    const worker = new PartitionDecideWorker(options)
    worker.subscription = options.log.subscribe({
      topic: Topics.failures.name,
      group: worker.group,
      onAssigned: (partitions) => worker.takeUp(partitions),
      onRevoked: (partitions) => worker.giveUp(partitions),
    }, (records) => worker.onFailures(records))
    worker.poller = setInterval(() => {
      worker.polling = worker.polling.then(() => worker.pollCommands())
    }, options.commandsPollMs ?? 1000)
    worker.poller.unref()
    return worker
  }

  /** The partitions whose state this worker holds. */
  partitions(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b)
  }

  /** Addresses with failures counted in a window and not yet banned, over the held partitions: `Currently failed`. */
  currentlyFailed(jail: string): number {
    let sum = 0
    for (const h of this.held.values()) sum += h.fold.state.jails.get(jail)?.windows.size ?? 0
    return sum
  }

  /** Failures counted since the held partitions were taken up: `Total failed`. */
  failuresCounted(jail: string): number {
    let sum = 0
    for (const h of this.held.values()) sum += h.fold.totalFailed.get(jail) ?? 0
    return sum
  }

  /** Applies new jail policies (a reload); windows and bans carry over. */
  async reconfigure(decide: DecideOptions): Promise<void> {
    await Promise.all([...this.held.values()].map((h) => h.queue))
    this.options = { ...this.options, decide }
    this.decider = decider(decide)
  }

  async stop(): Promise<void> {
    clearInterval(this.poller)
    await this.polling
    // Closing gives every partition up (onRevoked), which waits for the work queued on it.
    await this.subscription?.close()
  }

  private async takeUp(partitions: number[]): Promise<void> {
    const rebuilt = await Promise.all(partitions.map((p) => this.rebuild(p)))
    partitions.forEach((p, i) => this.held.set(p, { ...rebuilt[i]!, broken: false, queue: Promise.resolve() }))
  }

  private async giveUp(partitions: number[]): Promise<void> {
    for (const p of partitions) {
      const h = this.held.get(p)
      this.held.delete(p)
      await h?.queue
    }
  }

  /** Runs work on one partition after the work queued before it; a failure marks the state for a rebuild. */
  private enqueue(h: Held, partition: number, task: () => Promise<void>): Promise<void> {
    const run = h.queue.then(async () => {
      if (this.held.get(partition) !== h) return
      if (h.broken) {
        Object.assign(h, await this.rebuild(partition))
        h.broken = false
      }
      try {
        await task()
      } catch (error) {
        h.broken = true
        throw error
      }
    })
    h.queue = run.catch(() => undefined)
    return run
  }

  private onFailures(records: LogRecord[]): Promise<void> {
    const partition = records[0]!.partition
    const h = this.held.get(partition)
    if (!h) return Promise.resolve()
    return this.enqueue(h, partition, async () => {
      const fresh = records.filter((r) => r.offset >= h.resumeAt)
      if (fresh.length === 0) return
      await this.stepAndAppend(h.fold, fresh, this.options)
      h.resumeAt = fresh[fresh.length - 1]!.offset + 1
    })
  }

  private async pollCommands(): Promise<void> {
    if (this.held.size === 0) return
    let ends: number[]
    try {
      ends = await this.options.log.endOffsets(Topics.commands.name)
    } catch (error) {
      this.options.report({ kind: 'io-error', topic: Topics.commands.name, reason: `cannot read the end of commands: ${(error as Error).message}` })
      return
    }
    const work: Promise<void>[] = []
    for (const [partition, h] of this.held) {
      const end = ends[partition] ?? 0
      if (end <= h.commandsAt) continue
      work.push(this.enqueue(h, partition, () => this.stepCommands(h, partition, end)).catch((error: Error) => {
        this.options.report({ kind: 'handler-failed', topic: Topics.commands.name, partition, reason: `${error.message}; the partition is rebuilt and the commands read again` })
      }))
    }
    await Promise.all(work)
  }

  private async stepCommands(h: Held, partition: number, end: number): Promise<void> {
    while (h.commandsAt < end) {
      const records = await this.options.log.read(Topics.commands.name, partition, h.commandsAt, Math.min(CHUNK, end - h.commandsAt))
      if (records.length === 0) break
      await this.stepAndAppend(h.fold, records, this.options)
      h.commandsAt = records[records.length - 1]!.offset + 1
    }
    try {
      await this.options.log.commit(this.group, Topics.commands.name, partition, h.commandsAt)
    } catch (error) {
      // Only costs a command stepped again by the next holder, whose decision has the same id.
      this.options.report({ kind: 'io-error', topic: Topics.commands.name, partition, reason: `commit failed: ${(error as Error).message}` })
    }
  }

  /**
   * Steps inputs through the fold and appends the decisions they lead to.
   * When stepping again what `decisions` already answers (a rebuild), a
   * decision made before is not appended twice, and at the failure that set
   * off a ban its window is closed as it was then: the rebuilt state already
   * holds the ban, so the count would otherwise run on past it.
   */
  private async stepAndAppend(fold: DecideFold, records: readonly LogRecord[], hooks: DecideHooks, before?: { ids: ReadonlySet<string>; bansByCause: ReadonlyMap<string, BanIssued> }): Promise<void> {
    const appends: Decision[] = []
    for (const record of records) {
      const input = decodeDecideInput(record, this.options.report)
      if (!input) continue
      const decisions = await stepInput(this.decider, fold, input, this.now() / 1000, hooks)
      appends.push(...decisions.filter((d) => !before?.ids.has(d.event_id)))
      const ban = before?.bansByCause.get(input.event_id)
      if (ban) closeWindow(fold.state, ban)
    }
    await appendDecisions(this.options.log, appends)
  }

  /** The state of a partition from the log: its decisions folded, then its recent failures stepped again. */
  private async rebuild(partition: number): Promise<Omit<Held, 'broken' | 'queue'>> {
    const { log, report } = this.options
    const decisions: Decision[] = []
    for await (const record of this.records(Topics.decisions.name, partition)) {
      const decoded = decodeEvent(Decision, record.value)
      if (decoded.ok) decisions.push(decoded.value)
      else report({ kind: 'corrupt-record', topic: record.topic, partition, position: record.offset, reason: decoded.errors.join('; ') })
    }
    const ids = new Set(decisions.map((d) => d.event_id))
    const bansByCause = new Map<string, BanIssued>()
    for (const d of decisions) if (d.type === 'BanIssued' && d.reason !== 'manual') bansByCause.set(d.cause_event_id, d)
    const fold: DecideFold = { state: this.decider.rebuild(decisions), recent: new RecentIds(100_000), totalFailed: new Map() }
    const [failuresEnd, recent] = await this.recentFailures(partition)
    // onOutputs sees live inputs only: a failure stepped again was logged and counted by whoever stepped it first.
    await this.stepAndAppend(fold, recent, this.options.ignored ? { ignored: this.options.ignored } : {}, { ids, bansByCause })
    const commandsStart = (await log.startOffsets(Topics.commands.name))[partition] ?? 0
    const committed = await log.committed(this.group, Topics.commands.name, partition)
    return { fold, resumeAt: failuresEnd, commandsAt: Math.max(committed ?? commandsStart, commandsStart) }
  }

  /**
   * The end of `failures` p and the records before it that a rebuild steps:
   * read backwards a chunk at a time until a whole chunk is older than the
   * longest findtime (plus lateness) before the newest failure seen, then
   * from the first record inside that span.
   */
  private async recentFailures(partition: number): Promise<[number, LogRecord[]]> {
    const { log } = this.options
    const topic = Topics.failures.name
    const end = (await log.endOffsets(topic))[partition] ?? 0
    const start = (await log.startOffsets(topic))[partition] ?? 0
    const span = Math.max(0, ...this.options.decide.jails.map((j) => j.find_time_secs)) + (this.options.lateness_secs ?? 300)
    let newest = -Infinity
    let scanned: { record: LogRecord; at: number }[] = []
    for (let to = end; to > start;) {
      const from = Math.max(start, to - CHUNK)
      const chunk: { record: LogRecord; at: number }[] = []
      for (let next = from; next < to;) {
        const records = await log.read(topic, partition, next, to - next)
        if (records.length === 0) break
        for (const record of records) if (record.offset < to) chunk.push({ record, at: occurredAt(record) })
        next = records[records.length - 1]!.offset + 1
      }
      for (const { at } of chunk) if (at > newest) newest = at
      scanned = [...chunk, ...scanned]
      if (chunk.every(({ at }) => at < newest - span)) break
      to = from
    }
    const first = scanned.findIndex(({ at }) => at >= newest - span)
    return [end, first < 0 ? [] : scanned.slice(first).map(({ record }) => record)]
  }

  /** Every record of one partition, from its start to its end as it was when called. */
  private async *records(topic: string, partition: number): AsyncGenerator<LogRecord> {
    const { log } = this.options
    const end = (await log.endOffsets(topic))[partition] ?? 0
    let next = (await log.startOffsets(topic))[partition] ?? 0
    while (next < end) {
      const records = await log.read(topic, partition, next, Math.min(CHUNK, end - next))
      if (records.length === 0) break
      for (const record of records) if (record.offset < end) yield record
      next = records[records.length - 1]!.offset + 1
    }
  }
}

/** Forgets the failures counted towards a ban, as the decider does when it bans (fail2ban's toBan). */
function closeWindow(state: DecideState, ban: BanIssued): void {
  state.jails.get(ban.jail)?.windows.delete(ban.fid ?? ban.ip)
}

/** A failure's event time in seconds; a record without one counts as infinitely old (it is reported when stepped). */
function occurredAt(record: LogRecord): number {
  let at = NaN
  try {
    const value = JSON.parse(record.value.toString('utf8')) as { occurred_at?: unknown }
    if (typeof value.occurred_at === 'string') at = secondsOf(value.occurred_at)
  } catch {
    // Not JSON: stepping it reports it.
  }
  return Number.isNaN(at) ? -Infinity : at
}
