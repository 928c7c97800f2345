/**
 * Matcher throughput on one core: every built-in file filter at once over a mixed mail/ssh log,
 * through one StreamMatcher (one prefilter for them all, then only candidate filters), lines as Buffers.
 * Run at several shares of failure lines, because a line that fails costs group extraction (RE2's
 * submatch engines) while the others cost one prefilter scan. Prints lines/s, per-line latency
 * percentiles and memory. Then the match stage over the same log sent by a fleet's hosts (syslog
 * forwarders): each host's stream has its own filter state, and all share the compiled prefilters.
 *
 * Then one line from each of many made-up hosts, as a sender forging syslog host names makes them.
 * Each fleet case runs in its own process, so its memory is its own.
 *
 *   npx tsx bench/matcher.ts [lines, default 200000] [passes, default 3]
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Subject } from 'rxjs'
import type { MatchOptions } from '../src/filters/filter-matcher.js'
import { StreamMatcher } from '../src/filters/stream-matcher.js'
import type { LineBatch } from '../src/sources/source.js'
import { match, MatchCounters, type MatchJail } from '../streams/match.js'
import { builtinFileFilters } from './builtin-filters.js'
import { generateMailLog } from './mail-log.js'
import { percentile, printMemory } from './report.js'

function shares(count: number, passes: number): void {
  console.log(`matcher: ${filters.length} built-in filters (${filters.map((f) => f.name).join(' ')}), ${count} lines x ${passes} passes`)
  for (const [what, opts] of VARIANTS) {
    console.log(`  ${what}:`)
    for (const failureShare of [0.01, 0.05, 0.2]) share(count, passes, failureShare, opts)
  }
  printMemory('  ')
}

/**
 * Every result, as `banstream regex` reports them; and as the match stage runs the filters, where a
 * helper or a success that changes no state is only counted (FilterMatcher's countHelpers).
 */
const VARIANTS: [string, MatchOptions][] = [
  ['every match extracted (banstream regex)', {}],
  ['as the match stage runs it (helpers and successes that change nothing only counted)', { countHelpers: true, successesAreHelpers: true }],
]

function share(count: number, passes: number, failureShare: number, opts: MatchOptions): void {
  const lines = generateMailLog(count, { failureShare }).split('\n').filter((l) => l.length > 0).map((l) => Buffer.from(l))
  const matcher = new StreamMatcher(filters, opts)
  let failures = 0
  for (const line of lines.slice(0, 20_000)) matcher.processLine(line)
  const t0 = process.hrtime.bigint()
  for (let p = 0; p < passes; p++) {
    for (const line of lines) for (const m of matcher.processLine(line)) failures += m.result.failures.length
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const samples = new Float64Array(lines.length)
  for (let i = 0; i < lines.length; i++) {
    const s = process.hrtime.bigint()
    matcher.processLine(lines[i]!)
    samples[i] = Number(process.hrtime.bigint() - s) / 1000
  }
  samples.sort()
  console.log(`    ${(failureShare * 100).toFixed(0).padStart(2)}% failure lines: ${((count * passes) / secs / 1e6).toFixed(2)} M lines/s on one core, ` +
    `per line p50 ${percentile(samples, 0.5).toFixed(2)} µs, p99 ${percentile(samples, 0.99).toFixed(2)} µs (${failures} failures)`)
}

/** The match stage over one log whose batches come from `hosts` hosts in turn. */
function fleet(hosts: number): void {
  const log = generateMailLog(FLEET_LINES, { failureShare: 0.05 }).split('\n').filter((l) => l.length > 0).map((l) => Buffer.from(l))
  const input = new Subject<LineBatch>()
  let failures = 0
  input.pipe(match(mailJails())).subscribe(() => failures++)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < log.length; i += 10) {
    input.next({ stream: '/var/log/mail.log', host: `mx${(i / 10) % hosts}`, lines: log.slice(i, i + 10), position: { offset: i }, received_at: 0 })
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(`  match stage, ${FLEET_LINES} lines in batches of 10 from ${hosts} host${hosts > 1 ? 's' : ''}: ${(FLEET_LINES / secs / 1e3).toFixed(0)} k lines/s, ` +
    `${rssAtEnd()} (${failures} failures)`)
}

/**
 * Syslog messages name their own host: one line from each of `hosts` made-up hosts, each a new
 * stream, as a sender forging host names would make them. The stage keeps at most MAX_STREAMS.
 */
function forgedHosts(hosts: number): void {
  const input = new Subject<LineBatch>()
  const counters = new MatchCounters()
  input.pipe(match(mailJails(), { counters })).subscribe()
  const line = Buffer.from('Nov  1 00:00:00 mx1 sshd[20195]: Failed password for root from 198.51.100.7 port 33899 ssh2')
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < hosts; i++) input.next({ stream: '/var/log/mail.log', host: `forged-${i}`, lines: [line], received_at: 0 })
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(`  match stage, one line from each of ${hosts} made-up hosts: ${(hosts / secs / 1e3).toFixed(1)} k new streams/s, ` +
    `${rssAtEnd()} (${counters.streams_forgotten} stream states forgotten)`)
}

/** Every built-in filter as a jail reading the mail log. */
function mailJails(): MatchJail[] {
  return filters.map((f) => ({ name: f.name, filter: f, logpath: ['/var/log/mail.log'] }))
}

function rssAtEnd(): string {
  return `process rss at the end ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`
}

const FLEET_LINES = 100_000
const filters = builtinFileFilters(() => Date.UTC(2026, 11, 1) / 1000)
if (process.argv[2] === 'fleet') {
  fleet(Number(process.argv[3]))
} else if (process.argv[2] === 'forged') {
  forgedHosts(Number(process.argv[3]))
} else {
  shares(Number(process.argv[2] ?? 200_000), Number(process.argv[3] ?? 3))
  for (const args of [['fleet', '1'], ['fleet', '1000'], ['forged', '50000']]) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: 'inherit' })
    if (r.status !== 0) process.exitCode = 1
  }
}
