import { isUtf8 } from 'node:buffer'
import type { TSchema } from '@sinclair/typebox'
import { storableEventJson, UnstorableEventError, type Row } from '../../schemas/clickhouse/rows.js'
import { eventTable, LINES_TABLE, type EventTableName } from '../../schemas/clickhouse/tables.js'
import { Actuation } from '../../schemas/events/actuation.js'
import { Decision } from '../../schemas/events/decision.js'
import { FailureDetected } from '../../schemas/events/failure-detected.js'
import { decodeEvent, utf8Text } from '../../schemas/events/validate.js'
import { Topics } from '../../schemas/topics.js'

/** A record as the sink reads it (src/log's LogRecord has these fields and more). */
export interface SinkRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly value: Buffer
  readonly headers?: Readonly<Record<string, string>>
}

/** What the sink needs of the log (src/log's Log): manual commits, so an offset moves only past stored rows. */
export interface SinkLog {
  subscribe(
    opts: { topic: string; group: string; autoCommit: boolean; maxBatchRecords?: number },
    handler: (batch: SinkRecord[]) => Promise<void>,
  ): { close(): Promise<void> }
  commit(group: string, topic: string, partition: number, nextOffset: number): Promise<void>
}

/** What the sink needs of the store (src/store's Store): events and rows go as JSON, one object per element. */
export interface SinkStore {
  insertEvents(table: EventTableName, events: readonly Uint8Array[]): Promise<void>
  insertJson(table: string, rows: readonly Uint8Array[]): Promise<void>
}

export interface SinkTimers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Something the sink skipped or retried instead of stopping. */
export interface SinkProblem {
  kind:
    | 'bad-event' // a record that is no valid event of its topic, or whose ip is no address; skipped
    | 'insert-failed' // the store refused or could not be reached; retried after a backoff
    | 'commit-failed' // the rows are stored but the offset could not be committed; retried
  topic?: string
  partition?: number
  offset?: number
  reason: string
}

export interface ClickHouseSinkOptions {
  readonly log: SinkLog
  readonly store: SinkStore
  /** Consumer group prefix whose offsets mark what is stored: `<group>-<topic>` per topic (default `store`). */
  readonly group?: string
  /** Insert once this many rows are waiting (default 10000); delivery waits while the batch before them is being stored. */
  readonly max_batch_rows?: number
  /** Insert rows at the latest this long after the first of them arrived (default 1000). */
  readonly max_batch_delay_ms?: number
  /** First wait after a failed insert or commit (default 100); doubles per failure. */
  readonly initial_backoff_ms?: number
  /** Longest wait between retries (default 30000). */
  readonly max_backoff_ms?: number
  readonly timers?: SinkTimers
  readonly onProblem?: (problem: SinkProblem) => void
  /**
   * Also store the raw lines of the `lines` topic in the lines table (off when
   * absent): the rows of one record, throwing for a record that holds no
   * line batch (skipped as a bad event). src/store/line-rows.ts has it.
   */
  readonly lines?: (record: SinkRecord) => Row[]
  /**
   * The log's event records were written by this process's own stages (`banstream run`'s embedded
   * log): each is stored as it is, not parsed and validated first, which was over half of the sink's
   * time per event. Should an insert be refused, its records are then checked one by one as for any
   * log, the bad ones skipped and reported. Off (default) for a log others write to (Kafka).
   */
  readonly trusted?: boolean
}

/** The tables the sink writes. */
export type SinkTableName = EventTableName | typeof LINES_TABLE.name

export interface SinkStats {
  /** Rows stored per table (a redelivered event counts again; the table keeps it once); `lines` only when the sink stores lines. */
  readonly inserted: Readonly<Record<EventTableName, number> & { lines?: number }>
  readonly skipped: number
  readonly retries: number
}

/**
 * A topic the sink reads, the table it writes, and what one record gives as JSON (none: skipped,
 * reported): events for insertEvents, or rows for insertJson (the lines table).
 */
interface Source {
  readonly topic: string
  readonly table: SinkTableName
  readonly rows: (record: SinkRecord) => Uint8Array[]
  /** Whether a record that is one line of UTF-8 is its own row, unchecked (the events of a trusted log). */
  readonly trusted: boolean
}

/** Records of a trusted log stored as they are, unchecked, and the source that checks them. */
interface UncheckedRecords {
  readonly source: Source
  readonly records: SinkRecord[]
}

/** Rows (as JSON) waiting to be stored, and the offsets that storing them completes. */
interface Pending {
  rows: Map<SinkTableName, Uint8Array[]>
  /** Beside `rows`, the records stored as they are, by table: checked should their insert be refused. */
  unchecked: Map<SinkTableName, UncheckedRecords>
  count: number
  /** `topic\0partition` → the next offset to commit once the rows are stored. */
  offsets: Map<string, { topic: string; partition: number; next: number }>
}

function rowJson(row: Row): Buffer {
  return Buffer.from(JSON.stringify(row))
}

function rewritten(json: Uint8Array): Buffer {
  return Buffer.from(JSON.stringify(JSON.parse(utf8Text(json))))
}

