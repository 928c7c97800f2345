/**
 * The pipeline's speed and memory (issue 3): lines from a file through match and decide to
 * decisions, on one core.
 *
 *   throughput  a generated mail/ssh log (5% failures from a few thousand addresses) through the pure
 *               streams (read + split, + match, + decide; stage shares by difference), then through the
 *               whole `banstream run` role over the embedded log, the file read from its head.
 *   latency     a generator process appends lines stamped now at a steady rate while the role runs;
 *               line written → failure appended (every failure line) and → ban appended (lines that
 *               cause a ban), from the topics' record timestamps: over the whole run, and once warm
 *               (lines written after the first WARM_UP_MS, when V8 has compiled the hot paths).
 *   memory      1 M distinct addresses failing once each, all in open windows: through the decider,
 *               and through the role from a file.
 *
 * Each part runs in its own process so none warms or bloats another.
 *
 *   npx tsx bench/pipeline.ts [lines, default 1000000] [latency rate lines/s, default 50000] [latency seconds, default 20]
 */
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { asyncScheduler, Subject } from 'rxjs'
import type { BanIssued } from '../schemas/events/ban-issued.js'
import type { Decision } from '../schemas/events/decision.js'
import { eventId } from '../schemas/events/event-id.js'
import type { FailureDetected } from '../schemas/events/failure-detected.js'
import { Topics } from '../schemas/topics.js'
import { decide, decider, decisionsOnly } from '../streams/decide.js'
import { jailPolicy } from '../streams/decide-policy.js'
import { match } from '../streams/match.js'
import { resolveJailPolicies } from '../src/ignore/resolve-policies.js'
import type { LogRecord } from '../src/log/log.js'
import { RunRole } from '../src/roles/run.js'
import { loadRunJails } from '../src/roles/run-jails.js'
import { DEFAULT_MAX_LINE_BYTES, DEFAULT_READ_CHUNK_BYTES, readAhead } from '../src/sources/file-tail.js'
import { LineSplitter } from '../src/sources/line-splitter.js'
import type { LineBatch } from '../src/sources/source.js'
import { BENCH_JAILS, benchConfigDir } from './pipeline-config.js'
import { generateMailLog } from './mail-log.js'
import { percentile, printMemory } from './report.js'

const here = fileURLToPath(import.meta.url)
const FAILURE_SHARE = 0.05
/**
 * Addresses the file's failures come from (the generator's). The generated log holds ~50 lines/s of
 * event time, so with a few thousand attackers hardly one would reach maxretry within findtime; 300
 * make bans and "already banned" part of the run.
 */
const FILE_ATTACKERS = 300
/**
 * The latency generator's attackers come in waves of LIVE_WAVE addresses, each failing LIVE_ROUNDS times
 * in turn (the 5th failure bans, the rest are "already banned"): bans fall all through the run, not
 * only in its first seconds.
 */
const LIVE_WAVE = 1000
const LIVE_ROUNDS = 10
/**
 * The latency run's first lines meet unoptimised code: in the first half second the role falls behind
 * the generator by up to ~80 ms and catches up, which alone makes the whole run's p99 (1% of 20 s is
 * 0.2 s of lines). A running service is past that, so the steady state is reported beside the whole run.
 */
const WARM_UP_MS = 2000

