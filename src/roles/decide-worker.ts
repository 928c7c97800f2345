import { readFile } from 'node:fs/promises'
import { BanAddress } from '../../schemas/events/ban-address.js'
import { FailureDetected } from '../../schemas/events/failure-detected.js'
import { LiftBan } from '../../schemas/events/lift-ban.js'
import type { Decision } from '../../schemas/events/decision.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { partitionKey, Topics } from '../../schemas/topics.js'
import { decider, isDecision, type Decider, type DecideNotice, type DecideEvent, type DecideInput, type DecideOptions, type DecideOutput } from '../../streams/decide.js'
import { restoreSnapshot, snapshotOf, type DecideSnapshot } from '../../streams/decide-snapshot.js'
import type { DecideState } from '../../streams/decide-state.js'
import type { Log, LogProblem, LogRecord, Subscription } from '../log/log.js'
import { readToEnd } from '../log/read-to-end.js'
import { writeAtomically } from '../files/write-atomically.js'
import { RecentIds } from './recent-ids.js'

export interface DecideWorkerOptions {
  readonly log: Log
  readonly decide: DecideOptions
  /** Where the state is saved with the input offsets it covers; a restart resumes from it. */
  readonly snapshotPath: string
  /** How often the state is saved while inputs flow (default 5000 ms). */
  readonly snapshotIntervalMs?: number
  /** Wall clock in milliseconds (default Date.now). */
  readonly now?: () => number
  /** A check that may drop a failure before it is counted (the jail's ignorecommand). */
  readonly ignored?: (failure: FailureDetected) => boolean | Promise<boolean>
  /** Sees every input counted and what it led to: the role logs, counts and answers commands from here. */
  readonly onOutputs?: (input: DecideInput, outputs: readonly DecideOutput[], ignored: boolean) => void
  readonly report: (problem: LogProblem) => void
}

interface SavedState {
  readonly version: 1
  /** Next offset per input topic and partition. */
  readonly offsets: Record<string, Record<number, number>>
  /** End offsets of `decisions` when saved: every decision from here on may be one a restart makes again. */
  readonly decisions_end: Record<number, number>
  readonly recent_failures: string[]
  readonly total_failed: Record<string, number>
  readonly state: DecideSnapshot
}

const NOT_COUNTED = new Set<DecideNotice['kind']>(['ignored', 'too-old', 'invalid-address', 'invalid-time', 'unknown-jail'])
const INPUT_TOPICS = [Topics.failures.name, Topics.commands.name] as const
const GROUP = 'decide'

/**
 * The decide stage over the log: failures and commands in, decisions out,
 * one state. The state is saved with the offsets it covers, so a restart
 * resumes where the save was taken and steps through the inputs since then
 * again; decisions it makes again are recognised by id and not appended twice,
 * and failures delivered twice (a match stage restarted) are dropped by id.
 */
export class DecideWorker {
  private decider: Decider
  private state: DecideState
  private readonly offsets: Record<string, Record<number, number>>
  private readonly recent: RecentIds
  private readonly totalFailed: Map<string, number>
  private readonly alreadyAppended: Set<string>
  private subscriptions: Subscription[] = []
  private serial: Promise<void> = Promise.resolve()
  private lastSave: number
  private dirty = false
  private readonly now: () => number

  private constructor(private options: DecideWorkerOptions, saved: SavedState | undefined, alreadyAppended: Set<string>) {
    this.decider = decider(options.decide)
    this.now = options.now ?? Date.now
    this.state = saved ? restoreSnapshot(saved.state) : this.decider.initialState()
    this.offsets = saved?.offsets ?? {}
    this.recent = new RecentIds(100_000, saved?.recent_failures)
    this.totalFailed = new Map(Object.entries(saved?.total_failed ?? {}))
    this.alreadyAppended = alreadyAppended
    this.lastSave = this.now()
  }

  static async start(options: DecideWorkerOptions): Promise<DecideWorker> {
    const saved = await readSaved(options.snapshotPath)
    const alreadyAppended = new Set<string>()
    for await (const record of readToEnd(options.log, Topics.decisions.name, saved?.decisions_end ?? {})) {
      const decision = JSON.parse(record.value.toString('utf8')) as Decision
      alreadyAppended.add(decision.event_id)
    }
    const worker = new DecideWorker(options, saved, alreadyAppended)
    for (const topic of INPUT_TOPICS) {
      worker.subscriptions.push(options.log.subscribe(
        { topic, group: GROUP, from: { offsets: worker.offsets[topic] ?? {} }, autoCommit: false },
        (records) => worker.enqueue(() => worker.process(topic, records)),
      ))
    }
    return worker
  }