function emptyPending(): Pending {
  return { rows: new Map(), unchecked: new Map(), count: 0, offsets: new Map() }
}

class Closed extends Error {}

const NEWLINE = 0x0a

/**
 * Stores every event of the failures, decisions and actuations topics in their
 * ClickHouse tables (and, when asked, every line of the lines topic). Obligations: an offset is committed only after the rows
 * of every record below it are stored, so a crash loses nothing (the
 * uncommitted tail is delivered again); a redelivered event carries its id,
 * and the tables keep one row per id (see schemas/clickhouse/tables.ts), so
 * nothing is counted twice; while the store is down, inserts are retried
 * with a growing backoff and delivery waits, so nothing piles up in memory
 * beyond two batches (one being stored, one filling); a bad record is reported and skipped, never retried.
 */
export class ClickHouseSink {
  private pending = emptyPending()
  private flushing: Promise<void> = Promise.resolve()
  private delayTimer: unknown = undefined
  private closed = false
  /** Set when a batch could not be stored while closing: no later batch may commit past it. */
  private abandoned = false
  private wakeRetry: (() => void) | undefined
  private readonly inserted: Record<EventTableName, number> & { lines?: number } = { failures: 0, decisions: 0, actuations: 0 }
  private skipped = 0
  private retries = 0
  private readonly group: string

  /**
   * One consumer group per topic: Kafka assigns a group's topics together, so a member that reads only
   * `failures` could be handed `decisions` partitions no one in it would read.
   */
  private groupOf(topic: string): string {
    return `${this.group}-${topic}`
  }
  private readonly maxRows: number
  private readonly maxDelayMs: number
  private readonly timers: SinkTimers
  private subscriptions: { close(): Promise<void> }[] = []

