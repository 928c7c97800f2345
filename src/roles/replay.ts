import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import { Subject } from 'rxjs'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import { decider } from '../../streams/decide.js'
import type { JailPolicy } from '../../streams/decide-policy.js'
import { epochMsOf } from '../../streams/decide-state.js'
import { emptyExpireState, evolveExpire, expireDue } from '../../streams/expire.js'
import { match, MatchCounters, type MatchJail } from '../../streams/match.js'
import { DEFAULT_MAX_LINE_BYTES } from '../sources/file-tail.js'
import { LineSplitter } from '../sources/line-splitter.js'
import { FailureSort, type TimedFailure } from './replay-sort.js'
import type { LineBatch } from '../sources/source.js'

/** A file to replay, and the path its lines are routed by (a copied log replayed as the path it came from). */
export interface ReplayInput {
  readonly path: string
  /** Route the file's lines as if they were read from this path (fail2ban's logpath); default: `path`. */
  readonly as?: string
}

export interface ReplayProgress {
  /** How much of the source has been read, of `total`: bytes of the files (compressed bytes for .gz), or records of the log. */
  readonly done: number
  readonly total: number
  readonly lines: number
}

export interface ReplayJailsOptions {
  readonly jails: readonly MatchJail[]
  /** The jails' decide policies, by the same names. */
  readonly policies: readonly JailPolicy[]
  /** Only failures at or after this time (epoch seconds) are counted. */
  readonly from?: number
  /** Only failures before this time (epoch seconds) are counted; bans still in force then are lifted up to it. */
  readonly to?: number
  /** Called after each chunk read, for a progress bar. */
  readonly onProgress?: (progress: ReplayProgress) => void
  /** Stops the replay between two chunks, rejecting with the signal's reason. */
  readonly signal?: AbortSignal
  /** How many failures are held in memory to be put in time order; beyond that they wait in temp files (default 100000). */
  readonly failuresInMemory?: number
  /** Where those temp files go (default: the OS temp directory). */
  readonly tempDir?: string
}

export interface ReplayOptions extends ReplayJailsOptions {
  readonly inputs: readonly ReplayInput[]
}

/** Batches of lines read from a replay's source, with how far the source has got (see ReplayProgress). */
export interface ReplayChunk {
  readonly batches: readonly LineBatch[]
  readonly done: number
  readonly total: number
}

/** A ban the replayed jails would have issued. */
export interface ReplayBan {
  readonly ip: string
  /** When the ban starts (ISO, event time). */
  readonly time: string
  readonly ban_time_secs: number
  readonly failures: number
  readonly reason: BanIssued['reason']
  readonly expires_at: string | null
  readonly event_id: string
  /** The log lines that caused the ban (at most maxmatches). */
  readonly matches: readonly string[]
}

export interface ReplayUnban {
  readonly ip: string
  readonly time: string
  readonly ban_event_id: string
}

export interface JailReplay {
  readonly jail: string
  /** Lines of the files routed to this jail. */
  readonly lines: number
  /** Failures in range (successes not counted), by failregex index. */
  readonly failures: number
  readonly failures_by_regex: readonly { readonly regex_index: number; readonly count: number }[]
  readonly bans: readonly ReplayBan[]
  readonly unbans: readonly ReplayUnban[]
}

export interface ReplayResult {
  /** Event time of the first and last failure counted (ISO), or null when there was none. */
  readonly first_failure_at: string | null
  readonly last_failure_at: string | null
  /** Lines read from every input. */
  readonly lines: number
  /** Lines of files no jail reads. */
  readonly unrouted_lines: number
  readonly jails: readonly JailReplay[]
}

const READ_CHUNK_BYTES = 1 << 20
// Not os.hostname(): the event ids (and so the output) must not depend on the machine replaying.
const REPLAY_HOST = 'replay'

/**
 * Runs jails over past logs on event time: the files' lines through match,
 * the failures (in time order across files) through decide, not live, and the
 * bans through expiry. Deterministic: the same files and jails give the same
 * result, whatever the clock says.
 */
export function replay(options: ReplayOptions): Promise<ReplayResult> {
  return replayLines(options, fileChunks(options.inputs))
}

/**
 * Runs jails over batches of lines as replay() runs them over files: each
 * batch routed by its stream, as the match stage routes the `lines` topic.
 */
export async function replayLines(options: ReplayJailsOptions, chunks: AsyncIterable<ReplayChunk>): Promise<ReplayResult> {
  const counters = new MatchCounters()
  const failures = new FailureSort(options.failuresInMemory ?? DEFAULT_FAILURES_IN_MEMORY, options.tempDir)
  try {
    const batches = new Subject<LineBatch>()
    batches.pipe(match(options.jails, { counters })).subscribe((failure) => {
      const t = epochMsOf(failure.occurred_at)
      if (failure.success || inRange(t / 1000, options)) failures.add(failure, t)
    })
    let lines = 0
    for await (const chunk of chunks) {
      options.signal?.throwIfAborted()
      for (const batch of chunk.batches) {
        lines += batch.lines.length
        batches.next(batch)
      }
      await failures.spillIfFull()
      options.onProgress?.({ done: chunk.done, total: chunk.total, lines })
    }
    batches.complete()
    return await decideAll(options, failures.sorted(), counters, lines)
  } finally {
    await failures.close()
  }
}