  /** Addresses with failures counted in a window and not yet banned: `Currently failed`. */
  currentlyFailed(jail: string): number {
    return this.state.jails.get(jail)?.windows.size ?? 0
  }

  /** Failures counted since the state began: `Total failed`. */
  failuresCounted(jail: string): number {
    return this.totalFailed.get(jail) ?? 0
  }

  /** Applies new jail policies (a reload); windows and bans carry over. */
  reconfigure(decide: DecideOptions): Promise<void> {
    return this.enqueue(async () => {
      this.options = { ...this.options, decide }
      this.decider = decider(decide)
    })
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.close()))
    this.subscriptions = []
    await this.enqueue(() => this.save())
  }

  /** Inputs of both topics are stepped one batch at a time, in arrival order, through one state. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.serial.then(task)
    this.serial = run.catch(() => undefined)
    return run
  }

  private async process(topic: string, records: readonly LogRecord[]): Promise<void> {
    const appends: Decision[] = []
    for (const record of records) {
      const input = this.decode(topic, record)
      if (!input) continue
      if (input.type === 'FailureDetected') {
        if (this.recent.has(input.event_id)) continue
        this.recent.add(input.event_id)
        if (this.options.ignored && (await this.options.ignored(input))) {
          this.options.onOutputs?.(input, [], true)
          continue
        }
      }
      const { state, outputs } = this.decider.step(this.state, input as DecideEvent, this.now() / 1000)
      this.state = state
      // fail2ban counts a failure once it passed ignoreip, ignorecommand and its time checks: the others are not "Total failed".
      if (input.type === 'FailureDetected' && !input.success && !outputs.some((o) => o.type === 'DecideNotice' && NOT_COUNTED.has(o.kind))) {
        this.totalFailed.set(input.jail, (this.totalFailed.get(input.jail) ?? 0) + 1)
      }
      for (const output of outputs) {
        if (isDecision(output) && !this.alreadyAppended.has(output.event_id)) appends.push(output)
      }
      this.options.onOutputs?.(input, outputs, false)
    }
    if (appends.length > 0) {
      await this.options.log.append(Topics.decisions.name, appends.map((d) => ({
        key: Buffer.from(partitionKey(d.ip)),
        value: Buffer.from(JSON.stringify(d)),
      })))
    }
    const last = records[records.length - 1]
    if (last) (this.offsets[topic] ??= {})[last.partition] = last.offset + 1
    this.dirty = true
    if (this.now() - this.lastSave >= (this.options.snapshotIntervalMs ?? 5000)) await this.save()
  }

  private decode(topic: string, record: LogRecord): DecideInput | undefined {
    const decoded = topic === Topics.failures.name
      ? decodeEvent(FailureDetected, record.value)
      : decodeCommand(record.value)
    if (decoded.ok) return decoded.value
    this.options.report({ kind: 'corrupt-record', topic, partition: record.partition, position: record.offset, reason: decoded.errors.join('; ') })
    return undefined
  }

  private async save(): Promise<void> {
    if (!this.dirty) return
    const ends = await this.options.log.endOffsets(Topics.decisions.name)
    const saved: SavedState = {
      version: 1,
      offsets: this.offsets,
      decisions_end: Object.fromEntries(ends.map((end, partition) => [partition, end])),
      recent_failures: this.recent.list(),
      total_failed: Object.fromEntries(this.totalFailed),
      state: snapshotOf(this.state),
    }
    await writeAtomically(this.options.snapshotPath, JSON.stringify(saved))
    this.alreadyAppended.clear()
    this.lastSave = this.now()
    this.dirty = false
  }
}

function decodeCommand(value: Buffer): ReturnType<typeof decodeEvent<typeof BanAddress>> | ReturnType<typeof decodeEvent<typeof LiftBan>> {
  const ban = decodeEvent(BanAddress, value)
  return ban.ok ? ban : decodeEvent(LiftBan, value)
}

async function readSaved(path: string): Promise<SavedState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const saved = JSON.parse(text) as SavedState
  if (saved.version !== 1) throw new Error(`${path}: decide state version ${String(saved.version)} is not understood`)
  return saved
}
