/**
 * fail2ban's annotated sample logs (fail2ban/tests/files/logs): each tested line is preceded by a
 * `# failJSON: {...}` line giving the expected result; `# filterOptions:` switches the filter
 * options for the lines that follow, `# fileOptions:` sets options common to the file, and
 * `# addFILE:` names another sample file to run after this one.
 */

import { parseTimeZone } from '../filters/time-zone.js'

export type Options = Record<string, string>

/** The expectation of one tested line. Keys other than these are captured fields to compare. */
export interface FailData {
  match?: boolean
  host?: string
  time?: string
  desc?: string
  constraint?: string
  [field: string]: unknown
}

export type SampleItem =
  | { kind: 'fileOptions'; options: Options }
  | { kind: 'filterOptions'; options: Options[] }
  | { kind: 'addFile'; name: string }
  | { kind: 'line'; lineno: number; line: string; expected: FailData }

const DIRECTIVE = /^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$/

/** Parses a sample file's text into its directives and tested lines, in order. Pure. */
export function parseSampleLog(text: string, file: string): SampleItem[] {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const items: SampleItem[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '')
    const isComment = line.startsWith('#') || line.trim() === ''
    if (!isComment) {
      // A log line without its failJSON is expected not to match (fail2ban: faildata = {}).
      items.push({ kind: 'line', lineno: i + 1, line, expected: {} })
      continue
    }
    const m = DIRECTIVE.exec(line)
    if (!m) continue
    let data: unknown
    try {
      data = JSON.parse(m[2]!)
    } catch (err) {
      throw new Error(`${file}:${i + 1}: invalid JSON in ${m[1]}: ${(err as Error).message}`)
    }
    switch (m[1]) {
      case 'fileOptions':
        items.push({ kind: 'fileOptions', options: toOptions(data, file, i + 1) })
        break
      case 'filterOptions':
        items.push({ kind: 'filterOptions', options: (Array.isArray(data) ? data : [data]).map((o) => toOptions(o, file, i + 1)) })
        break
      case 'addFILE':
        if (typeof data !== 'string') throw new Error(`${file}:${i + 1}: addFILE needs a file name`)
        items.push({ kind: 'addFile', name: data })
        break
      default: {
        // failJSON: the next line, whatever it looks like, is the tested one.
        i++
        if (i >= lines.length) throw new Error(`${file}:${i}: failJSON without a following line`)
        items.push({ kind: 'line', lineno: i + 1, line: lines[i]!.replace(/\r$/, ''), expected: data as FailData })
      }
    }
  }
  return items
}

function toOptions(data: unknown, file: string, lineno: number): Options {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${file}:${lineno}: options must be a JSON object`)
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v)]))
}

/**
 * Evaluates the Python expressions sample files use in `test.condition` and `constraint`:
 * comparisons of `name` or `opts.get('key')` with a quoted string, joined by `and` / `or`.
 * Anything else is refused rather than guessed.
 */
export function evalCondition(expr: string, env: { name: string; opts: Options }): boolean {
  const orParts = expr.split(/\s+or\s+/)
  return orParts.some((part) => part.split(/\s+and\s+/).every((cmp) => evalComparison(cmp.trim(), env, expr)))
}

const COMPARISON = /^(name|opts\.get\((['"])([\w.-]+)\2\))\s*(==|!=)\s*(['"])(.*)\5$/

function evalComparison(cmp: string, env: { name: string; opts: Options }, expr: string): boolean {
  const m = COMPARISON.exec(cmp)
  if (!m) throw new Error(`unsupported condition expression: ${expr}`)
  const left = m[1] === 'name' ? env.name : env.opts[m[3]!]
  return (left === m[6]) === (m[4] === '==')
}

/**
 * A failJSON time ("2005-08-14T12:00:00", optionally with microseconds) read on the zone's clock.
 * samplestestcase reads it with strptime's "%Y-%m-%dT%H:%M:%S" (then ".%f"), which takes one or two
 * digits for each field after the year and up to six after the point: fail2ban's own samples hold
 * "2005-03-7T02:09:33".
 */
export function failJsonTime(text: string, timezone: string): number {
  const m = /^(\d{4})-(\d\d?)-(\d\d?)T(\d\d?):(\d\d?):(\d\d?)(?:\.(\d{1,6}))?$/.exec(text)
  if (!m) throw new Error(`failJSON time is not YYYY-MM-DDTHH:MM:SS[.ffffff]: ${text}`)
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  // Python's datetime refuses what Date.UTC would roll over (Feb 30, 24:00, :60).
  if (at.getUTCMonth() !== mo - 1 || at.getUTCDate() !== d || at.getUTCHours() !== h || at.getUTCMinutes() !== mi || at.getUTCSeconds() !== s) {
    throw new Error(`failJSON time is no time of the calendar: ${text}`)
  }
  const wall = at.getTime() / 1000 + (m[7] ? Number(`0.${m[7]}`) : 0)
  return parseTimeZone(timezone).wallToEpoch(wall)
}
