/**
 * Matcher throughput on one core: every built-in file filter at once over a mixed mail/ssh log,
 * through one StreamMatcher (one RE2.Set prefilter, then only candidate filters), lines as Buffers.
 * Prints lines/s, per-line latency percentiles and memory.
 *
 *   npx tsx bench/matcher.ts [lines, default 200000] [passes, default 5]
 */
import { StreamMatcher } from '../src/filters/stream-matcher.js'
import { builtinFileFilters } from './builtin-filters.js'
import { generateMailLog } from './mail-log.js'
import { percentile, printMemory } from './report.js'

const LINES = Number(process.argv[2] ?? 200_000)
const PASSES = Number(process.argv[3] ?? 5)

const lines = generateMailLog(LINES).split('\n').filter((l) => l.length > 0).map((l) => Buffer.from(l))
const filters = builtinFileFilters(() => Date.UTC(2026, 11, 1) / 1000)
const matcher = new StreamMatcher(filters)
console.log(`matcher: ${filters.length} built-in filters (${filters.map((f) => f.name).join(' ')}), ${lines.length} lines x ${PASSES} passes`)

let failures = 0
for (const line of lines.slice(0, 20_000)) matcher.processLine(line)
const t0 = process.hrtime.bigint()
for (let p = 0; p < PASSES; p++) {
  for (const line of lines) for (const m of matcher.processLine(line)) failures += m.result.failures.length
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9
console.log(`  throughput: ${((LINES * PASSES) / secs / 1e6).toFixed(2)} M lines/s on one core (${failures} failures found)`)

const samples = new Float64Array(lines.length)
for (let i = 0; i < lines.length; i++) {
  const s = process.hrtime.bigint()
  matcher.processLine(lines[i]!)
  samples[i] = Number(process.hrtime.bigint() - s) / 1000
}
samples.sort()
console.log(`  per-line latency: p50 ${percentile(samples, 0.5).toFixed(2)} µs, p99 ${percentile(samples, 0.99).toFixed(2)} µs, max ${samples[samples.length - 1]!.toFixed(1)} µs`)
printMemory('  ')