async function main(lines: number, rate: number, seconds: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-pipeline-'))
  try {
    const mailLog = join(dir, 'mail.log')
    // Dated from findtime/2 ago on: the role runs live and skips backlog failures older than findtime,
    // and counts the rest by their own time, so every failure is counted as in the pure streams.
    await writeFile(mailLog, generateMailLog(lines, { failureShare: FAILURE_SHARE, start: Date.now() - 300_000 }))
    const size = (await stat(mailLog)).size
    console.log(`pipeline: ${lines} lines (${(size / 1e6).toFixed(0)} MB), ${FAILURE_SHARE * 100}% failures from ${FILE_ATTACKERS} addresses; jails ${BENCH_JAILS.join(' ')}`)
    part('streams', [mailLog])
    part('role', [mailLog])
    part('latency', [String(rate), String(seconds)])
    part('memory', [String(lines)], ['--expose-gc'])
    const floodLog = join(dir, 'flood.log')
    await writeFile(floodLog, floodLines(lines, Date.now()))
    part('role-memory', [floodLog], ['--expose-gc'])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function part(name: string, args: string[], nodeArgs: string[] = []): void {
  const r = spawnSync(process.execPath, [...nodeArgs, ...process.execArgv, here, name, ...args], { stdio: 'inherit' })
  if (r.status !== 0) process.exitCode = 1
}

/** Match and decide as pure operators over batches read from the file, as the file tail cuts them. */
async function streamsPart(logPath: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-streams-'))
  try {
    const { jails } = loadRunJails(await benchConfigDir(join(dir, 'config'), logPath), () => Date.now() / 1000)
    const policies = await resolveJailPolicies(jails.map((j) => j.policy), { warn: () => undefined })
    const matchJails = jails.map((j) => j.match)
    const options = { jails: policies, live: false }

    const pass = async (stages: 'read' | 'match' | 'decide') => {
      const input = new Subject<LineBatch>()
      const counts = { lines: 0, failures: 0, decisions: 0 }
      input.subscribe((b) => (counts.lines += b.lines.length))
      if (stages === 'match') input.pipe(match(matchJails)).subscribe(() => counts.failures++)
      if (stages === 'decide') input.pipe(match(matchJails), decide(options, asyncScheduler), decisionsOnly()).subscribe(() => counts.decisions++)
      const t0 = performance.now()
      await readBatches(logPath, (batch) => input.next(batch))
      input.complete()
      return { ...counts, ms: performance.now() - t0 }
    }
    // Shares are told by difference, so each pass is the faster of two taken in turn: one slow pass
    // (a major GC, the VM's drift) would otherwise make a stage's share negative.
    await pass('decide')
    const best: Partial<Record<'read' | 'match' | 'decide', Awaited<ReturnType<typeof pass>>>> = {}
    for (let round = 0; round < 2; round++) {
      for (const stages of ['read', 'match', 'decide'] as const) {
        const p = await pass(stages)
        if (best[stages] === undefined || p.ms < best[stages].ms) best[stages] = p
      }
    }
    const { read, match: matched, decide: decided } = best as Required<typeof best>
    const rate = (ms: number) => `${(read.lines / (ms / 1000) / 1e3).toFixed(0)} k lines/s`
    const share = (ms: number) => `${((ms / decided.ms) * 100).toFixed(0)}%`
    console.log(`  streams, one core: read+split+match+decide ${rate(decided.ms)} (${decided.decisions} decisions, ${matched.failures} failures)`)
    console.log(`    time: read+split ${share(read.ms)}, match ${share(matched.ms - read.ms)}, decide ${share(decided.ms - matched.ms)} ` +
      `(read+split alone ${rate(read.ms)}, +match ${rate(matched.ms)})`)
    printMemory('    ')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function readBatches(path: string, emit: (batch: LineBatch) => void): Promise<void> {
  const handle = await open(path, 'r')
  const splitter = new LineSplitter(DEFAULT_MAX_LINE_BYTES, () => undefined)
  // As the file tail reads: the next chunk while this one's lines are matched.
  let offset = 0
  let next = readAhead(handle, offset, DEFAULT_READ_CHUNK_BYTES)
  for (;;) {
    const chunk = await next
    if (chunk.length === 0) break
    offset += chunk.length
    next = readAhead(handle, offset, DEFAULT_READ_CHUNK_BYTES)
    const lines = splitter.push(chunk)
    if (lines.length > 0) emit({ stream: path, host: 'bench', lines, position: { offset: offset - splitter.pending }, received_at: Date.now() })
  }
  await handle.close()
}

/** The whole `banstream run` role reading `logPath` from its head, timed until every line is matched and decided. */
async function rolePart(logPath: string, what: 'throughput' | 'memory'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-role-'))
  try {
    const size = (await stat(logPath)).size
    const notes: string[] = []
    const t0 = performance.now()
    const role = await RunRole.start({
      configDir: await benchConfigDir(join(dir, 'config'), logPath),
      dataDir: join(dir, 'data'),
      control: { port: 0 },
      fsync: { intervalMs: 1000 },
      dryRun: true,
      note: (level, message) => notes.push(`${level}: ${message}`),
    })
    const started = performance.now()
    const counts = await untilDrained(role, size)
    const caughtUp = counts.at
    const rss = process.memoryUsage().rss
    let windows = 0
    for (const jail of BENCH_JAILS) windows += (await role.control.status(jail))?.filter.currently_failed ?? 0
    if (what === 'memory') {
      globalThis.gc?.()
      console.log(`  memory, the role: ${counts.failures} failures of distinct addresses from a file in ${((caughtUp - t0) / 1000).toFixed(1)} s, ${windows} open windows; rss at caught-up ${(rss / 2 ** 20).toFixed(0)} MiB, ` +
        `peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`)
      printMemory('    after gc: ')
    }
    const stopping = performance.now()
    await role.stop()
    const stopped = performance.now()
    if (what === 'throughput') {
      const lines = await linesIn(logPath)
      console.log(`  role (banstream run, embedded log, fsync 1 s): ${(lines / ((caughtUp - t0) / 1000) / 1e3).toFixed(0)} k lines/s ` +
        `(${lines} lines in ${((caughtUp - t0) / 1000).toFixed(1)} s, start ${(started - t0).toFixed(0)} ms; ${counts.batches} line batches, ` +
        `${counts.failures} failures, ${counts.decisions} decisions, ${windows} open windows)`)
      console.log(`    stop (fail2ban-format log flushed) in ${(stopped - stopping).toFixed(0)} ms; rss at caught-up ${(rss / 2 ** 20).toFixed(0)} MiB`)
    }
    for (const note of notes.filter((n) => !n.startsWith('info'))) console.log(`    note: ${note}`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Waits until the file is in `lines` to its end, match has committed all of it, and nothing downstream
 * has moved for QUIET_MS: failures, decisions and actuations appended, failures counted by decide.
 * Resolves with the time of the last movement seen (polled every POLL_MS), which is when the run
 * finished: the stages do not expose their progress, and the quiet wait is not part of the run.
 */
async function untilDrained(role: RunRole, fileSize: number): Promise<{ at: number; batches: number; failures: number; decisions: number }> {
  const log = role.log
  let last = ''
  let lastChange = performance.now()
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    const [batches = 0] = await log.endOffsets(Topics.lines.name)
    const [failures = 0] = await log.endOffsets(Topics.failures.name)
    const [decisions = 0] = await log.endOffsets(Topics.decisions.name)
    const [actuations = 0] = await log.endOffsets(Topics.actuations.name)
    const matched = await log.committed('match', Topics.lines.name, 0)
    let counted = 0
    for (const jail of BENCH_JAILS) counted += (await role.control.status(jail))?.filter.total_failed ?? 0
    const now = [batches, matched, failures, counted, decisions, actuations].join()
    if (now !== last) {
      last = now
      lastChange = performance.now()
      continue
    }
    if (batches === 0 || matched !== batches || performance.now() - lastChange < QUIET_MS) continue
    const [record] = await log.read(Topics.lines.name, 0, batches - 1, 1)
    if ((JSON.parse(record!.headers['position'] ?? '{}') as { offset?: number }).offset !== fileSize) continue
    return { at: lastChange, batches, failures, decisions }
  }
}

const POLL_MS = 10
/**
 * Longer than a save of the decide state, which holds decide still: a million windows take 1.5-2.3 s
 * to save, and with 1 s of quiet the memory run once ended with 995 290 of its 1 M windows counted.
 */
const QUIET_MS = 3000

async function linesIn(path: string): Promise<number> {
  let lines = 0
  await readBatches(path, (batch) => (lines += batch.lines.length))
  return lines
}

/**
 * The role follows an empty file while a generator process appends to it; afterwards the topics'
 * record timestamps say when each failure and each ban was appended.
 */
async function latencyPart(rate: number, seconds: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-latency-'))
  try {
    const logPath = join(dir, 'mail.log')
    await writeFile(logPath, '')
    const notes: string[] = []
    const role = await RunRole.start({
      configDir: await benchConfigDir(join(dir, 'config'), logPath),
      dataDir: join(dir, 'data'),
      control: { port: 0 },
      fsync: { intervalMs: 1000 },
      dryRun: true,
      note: (level, message) => notes.push(`${level}: ${message}`),
    })
    const generator = spawn(process.execPath, [...process.execArgv, here, 'generate', logPath, String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let written = ''
    generator.stdout.on('data', (data: Buffer) => (written += data.toString()))
    await new Promise((resolve) => generator.on('exit', resolve))
    const generatedAt = performance.now()
    const size = (await stat(logPath)).size
    const drainedMs = (await untilDrained(role, size)).at - generatedAt

    // [latency ms, written at epoch ms] per line.
    const toFailure: [number, number][] = []
    for (const record of await readTopic(role, Topics.failures.name)) {
      const failure = JSON.parse(record.value.toString()) as FailureDetected
      const at = writtenAt(failure.matches)
      // Only the generator's failure lines carry their write time; sshd's success lines are on `failures` too.
      if (Number.isFinite(at)) toFailure.push([record.timestamp - at, at])
    }
    const toBan: [number, number][] = []
    for (const record of await readTopic(role, Topics.decisions.name)) {
      const decision = JSON.parse(record.value.toString()) as Decision
      if (decision.type === 'BanIssued' && decision.reason === 'threshold') {
        const at = writtenAt((decision as BanIssued).matches)
        if (Number.isFinite(at)) toBan.push([record.timestamp - at, at])
      }
    }
    await role.stop()
    const firstWritten = Math.min(...toFailure.map(([, at]) => at))
    const summary = (timed: [number, number][], warm: boolean) => {
      const xs = timed.filter(([, at]) => !warm || at >= firstWritten + WARM_UP_MS).map(([ms]) => ms)
      if (xs.length === 0) return 'none'
      const sorted = Float64Array.from(xs).sort()
      return `p50 ${percentile(sorted, 0.5)} ms, p99 ${percentile(sorted, 0.99)} ms, max ${sorted[sorted.length - 1]} ms (${xs.length})`
    }
    console.log(`  latency, the role following a file: ${written.trim()}; caught up ${drainedMs.toFixed(0)} ms after the generator stopped`)
    console.log(`    line written → failure appended: ${summary(toFailure, false)}`)
    console.log(`      once warm (after ${WARM_UP_MS / 1000} s): ${summary(toFailure, true)}`)
    console.log(`    line written → ban appended:     ${summary(toBan, false)}`)
    console.log(`      once warm (after ${WARM_UP_MS / 1000} s): ${summary(toBan, true)}`)
    for (const note of notes.filter((n) => !n.startsWith('info'))) console.log(`    note: ${note}`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function readTopic(role: RunRole, topic: string): Promise<LogRecord[]> {
  const records: LogRecord[] = []
  for (;;) {
    const batch = await role.log.read(topic, 0, records.length, 10_000)
    if (batch.length === 0) return records
    records.push(...batch)
  }
}

/** When the newest of the lines was written: the generator puts it in the user name (`w<epoch ms>`). */
function writtenAt(lines: readonly string[]): number {
  let newest = -Infinity
  for (const line of lines) {
    const at = / user w(\d+) /.exec(line)
    if (at) newest = Math.max(newest, Number(at[1]))
  }
  return newest
}

/**
 * Appends `rate` lines/s for `seconds`, in 10 ms ticks stamped with the local time of the write:
 * ordinary mail/ssh traffic and 5% sshd failures from waves of attackers, each failure carrying
 * its write time. Prints what it wrote.
 */
function generate(path: string, rate: number, seconds: number): void {
  const ordinary = generateMailLog(50_000, { failureShare: 0 }).split('\n').filter((l) => l.length > 0).map((l) => l.slice(16))
  const fd = openSync(path, 'a')
  const started = Date.now()
  let lines = 0
  let failures = 0
  let next = 0
  const tick = () => {
    const now = Date.now()
    const due = Math.min(Math.floor(((now - started) / 1000) * rate), rate * seconds)
    const stamp = syslogStamp(now)
    const out: string[] = []
    for (; lines < due; lines++) {
      if (lines % Math.round(1 / FAILURE_SHARE) === 0) {
        const n = Math.floor(failures / (LIVE_WAVE * LIVE_ROUNDS)) * LIVE_WAVE + (failures++ % LIVE_WAVE)
        const ip = `100.${64 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`
        out.push(`${stamp} mx1 sshd[${1000 + (lines % 60000)}]: Failed password for invalid user w${now} from ${ip} port ${1024 + (lines % 60000)} ssh2`)
      } else {
        out.push(`${stamp} ${ordinary[next++ % ordinary.length]}`)
      }
    }
    if (out.length > 0) writeSync(fd, out.join('\n') + '\n')
    if (lines < rate * seconds) setTimeout(tick, 10)
    else {
      closeSync(fd)
      const secs = (Date.now() - started) / 1000
      console.log(`${lines} lines (${failures} failures) written in ${secs.toFixed(1)} s, ${(lines / secs / 1e3).toFixed(1)} k lines/s`)
    }
  }
  tick()
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** A syslog date in local time, as the filters read it by default. */
function syslogStamp(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** `count` sshd failures, one per address, all inside one findtime ending at `endMs`. */
function floodLines(count: number, endMs: number): string {
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const at = endMs - 300_000 + Math.floor((i / count) * 300_000)
    out.push(`${syslogStamp(at)} mx1 sshd[4242]: Failed password for root from ${floodAddress(i)} port 4242 ssh2`)
  }
  return out.join('\n') + '\n'
}

function floodAddress(i: number): string {
  return `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
}

/** 1 M distinct addresses failing once each through the decider, all inside one findtime. */
function memoryPart(count: number): void {
  const d = decider({ jails: [jailPolicy({ name: 'sshd' })] })
  let state = d.initialState()
  globalThis.gc?.()
  const before = process.memoryUsage()
  const start = Date.now() / 1000 - 300
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const ip = floodAddress(i)
    const failure: FailureDetected = {
      type: 'FailureDetected',
      event_id: eventId('bench', i),
      jail: 'sshd',
      ip,
      host: 'mx1',
      matches: [`Nov 22 03:45:44 mx1 sshd[4242]: Failed password for root from ${ip} port 4242 ssh2`],
      occurred_at: new Date((start + (i / count) * 300) * 1000).toISOString(),
      source: '/var/log/auth.log',
      regex_index: 0,
    }
    state = d.step(state, failure, 0).state
  }
  const secs = (performance.now() - t0) / 1000
  globalThis.gc?.()
  const after = process.memoryUsage()
  const windows = state.jails.get('sshd')?.windows.size ?? 0
  console.log(`  memory, the decider: ${count} distinct addresses failing once (${(count / secs / 1e3).toFixed(0)} k failures/s), ${windows} open windows; ` +
    `heap +${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(0)} MiB (${((after.heapUsed - before.heapUsed) / windows).toFixed(0)} bytes a window)`)
  printMemory('    after gc: ')
}

const [section, ...args] = process.argv.slice(2)
switch (section) {
  case 'streams': await streamsPart(args[0]!); break
  case 'role': await rolePart(args[0]!, 'throughput'); break
  case 'latency': await latencyPart(Number(args[0]), Number(args[1])); break
  case 'generate': generate(args[0]!, Number(args[1]), Number(args[2])); break
  case 'memory': memoryPart(Number(args[0])); break
  case 'role-memory': await rolePart(args[0]!, 'memory'); break
  default: await main(Number(section ?? 1_000_000), Number(args[0] ?? 50_000), Number(args[1] ?? 20))
}
