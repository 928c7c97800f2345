import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { loadFilter } from '../config/filter-config.js'
import { compileFilter } from '../filters/compiled-filter.js'
import { FilterMatcher, type Failure } from '../filters/filter-matcher.js'
import { parseAddress } from '../filters/address.js'
import { evalCondition, failJsonTime, parseSampleLog, type FailData, type Options } from './sample-log.js'

/** fail2ban's sample tests run at 2005-08-14 12:00 CEST, in a process whose local zone is Europe/Zurich. */
export const SAMPLE_NOW = 1124013600
export const SAMPLE_TIMEZONE = 'Europe/Zurich'

export interface CaseFailure { file: string; lineno: number; filter: string; line: string; message: string }

export interface SampleFileResult {
  name: string
  /** Tested (line, filter options) pairs. */
  cases: number
  failures: CaseFailure[]
  /** Set when the filter could not be loaded or compiled: the reason, and every case counts as failed. */
  error?: string
  /** failregexes no sample line exercised (fail2ban's "Regex has no samples"), reported, not failed. */
  unusedRegexes: string[]
}

export interface ConformanceOptions { filterDir: string; now?: number; timezone?: string }

interface FilterUnderTest { name: string; matcher: FilterMatcher; opts: Options; used: Set<number> }

/**
 * Runs one sample file (and the files it adds) against the filter of the same name, with the semantics
 * of fail2ban's samplestestcase: every failregex is tried (checkAllRegex), host names are kept raw,
 * journal-type lines take "now" as their time, and a line may produce exactly one failure.
 */
export function runSampleFile(logDir: string, name: string, opts: ConformanceOptions): SampleFileResult {
  const now = opts.now ?? SAMPLE_NOW
  const timezone = opts.timezone ?? SAMPLE_TIMEZONE
  const result: SampleFileResult = { name, cases: 0, failures: [], unusedRegexes: [] }
  const filters = new Map<string, FilterUnderTest>()
  const readFilter = (fltName: string, fltOpts: Options): FilterUnderTest => {
    let f = filters.get(fltName)
    if (!f) {
      const def = loadFilter(opts.filterDir, name, fltOpts)
      const compiled = compileFilter(def, { useDns: 'raw', localZone: timezone, now: () => now })
      f = { name: fltName, matcher: new FilterMatcher(compiled, { checkAllRegex: true, exactOutcomes: true }), opts: fltOpts, used: new Set() }
      filters.set(fltName, f)
    }
    return f
  }

  let tests: FilterUnderTest[] = []
  let fileOpts: Options = {}
  let ignoreBlock = false
  const files = [name]
  try {
    for (let fi = 0; fi < files.length; fi++) {
      const file = files[fi]!
      const items = parseSampleLog(readFileSync(join(logDir, file), 'utf8'), file)
      for (const item of items) {
        if (item.kind === 'fileOptions') { fileOpts = item.options; continue }
        if (item.kind === 'addFile') { files.push(item.name); continue }
        if (item.kind === 'filterOptions') {
          tests = []
          ignoreBlock = false
          for (const o of item.options) {
            const all = { ...fileOpts, ...o }
            if (all['test.condition']) ignoreBlock = !evalCondition(all['test.condition'], { name, opts: all })
            if (ignoreBlock) continue
            const fltOpts = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('test.')))
            const fltName = Object.keys(fltOpts).length > 0 ? `${name}${JSON.stringify(fltOpts)}` : name
            const f = readFilter(fltName, fltOpts)
            tests.push({ ...f, opts: all })
          }
          continue
        }
        if (ignoreBlock) continue
        if (tests.length === 0) tests = [readFilter(name, {})]
        for (const t of tests) {
          const expected = item.expected
          if (expected.constraint && !evalCondition(expected.constraint, { name, opts: t.opts })) continue
          result.cases++
          const message = checkLine(t, item.line, expected, now, timezone)
          if (message) result.failures.push({ file, lineno: item.lineno, filter: t.name, line: item.line, message })
        }
      }
    }
  } catch (err) {
    result.error = (err as Error).message
    return result
  }
  const usedPatterns = new Set([...filters.values()].flatMap((f) => [...f.used].map((i) => f.matcher.filter.failregex[i]!.pattern)))
  for (const f of filters.values()) {
    f.matcher.filter.failregex.forEach((r, i) => {
      if (!f.used.has(i) && !usedPatterns.has(r.pattern)) result.unusedRegexes.push(`${f.name}: ${i}: ${r.pattern}`)
    })
  }
  return result
}

/** Checks one line against its expectation; returns why it fails, or undefined. */
function checkLine(t: FilterUnderTest, line: string, expected: FailData, now: number, timezone: string): string | undefined {
  const journal = t.opts['logtype'] === 'journal'
  const text = journal ? (t.opts['test.prefix-line'] ?? '') + line : line
  const res = t.matcher.processLine(Buffer.from(text, 'utf8'), journal ? now : undefined)
  const found: Failure[] = []
  for (const f of res.failures) {
    if (f.host === null || f.nofail) t.used.add(f.regex)
    else found.push(f)
  }
  const shouldMatch = expected.match === true
  if (found.length === 0) return shouldMatch ? 'not matched, expected a match' : undefined
  if (!shouldMatch) return `matched by failregex ${found[0]!.regex} (host ${found[0]!.host}), expected no match`
  if (found.length !== 1) return `several failregexes matched: ${found.map((f) => f.regex).join(', ')}`
  const fail = found[0]!
  for (const [k, v] of Object.entries(expected)) {
    if (k === 'time' || k === 'match' || k === 'desc' || k === 'constraint') continue
    let actual: unknown = fail.fields[k]
    if (actual === undefined && k === 'host') actual = fail.host
    if (actual === undefined && k === 'attempts') actual = fail.matches.length
    if (actual === undefined && k === 'users') actual = fail.users
    // fail2ban gives a group that did not take part the value None, written null in failJSON.
    if (v === null && actual === undefined) continue
    if (k === 'host' && typeof v === 'string' && typeof actual === 'string' && sameAddress(actual, v)) continue
    if (Array.isArray(v)) {
      const a = Array.isArray(actual) ? [...actual].map(String).sort() : actual
      if (JSON.stringify(a) !== JSON.stringify([...v].map(String).sort())) return `${k}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(v)}`
    } else if (actual !== v) {
      return `${k}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(v)}`
    }
  }
  if (typeof expected.time === 'string') {
    const want = failJsonTime(expected.time, timezone)
    if (Math.abs(fail.time - want) > 1e-6) {
      return `time: got ${new Date(fail.time * 1000).toISOString()}, expected ${expected.time} ${timezone} (${new Date(want * 1000).toISOString()})`
    }
  }
  t.used.add(fail.regex)
  return undefined
}

/** The sample files of a directory that have a filter of the same name in filterDir. */
export function sampleFilesFor(logDir: string, filterDir: string): string[] {
  return readdirSync(logDir)
    .filter((n) => statSync(join(logDir, n)).isFile())
    .filter((n) => { try { return statSync(join(filterDir, `${n}.conf`)).isFile() } catch { return false } })
    .sort()
}

/** fail2ban compares hosts as IPAddr objects: `2001:DB8::1` equals `2001:db8::1`. */
function sameAddress(a: string, b: string): boolean {
  const x = parseAddress(a)
  const y = parseAddress(b)
  return x !== null && y !== null && x.ip === y.ip && x.prefix === y.prefix
}
