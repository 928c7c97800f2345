/**
 * Matcher throughput on one core: every built-in file filter at once over a mixed mail/ssh log,
 * through one StreamMatcher (one RE2.Set prefilter, then only candidate filters), lines as Buffers.
 * Run at several shares of failure lines, because a line that fails costs group extraction (RE2's
 * submatch engines) while the others cost one Set scan. Prints lines/s, per-line latency
 * percentiles and memory. Then the match stage over the same log sent by a fleet's hosts (syslog
 * forwarders): each host's stream has its own filter state, and all share the compiled prefilters.
 *
 *   npx tsx bench/matcher.ts [lines, default 200000] [passes, default 3]
 */
import { Subject } from 'rxjs'
import { StreamMatcher } from '../src/filters/stream-matcher.js'
import type { LineBatch } from '../src/sources/source.js'
import { match } from '../streams/match.js'
import { builtinFileFilters } from './builtin-filters.js'
import { generateMailLog } from './mail-log.js'
import { percentile, printMemory } from './report.js'

const LINES = Number(process.argv[2] ?? 200_000)
const PASSES = Number(process.argv[3] ?? 3)
const filters = builtinFileFilters(() => Date.UTC(2026, 11, 1) / 1000)
console.log(`matcher: ${filters.length} built-in filters (${filters.map((f) => f.name).join(' ')}), ${LINES} lines x ${PASSES} passes`)

for (const failureShare of [0.01, 0.05, 0.2]) {
  const lines = generateMailLog(LINES, { failureShare }).split('\n').filter((l) => l.length > 0).map((l) => Buffer.from(l))
  const matcher = new StreamMatcher(filters)
  let failures = 0
  for (const line of lines.slice(0, 20_000)) matcher.processLine(line)
  const t0 = process.hrtime.bigint()
  for (let p = 0; p < PASSES; p++) {
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
  console.log(`  ${(failureShare * 100).toFixed(0).padStart(2)}% failure lines: ${((LINES * PASSES) / secs / 1e6).toFixed(2)} M lines/s on one core, ` +
    `per line p50 ${percentile(samples, 0.5).toFixed(2)} µs, p99 ${percentile(samples, 0.99).toFixed(2)} µs (${failures} failures)`)
}
printMemory('  ')

const FLEET_LINES = 100_000
const fleetLog = generateMailLog(FLEET_LINES, { failureShare: 0.05 }).split('\n').filter((l) => l.length > 0).map((l) => Buffer.from(l))
for (const hosts of [1, 1000]) {
  const input = new Subject<LineBatch>()
  let failures = 0
  input.pipe(match(filters.map((f) => ({ name: f.name, filter: f, logpath: ['/var/log/mail.log'] })))).subscribe(() => failures++)
  const rss = process.memoryUsage().rss
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < fleetLog.length; i += 10) {
    input.next({ stream: '/var/log/mail.log', host: `mx${(i / 10) % hosts}`, lines: fleetLog.slice(i, i + 10), position: { offset: i }, received_at: 0 })
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(`  match stage, ${FLEET_LINES} lines in batches of 10 from ${hosts} host${hosts > 1 ? 's' : ''}: ${(FLEET_LINES / secs / 1e3).toFixed(0)} k lines/s, ` +
    `rss +${((process.memoryUsage().rss - rss) / 2 ** 20).toFixed(0)} MiB (${failures} failures)`)
}