  private constructor(private readonly options: ClickHouseSinkOptions) {
    this.group = options.group ?? 'store'
    this.maxRows = options.max_batch_rows ?? 10_000
    this.maxDelayMs = options.max_batch_delay_ms ?? 1000
    this.timers = options.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) }
    if (options.lines) this.inserted.lines = 0
  }

  private sources(): Source[] {
    const trusted = this.options.trusted === true
    const events = (topic: string, table: EventTableName, schema: TSchema): Source =>
      ({ topic, table, rows: (record) => this.eventRows(table, schema, record), trusted })
    const sources: Source[] = [
      events(Topics.failures.name, 'failures', FailureDetected),
      events(Topics.decisions.name, 'decisions', Decision),
      events(Topics.actuations.name, 'actuations', Actuation),
    ]
    const lines = this.options.lines
    if (lines) {
      sources.push({ topic: Topics.lines.name, table: LINES_TABLE.name, rows: (record) => this.guarded(record, () => lines(record).map(rowJson)), trusted: false })
    }
    return sources
  }

  /** Subscribes to the three topics (from the group's committed offsets) and starts storing. */
  static start(options: ClickHouseSinkOptions): ClickHouseSink {
    const sink = new ClickHouseSink(options)
    sink.subscriptions = sink.sources().map((source) => options.log.subscribe(
      { topic: source.topic, group: sink.groupOf(source.topic), autoCommit: false, maxBatchRecords: Math.min(sink.maxRows, 5000) },
      (batch) => sink.accept(source, batch),
    ))
    return sink
  }

  stats(): SinkStats {
    return { inserted: { ...this.inserted }, skipped: this.skipped, retries: this.retries }
  }

  /** Stores what is waiting now and commits its offsets; resolves when done (retrying while the store is down). */
  flush(): Promise<void> {
    if (this.delayTimer !== undefined) {
      this.timers.clearTimeout(this.delayTimer)
      this.delayTimer = undefined
    }
    const batch = this.pending
    this.pending = emptyPending()
    const run = this.flushing.then(() => this.store(batch))
    this.flushing = run.catch(() => undefined)
    return run
  }

  /**
   * Stops reading, stores what was read once more (one attempt: what cannot
   * be stored now stays uncommitted and is delivered again at the next
   * start), and resolves when no insert is running.
   */
  async close(): Promise<void> {
    this.closed = true
    this.wakeRetry?.()
    await Promise.all(this.subscriptions.map((s) => s.close()))
    await this.flushing
    await this.flush().catch((error: unknown) => {
      if (!(error instanceof Closed)) throw error
    })
  }

  private async accept(source: Source, batch: SinkRecord[]): Promise<void> {
    const rows = this.pending.rows.get(source.table) ?? []
    this.pending.rows.set(source.table, rows)
    for (const record of batch) {
      // A row is one line of JSONEachRow: a record that is not one line of UTF-8 is checked (and rewritten) even so.
      if (source.trusted && record.value.indexOf(NEWLINE) < 0 && isUtf8(record.value)) {
        this.uncheckedOf(source).records.push(record)
        this.pending.count++
        continue
      }
      for (const row of source.rows(record)) {
        rows.push(row)
        this.pending.count++
      }
    }
    const last = batch[batch.length - 1]
    if (last) {
      const key = `${last.topic}\0${last.partition}`
      this.pending.offsets.set(key, { topic: last.topic, partition: last.partition, next: last.offset + 1 })
    }
    if (this.pending.count >= this.maxRows) {
      // One insert in flight while the next batch is decoded: the insert runs on chDB's (or the
      // server's) threads, so decoding need not wait for it; delivery waits only when a second
      // full batch is ready, which bounds memory to two batches.
      const earlier = this.flushing
      this.flush().catch(() => undefined)
      await earlier
    } else if (this.delayTimer === undefined) {
      this.delayTimer = this.timers.setTimeout(() => {
        this.delayTimer = undefined
        this.flush().catch(() => undefined)
      }, this.maxDelayMs)
    }
  }

  private uncheckedOf(source: Source): UncheckedRecords {
    let unchecked = this.pending.unchecked.get(source.table)
    if (unchecked === undefined) this.pending.unchecked.set(source.table, unchecked = { source, records: [] })
    return unchecked
  }

  private eventRows(table: EventTableName, schema: TSchema, record: SinkRecord): Uint8Array[] {
    const decoded = decodeEvent(schema, record.value)
    if (!decoded.ok) {
      this.skip({ kind: 'bad-event', topic: record.topic, partition: record.partition, offset: record.offset, reason: decoded.errors.join('; ') })
      return []
    }
    const event = decoded.value as Record<string, unknown>
    const columns = eventTable(table).columns
    return this.guarded(record, () => [storableEventJson(record.value, event, columns)], UnstorableEventError)
  }

  /** The rows `make` gives, or none when it throws (`only` that error class, when given): the record is reported and skipped. */
  private guarded(record: SinkRecord, make: () => Uint8Array[], only?: new (...args: never[]) => Error): Uint8Array[] {
    try {
      return make()
    } catch (error) {
      if (only && !(error instanceof only)) throw error
      this.skip({ kind: 'bad-event', topic: record.topic, partition: record.partition, offset: record.offset, reason: error instanceof Error ? error.message : String(error) })
      return []
    }
  }

  private skip(problem: SinkProblem): void {
    this.skipped++
    this.options.onProblem?.(problem)
  }

  private async store(batch: Pending): Promise<void> {
    if (this.abandoned) throw new Closed('an earlier batch was not stored')
    for (const [table, rows] of batch.rows) {
      if (rows.length === 0 && !batch.unchecked.has(table)) continue
      if (table === LINES_TABLE.name) {
        await this.retrying('insert-failed', () => this.options.store.insertJson(table, rows))
        this.inserted[table] = (this.inserted[table] ?? 0) + rows.length
        continue
      }
      const insert = this.eventInsert(table, rows, batch.unchecked.get(table))
      await this.retrying('insert-failed', insert.attempt)
      this.inserted[table] += insert.stored()
    }
    for (const { topic, partition, next } of batch.offsets.values()) {
      await this.retrying('commit-failed', () => this.options.log.commit(this.groupOf(topic), topic, partition, next), { topic, partition })
    }
  }

  /**
   * Inserts events as their records hold them; once an insert fails, the tries after it send each
   * event written anew (JSON.stringify of its JSON.parse). ClickHouse refuses what JSON.parse
   * takes, a key given twice, and the events were validated as JSON.parse reads them. Records
   * stored unchecked (a trusted log) are first checked, and only the valid ones sent again.
   */
  private eventInsert(table: EventTableName, events: Uint8Array[], unchecked: UncheckedRecords | undefined): { attempt: () => Promise<void>; stored: () => number } {
    let sent = unchecked === undefined ? events : [...events, ...unchecked.records.map((record) => record.value)]
    // What the try after a refused one sends instead: the unchecked records checked, then each event written anew.
    const fallbacks: (() => Uint8Array[])[] = [() => sent.map(rewritten)]
    if (unchecked !== undefined) fallbacks.unshift(() => [...events, ...unchecked.records.flatMap((record) => unchecked.source.rows(record))])
    let refused = false
    return {
      attempt: async () => {
        if (refused) sent = fallbacks.shift()?.() ?? sent
        refused = false
        try {
          await this.options.store.insertEvents(table, sent)
        } catch (error) {
          refused = true
          throw error
        }
      },
      stored: () => sent.length,
    }
  }

  private async retrying(kind: SinkProblem['kind'], attempt: () => Promise<void>, where: Partial<SinkProblem> = {}): Promise<void> {
    let backoff = this.options.initial_backoff_ms ?? 100
    for (;;) {
      try {
        await attempt()
        return
      } catch (error) {
        this.options.onProblem?.({ kind, ...where, reason: error instanceof Error ? error.message : String(error) })
        if (this.closed) {
          this.abandoned = true
          throw new Closed(`${kind} while closing`)
        }
        this.retries++
        await this.sleep(backoff)
        backoff = Math.min(backoff * 2, this.options.max_backoff_ms ?? 30_000)
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.timers.setTimeout(() => {
        this.wakeRetry = undefined
        resolve()
      }, ms)
      this.wakeRetry = () => {
        this.timers.clearTimeout(handle)
        this.wakeRetry = undefined
        resolve()
      }
    })
  }
}
