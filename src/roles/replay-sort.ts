import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { epochMsOf } from '../../streams/decide-state.js'

/** A failure with its event time (epoch ms), the order a replay decides in. */
export interface TimedFailure {
  readonly failure: FailureDetected
  readonly t: number
}

// Runs are merged with one open file each; past this many they are merged into one first.
const MAX_RUNS = 64
const LINES_PER_WRITE = 1000

/**
 * Puts a replay's failures in event-time order, ties in the order they were
 * found, holding at most about `inMemory` of them: the rest wait in sorted runs
 * in a temp directory and are merged back as they are read. A week of a busy
 * mail server's log has millions of failures, more than a heap holds.
 */
export class FailureSort {
  private held: TimedFailure[] = []
  private runs: string[] = []
  private dir: string | undefined
  private written = 0

  constructor(private readonly inMemory: number, private readonly tempParent: string = tmpdir()) {}

  add(failure: FailureDetected, t: number): void {
    this.held.push({ failure, t })
  }

  /** Moves the held failures to a sorted run once they are as many as the memory allows. */
  async spillIfFull(): Promise<void> {
    if (this.held.length === 0 || this.held.length < this.inMemory) return
    this.runs.push(await this.write(this.takeHeld()))
    if (this.runs.length < MAX_RUNS) return
    const runs = this.runs
    // Earlier runs hold earlier arrivals, so the merged run keeps ties in arrival order ahead of later runs.
    this.runs = [await this.write(merge(runs.map(readRun)))]
    await Promise.all(runs.map((run) => rm(run)))
  }

  /** Every failure added, in event-time order. */
  async *sorted(): AsyncGenerator<TimedFailure> {
    const last = this.takeHeld()
    if (this.runs.length === 0) {
      yield* last
      return
    }
    yield* merge([...this.runs.map(readRun), Readable.from(last)])
  }

  /** Removes the runs written. */
  async close(): Promise<void> {
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true })
  }

  private takeHeld(): TimedFailure[] {
    const held = this.held
    this.held = []
    // Array sort is stable: equal times keep the order the failures were found in.
    return held.sort((a, b) => a.t - b.t)
  }

  private async write(failures: Iterable<TimedFailure> | AsyncIterable<TimedFailure>): Promise<string> {
    this.dir ??= await mkdtemp(join(this.tempParent, 'banstream-replay-sort-'))
    const path = join(this.dir, `run-${this.written++}.ndjson`)
    await pipeline(Readable.from(ndjson(failures)), createWriteStream(path))
    return path
  }
}

async function* ndjson(failures: Iterable<TimedFailure> | AsyncIterable<TimedFailure>): AsyncGenerator<string> {
  let lines: string[] = []
  for await (const { failure } of failures) {
    lines.push(JSON.stringify(failure))
    if (lines.length === LINES_PER_WRITE) {
      yield lines.join('\n') + '\n'
      lines = []
    }
  }
  if (lines.length > 0) yield lines.join('\n') + '\n'
}

async function* readRun(path: string): AsyncGenerator<TimedFailure> {
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    // Written by this process from validated failures a moment ago.
    const failure = JSON.parse(line) as FailureDetected
    yield { failure, t: epochMsOf(failure.occurred_at) }
  }
}

/** The sources' failures by time; of equal times, the earlier source's first. */
async function* merge(sources: readonly AsyncIterable<TimedFailure>[]): AsyncGenerator<TimedFailure> {
  const cursors = sources.map((source) => source[Symbol.asyncIterator]())
  const heads = await Promise.all(cursors.map((cursor) => cursor.next()))
  for (;;) {
    let min = -1
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i]!
      if (!head.done && (min < 0 || head.value.t < (heads[min]!.value as TimedFailure).t)) min = i
    }
    if (min < 0) return
    yield heads[min]!.value as TimedFailure
    heads[min] = await cursors[min]!.next()
  }
}
