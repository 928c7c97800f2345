import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
/** Failures per batch written, read and merged: each async step costs about a microsecond, as much as deciding a failure. */
const BATCH = 1000
const READ_CHUNK_BYTES = 1 << 20

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

  /** Every failure added, in event-time order, a batch at a time. */
  async *sorted(): AsyncGenerator<readonly TimedFailure[]> {
    const last = this.takeHeld()
    if (this.runs.length === 0) {
      if (last.length > 0) yield last
      return
    }
    yield* merge([...this.runs.map(readRun), Readable.from([last])])
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

  private async write(failures: readonly TimedFailure[] | AsyncIterable<readonly TimedFailure[]>): Promise<string> {
    this.dir ??= await mkdtemp(join(this.tempParent, 'banstream-replay-sort-'))
    const path = join(this.dir, `run-${this.written++}.ndjson`)
    await pipeline(Readable.from(ndjson(failures)), createWriteStream(path))
    return path
  }
}

async function* ndjson(failures: readonly TimedFailure[] | AsyncIterable<readonly TimedFailure[]>): AsyncGenerator<string> {
  if (Array.isArray(failures)) {
    for (let i = 0; i < failures.length; i += BATCH) yield ndjsonOf(failures.slice(i, i + BATCH))
    return
  }
  for await (const batch of failures as AsyncIterable<readonly TimedFailure[]>) yield ndjsonOf(batch)
}

function ndjsonOf(batch: readonly TimedFailure[]): string {
  let text = ''
  for (const { failure } of batch) text += JSON.stringify(failure) + '\n'
  return text
}

/** A run's failures, a batch per chunk read. */
async function* readRun(path: string): AsyncGenerator<readonly TimedFailure[]> {
  let rest = ''
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: READ_CHUNK_BYTES })) {
    const lines = (rest + (chunk as string)).split('\n')
    rest = lines.pop()!
    // Written by this process from validated failures a moment ago.
    yield lines.map((line) => {
      const failure = JSON.parse(line) as FailureDetected
      return { failure, t: epochMsOf(failure.occurred_at) }
    })
  }
}

/** The sources' failures by time; of equal times, the earlier source's first. */
async function* merge(sources: readonly AsyncIterable<readonly TimedFailure[]>[]): AsyncGenerator<readonly TimedFailure[]> {
  const cursors = sources.map((source) => source[Symbol.asyncIterator]())
  const batches: (readonly TimedFailure[] | undefined)[] = await Promise.all(cursors.map(nextBatch))
  const at = batches.map(() => 0)
  let out: TimedFailure[] = []
  for (;;) {
    let min = -1
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]
      if (batch !== undefined && (min < 0 || batch[at[i]!]!.t < batches[min]![at[min]!]!.t)) min = i
    }
    if (min < 0) break
    out.push(batches[min]![at[min]!++]!)
    if (at[min] === batches[min]!.length) {
      batches[min] = await nextBatch(cursors[min]!)
      at[min] = 0
    }
    if (out.length === BATCH) {
      yield out
      out = []
    }
  }
  if (out.length > 0) yield out
}

/** The cursor's next batch that holds a failure; undefined once it has none left. */
async function nextBatch(cursor: AsyncIterator<readonly TimedFailure[]>): Promise<readonly TimedFailure[] | undefined> {
  for (;;) {
    const next = await cursor.next()
    if (next.done) return undefined
    if (next.value.length > 0) return next.value
  }
}
