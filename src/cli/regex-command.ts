import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { compileFilter } from '../filters/compiled-filter.js'
import { FilterMatcher, type Failure, type LineOutcome, type LineResult } from '../filters/filter-matcher.js'
import { builtinConfigDir } from '../package-root.js'
import { resolveFilterArgument } from './filter-argument.js'
import { LineCursor, readLineBlocks } from './read-lines.js'
import { UsageError } from './usage-error.js'

export interface RegexCommandOptions {
  json?: boolean
  /** ISO 8601 "now": the reference for yearless dates and the time of undated (journal) lines. */
  now?: string
  /** Filter init options, KEY=VALUE (mode=aggressive, logtype=journal). */
  opt?: string[]
  /** Print the lines no failregex matched. */
  missed?: boolean
  /** logtimezone for the log's dates. */
  timezone?: string
}

interface Summary {
  lines: number
  matched: number
  ignored: number
  missed: number
  failregexHits: number[]
  ignoreregexHits: number[]
  missedLines: string[]
}

/** `banstream regex LOG FILTER`: fail2ban-regex, on RE2. Returns the exit code. */
export async function regexCommand(log: string, filterArg: string, opts: RegexCommandOptions, out: Writable): Promise<number> {
  const now = parseNow(opts.now)
  const args = parseOpts(opts.opt ?? [])
  const def = resolveFilterArgument(filterArg, join(builtinConfigDir(), 'filter.d'), args)
  const filter = compileFilter(def, { now: () => now, timezone: opts.timezone, useDns: 'raw' })
  // A helper or success that changes nothing is only counted: the summary calls its line ignored either way, and --json leaves it out.
  const matcher = new FilterMatcher(filter, { exactOutcomes: true, countHelpers: true, successesAreHelpers: true })
  const journal = filter.options['logtype'] === 'journal'
  if (log !== '-') checkReadable(log)

  const started = process.hrtime.bigint()
  const summary: Summary = {
    lines: 0, matched: 0, ignored: 0, missed: 0, missedLines: [],
    failregexHits: filter.failregex.map(() => 0), ignoreregexHits: filter.ignoreregex.map(() => 0),
  }
  // A block's lines are matched by a function of their own, not in this one's loop: this one resumes
  // after every await, where V8 would compile its loop anew (on-stack replacement) for every block.
  const matchBlock = (block: Buffer): string => {
    let json = ''
    const lines = new LineCursor(block)
    for (let line = lines.next(); line !== undefined; line = lines.next()) {
      const lineno = ++summary.lines
      const res = matcher.processLine(line, journal ? now : undefined)
      for (const i of res.matchedRegexes) summary.failregexHits[i]!++
      for (const i of res.ignoredBy) summary.ignoreregexHits[i]!++
      const outcome = lineOutcome(res)
      if (outcome === 'matched') summary.matched++
      else if (outcome === 'ignored') summary.ignored++
      else countMissed(summary, line, opts.missed)
      if (opts.json) for (const f of res.failures) if (f.host !== null && !f.nofail) json += jsonLine(lineno, f, filter.name)
    }
    return json
  }
  for await (const block of readLineBlocks(log)) {
    const json = matchBlock(block)
    if (json !== '') await write(out, json)
  }
  if (opts.json) return 0
  const secs = Number(process.hrtime.bigint() - started) / 1e9
  await write(out, formatSummary(log, filterArg, def.file, filter.failregex.map((r) => r.pattern),
    filter.ignoreregex.map((r) => r.pattern), matcher.dates.stats(), summary, secs, opts.missed === true))
  return 0
}

/**
 * fail2ban-regex's view of a line: matched when it produced a failure; ignored when an ignoreregex
 * matched or only helper matches (`<F-NOFAIL>`) did; missed otherwise.
 */
function lineOutcome(res: LineResult): LineOutcome {
  if (res.failures.some((f) => !f.nofail)) return 'matched'
  if (res.failures.length > 0 || res.ignoredBy.length > 0) return 'ignored'
  return res.outcome === 'matched' ? 'ignored' : res.outcome
}

function countMissed(summary: Summary, line: Buffer, keep: boolean | undefined): void {
  summary.missed++
  if (keep) summary.missedLines.push(line.toString('utf8'))
}

function jsonLine(lineno: number, f: Failure, filter: string): string {
  const o: Record<string, unknown> = { lineno, host: f.host, time: f.time }
  if (f.fields['user'] !== undefined) o['user'] = f.fields['user']
  if (f.fields['fid'] !== undefined) o['fid'] = f.fields['fid']
  o['filter'] = filter
  o['regex'] = f.regex
  return JSON.stringify(o) + '\n'
}

function formatSummary(
  log: string, filterArg: string, file: string, failregex: string[], ignoreregex: string[],
  dates: { template: string; hits: number }[], s: Summary, secs: number, showMissed: boolean,
): string {
  const listing = (title: string, patterns: string[], hits: number[]): string[] => {
    const total = hits.reduce((a, b) => a + b, 0)
    const lines = [`${title}: ${total} total`]
    if (patterns.length > 0) {
      lines.push('|-  #) [# of hits] regular expression')
      patterns.forEach((p, i) => lines.push(`|  ${String(i + 1).padStart(2)}) [${hits[i]}] ${p}`))
      lines.push('`-')
    }
    return lines
  }
  const usedDates = dates.filter((d) => d.hits > 0)
  const out = [
    'Running tests', '=============', '',
    file.startsWith('<') ? `Use      failregex line : ${filterArg}` : `Use   failregex filter file : ${filterArg}, file: ${file}`,
    `Use         log file : ${log === '-' ? 'stdin' : log}`,
    'Use         encoding : UTF-8', '', '',
    'Results', '=======', '',
    ...listing('Failregex', failregex, s.failregexHits), '',
    ...listing('Ignoreregex', ignoreregex, s.ignoreregexHits), '',
    'Date template hits:',
    '|- [# of hits] date format',
    ...usedDates.map((d) => `|  [${d.hits}] ${d.template}`),
    '`-', '',
    `Lines: ${s.lines} lines, ${s.ignored} ignored, ${s.matched} matched, ${s.missed} missed`,
    `[processed in ${secs.toFixed(2)} sec]`,
  ]
  if (showMissed && s.missedLines.length > 0) {
    out.push('', `|- Missed line(s):`, ...s.missedLines.map((l) => `|  ${l}`), '`-')
  }
  return out.join('\n') + '\n'
}

function parseNow(text: string | undefined): number {
  if (text === undefined) return Date.now() / 1000
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new UsageError(`--now: not an ISO 8601 date-time: ${text}`)
  return ms / 1000
}

function parseOpts(pairs: string[]): Record<string, string> {
  const args: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`--opt: expected KEY=VALUE, got ${pair}`)
    args[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
  }
  return args
}

function checkReadable(path: string): void {
  try {
    accessSync(path, constants.R_OK)
  } catch {
    throw new UsageError(`cannot read log file: ${path}`)
  }
}

function write(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => out.write(text, (err) => (err ? reject(err) : resolve())))
}
