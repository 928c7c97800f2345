import { readFile } from 'node:fs/promises'
import { Decision } from '../../schemas/events/decision.js'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { Topics } from '../../schemas/topics.js'
import { decider, type Decider, type DecideInput, type DecideOptions, type DecideOutput } from '../../streams/decide.js'
import { restoreSnapshot, snapshotJson, type DecideSnapshot } from '../../streams/decide-snapshot.js'
import type { DecideState } from '../../streams/decide-state.js'
import type { Log, LogProblem, LogRecord, Subscription } from '../log/log.js'
import { readToEnd } from '../log/read-to-end.js'
import { writeAtomically } from '../files/write-atomically.js'
import { appendDecisions, decodeDecideInput, stepInput, type DecideFold } from './decide-steps.js'
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

const INPUT_TOPICS = [Topics.failures.name, Topics.commands.name] as const
const GROUP = 'decide'
// A save blocks the stage while the state is serialised (about a second per million windows): spacing saves by
// this many times the last one's cost keeps that under a tenth of the stage's time, whatever the state's size.
const SAVE_COST_FACTOR = 10

/**
 * The decide stage over the log: failures and commands in, decisions out,
 * one state. The state is saved with the offsets it covers, so a restart
 * resumes where the save was taken and steps through the inputs since then
 * again; decisions it makes again are recognised by id and not appended twice,
 * and failures delivered twice (a match stage restarted) are dropped by id.
 */
export class DecideWorker {
  private decider: Decider
  private readonly fold: DecideFold
  private readonly offsets: Record<string, Record<number, number>>
  private readonly alreadyAppended: Set<string>
  private subscriptions: Subscription[] = []
  private serial: Promise<void> = Promise.resolve()
  private lastSave: number
  private lastSaveMs = 0
  private dirty = false
  private readonly now: () => number

  private constructor(private options: DecideWorkerOptions, saved: SavedState | undefined, alreadyAppended: Set<string>) {
    this.decider = decider(options.decide)
    this.now = options.now ?? Date.now
    this.fold = {
      state: saved ? restoreSnapshot(saved.state) : this.decider.initialState(),
      recent: new RecentIds(100_000, saved?.recent_failures),
      totalFailed: new Map(Object.entries(saved?.total_failed ?? {})),
    }
    this.offsets = saved?.offsets ?? {}
    this.alreadyAppended = alreadyAppended
    this.lastSave = this.now()
  }

  static async start(options: DecideWorkerOptions): Promise<DecideWorker> {
    const saved = await readSaved(options.snapshotPath)
    const alreadyAppended = new Set<string>()
    for await (const record of readToEnd(options.log, Topics.decisions.name, saved?.decisions_end ?? {})) {
      // A record that is no decision is reported and skipped: it must not keep the stage from starting.
      const decoded = decodeEvent(Decision, record.value)
      if (decoded.ok) alreadyAppended.add(decoded.value.event_id)
      else options.report({ kind: 'corrupt-record', topic: record.topic, partition: record.partition, position: record.offset, reason: decoded.errors.join('; ') })
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
    return this.fold.state.jails.get(jail)?.windows.size ?? 0
  }

  /** Failures counted since the state began: `Total failed`. */
  failuresCounted(jail: string): number {
    return this.fold.totalFailed.get(jail) ?? 0
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
      const input = decodeDecideInput(record, this.options.report)
      if (!input) continue
      const decisions = await stepInput(this.decider, this.fold, input, this.now() / 1000, this.options)
      appends.push(...decisions.filter((d) => !this.alreadyAppended.has(d.event_id)))
    }
    await appendDecisions(this.options.log, appends)
    const last = records[records.length - 1]
    if (last) (this.offsets[topic] ??= {})[last.partition] = last.offset + 1
    this.dirty = true
    if (this.now() - this.lastSave >= Math.max(this.options.snapshotIntervalMs ?? 5000, SAVE_COST_FACTOR * this.lastSaveMs)) await this.save()
  }

  private async save(): Promise<void> {
    if (!this.dirty) return
    const started = Date.now()
    const ends = await this.options.log.endOffsets(Topics.decisions.name)
    const saved: Omit<SavedState, 'state'> = {
      version: 1,
      offsets: this.offsets,
      decisions_end: Object.fromEntries(ends.map((end, partition) => [partition, end])),
      recent_failures: this.fold.recent.list(),
      total_failed: Object.fromEntries(this.fold.totalFailed),
    }
    // Every change to the state waits in the queue this save runs in, so it holds still while written.
    await writeAtomically(this.options.snapshotPath, savedJson(saved, this.fold.state))
    this.alreadyAppended.clear()
    this.lastSave = this.now()
    this.lastSaveMs = Date.now() - started
    this.dirty = false
  }
}

/** The saved state's JSON, `saved` with the state's snapshot, in pieces (see snapshotJson). */
function* savedJson(saved: Omit<SavedState, 'state'>, state: DecideState): Generator<string> {
  yield JSON.stringify(saved).slice(0, -1)
  yield ',"state":'
  yield* snapshotJson(state)
  yield '}'
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