/** The files' lines, a batch per chunk read, each routed by the file's `as` path. */
async function* fileChunks(inputs: readonly ReplayInput[]): AsyncGenerator<ReplayChunk> {
  const sizes = await Promise.all(inputs.map(async (input) => (await stat(input.path)).size))
  const total = sizes.reduce((a, b) => a + b, 0)
  let bytesBefore = 0
  for (const [index, input] of inputs.entries()) {
    const stream = input.as ?? input.path
    // As the file tail cuts lines: a longer line reaches the filters by its head only.
    const splitter = new LineSplitter(DEFAULT_MAX_LINE_BYTES, () => undefined)
    let offset = 0
    const batchOf = (lines: Buffer[]): LineBatch[] =>
      lines.length === 0 ? [] : [{ stream, host: REPLAY_HOST, lines, position: { path: input.path, offset }, received_at: 0 }]
    for await (const { data, read } of readChunks(input.path)) {
      offset += data.length
      yield { batches: batchOf(splitter.push(data)), done: bytesBefore + read, total }
    }
    const last = splitter.flush()
    bytesBefore += sizes[index]!
    if (last) yield { batches: batchOf([last]), done: bytesBefore, total }
  }
}

function inRange(t: number, options: ReplayJailsOptions): boolean {
  return (options.from === undefined || t >= options.from) && (options.to === undefined || t < options.to)
}

/** The file's bytes (gunzipped for .gz), with how many of its own bytes have been read so far. */
async function* readChunks(path: string): AsyncGenerator<{ data: Buffer; read: number }> {
  const file = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })
  if (!path.endsWith('.gz')) {
    let read = 0
    for await (const chunk of file) {
      read += (chunk as Buffer).length
      yield { data: chunk as Buffer, read }
    }
    return
  }
  let read = 0
  file.on('data', (chunk) => { read += chunk.length })
  for await (const chunk of file.pipe(createGunzip())) yield { data: chunk as Buffer, read }
}

// About 100 MB of heap; a run written beyond it is about 40 MB of NDJSON.
const DEFAULT_FAILURES_IN_MEMORY = 100_000

/** Decides the failures, which come in event time order: files are read one after another, but the decider sees their failures interleaved as they happened. */
async function decideAll(options: ReplayJailsOptions, ordered: AsyncIterable<readonly TimedFailure[]>, counters: MatchCounters, lines: number): Promise<ReplayResult> {
  const d = decider({ jails: options.policies, live: false })
  let state = d.initialState()
  const expiry = emptyExpireState()
  const decisions: Decision[] = []
  const lift = (upTo: number) => {
    for (const lifted of expireDue(expiry, upTo)) {
      decisions.push(lifted)
      state = d.evolve(state, lifted, 0)
    }
  }
  const perJail = new Map(options.jails.map((j) => [j.name, { failures: 0, byRegex: new Map<number, number>() }]))
  let first: TimedFailure | undefined
  let last: TimedFailure | undefined
  for await (const batch of ordered) {
    for (const timed of batch) {
      const { failure, t } = timed
      lift(t / 1000)
      if (!failure.success) {
        first ??= timed
        last = timed
        const counts = perJail.get(failure.jail)!
        counts.failures++
        counts.byRegex.set(failure.regex_index, (counts.byRegex.get(failure.regex_index) ?? 0) + 1)
      }
      const step = d.step(state, failure, 0)
      state = step.state
      for (const output of step.outputs) {
        if (output.type === 'DecideNotice') continue
        decisions.push(output)
        evolveExpire(expiry, output)
      }
    }
  }
  if (options.to !== undefined) lift(options.to)
  else if (last !== undefined) lift(last.t / 1000)

  const byJail = new Map<string, Decision[]>()
  for (const d of decisions) {
    const own = byJail.get(d.jail)
    if (own) own.push(d)
    else byJail.set(d.jail, [d])
  }
  const jails = [...options.jails].map((j) => j.name).sort().map((name): JailReplay => {
    const counts = perJail.get(name)!
    const own = byJail.get(name) ?? []
    return {
      jail: name,
      lines: counters.jail(name).lines,
      failures: counts.failures,
      failures_by_regex: [...counts.byRegex].sort(([a], [b]) => a - b).map(([regex_index, count]) => ({ regex_index, count })),
      bans: own.filter((d): d is BanIssued => d.type === 'BanIssued').map(banOf).sort(byTimeThenIp),
      unbans: own.filter((d): d is BanLifted => d.type === 'BanLifted')
        .map((u) => ({ ip: u.ip, time: u.occurred_at, ban_event_id: u.ban_event_id })).sort(byTimeThenIp),
    }
  })
  return {
    first_failure_at: first?.failure.occurred_at ?? null,
    last_failure_at: last?.failure.occurred_at ?? null,
    lines,
    unrouted_lines: counters.unrouted_lines,
    jails,
  }
}

function banOf(ban: BanIssued): ReplayBan {
  return {
    ip: ban.ip,
    time: ban.occurred_at,
    ban_time_secs: ban.ban_time_secs,
    failures: ban.failures,
    reason: ban.reason,
    expires_at: ban.expires_at,
    event_id: ban.event_id,
    matches: ban.matches,
  }
}

export function byTimeThenIp(a: { time: string; ip: string }, b: { time: string; ip: string }): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0
}
