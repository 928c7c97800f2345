// Which templates a `datepattern` value stands for (fail2ban's datedetector.py
// DateDetectorCache, _getPatternTemplate, appendTemplate, addDefaultTemplate).
import { DatePatternError } from './date-regex.js'
import { loadDateAnalyses } from './regex-analyses.js'
import {
  LINE_BEGIN, RE_EPOCH_PATTERN, epochTemplate, patternTemplate, tai64nTemplate, unboundPattern,
  type DateTemplate,
} from './date-pattern.js'

/** fail2ban's default date templates, in its order (DateDetectorCache.DEFAULT_TEMPLATES). */
export const DEFAULT_DATE_PATTERNS: readonly string[] = [
  // ISO 8601 and simple dates, optional fraction and zone: 2005-01-23T21:59:59.981746, 2005/01/23 21:59:59, 2006.12.21 06:43:20
  String.raw`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
  // asctime with optional day, fraction and year: Sun Jan 23 21:59:59.011 2005, syslog's Jan 23 21:59:59
  String.raw`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  // the same with the year before the time: Sun Jan 23 2005 21:59:59.011
  String.raw`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
  // 23/01/2005 21:59:59, 23/01/05 21:59:59, 17-07-2008 17:23:25
  String.raw`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
  // apache [31/Oct/2006:09:22:55 -0000], 26-Jul-2007 15:20:52.252 +0200
  String.raw`%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
  // CPanel 05/20/2008:01:57:39
  String.raw`%m/%d/%ExY:%H:%M:%S`,
  // 01-27-2012 16:22:44.252
  String.raw`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
  'EPOCH',
  // time only
  String.raw`{^LN-BEG}%H:%M:%S`,
  // <09/16/08@05:03:30>
  String.raw`^<%m/%d/%Exy@%H:%M:%S>`,
  // MySQL 130322 11:46:11
  String.raw`%Exy%Exm%Exd  ?%H:%M:%S`,
  // Apache Tomcat: Jan 23, 2005 9:59:59 PM
  String.raw`%b %d, %ExY %I:%M:%S %p`,
  // ASSP: Apr-27-13 02:33:06
  String.raw`^%b-%d-%Exy %k:%M:%S`,
  // 20050123T215959, 20050123 215959, 20050123  85959
  String.raw`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
  // zone name first (monit): PDT Apr 16 21:05:29
  String.raw`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  // offset first: +00:00 Jan 23 21:59:59.011 2005
  String.raw`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  'TAI64N',
]

const cache = new Map<string, DateTemplate>()

/** fail2ban's _getPatternTemplate: the template of one pattern, shared like fail2ban's pattern cache. */
export function templateFor(pattern: string, year: number, key = pattern.includes('%') ? pattern : pattern.toUpperCase()): DateTemplate {
  const cacheKey = `${year}\u0000${key}\u0000${pattern}`
  let t = cache.get(cacheKey)
  if (t === undefined) {
    t = buildTemplate(pattern, key, year)
    cache.set(cacheKey, t)
  }
  return t
}

function buildTemplate(pattern: string, key: string, year: number): DateTemplate {
  if (key.includes('EPOCH')) {
    if (RE_EPOCH_PATTERN.test(pattern)) return epochTemplate({ pattern, long: key.includes('LEPOCH') })
    if (key === 'EPOCH' || key === '{^LN-BEG}EPOCH' || key === '^EPOCH') return epochTemplate({ lineBegin: key !== 'EPOCH' })
    if (key === 'LEPOCH' || key === '{^LN-BEG}LEPOCH' || key === '^LEPOCH') {
      return epochTemplate({ lineBegin: key !== 'LEPOCH', long: true })
    }
  }
  if (key === 'TAI64N' || key === '{^LN-BEG}TAI64N' || key === '^TAI64N') return tai64nTemplate(key !== 'TAI64N')
  return patternTemplate(pattern, year)
}

/** The 17 default templates. */
export function baseDefaultTemplates(year: number): DateTemplate[] {
  return DEFAULT_DATE_PATTERNS.map((p) => templateFor(p, year))
}

/**
 * The full default list: first a line-begin anchored copy (weight 100) of each
 * default that is not anchored already, then the defaults themselves.
 */
export function defaultTemplates(year: number): DateTemplate[] {
  const anchored: DateTemplate[] = []
  const base = baseDefaultTemplates(year)
  for (const t of base) {
    if (t.name.startsWith('{^LN-BEG}') || t.name.startsWith('^')) continue
    const a = t.pattern === undefined ? templateFor('{^LN-BEG}' + t.name, year) : templateFor('{^LN-BEG}' + t.pattern, year)
    if (a.name === t.name) continue
    a.weight = 100
    anchored.push(a)
  }
  return [...anchored, ...base]
}

const RE_DATE_PREMATCH = /(?<!\\)\{DATE\}/gi

/**
 * The templates of a `datepattern` value (undefined = fail2ban's defaults). Each
 * non-empty line is one entry: `{^LN-BEG}` (the line-begin anchored defaults),
 * `{DEFAULT}`, a pattern containing `{DATE}` (every default placed there),
 * `{NONE}` (no date), `EPOCH`/`LEPOCH`/`TAI64N` (optionally `{^LN-BEG}`-prefixed),
 * a pattern with `{EPOCH}`/`{LEPOCH}`, or a %-code / named-group regex pattern.
 */
export function templatesForDatepattern(datepattern: string | undefined, year: number): readonly DateTemplate[] {
  // Every (filter, stream) has its own detector, made from the same few lists.
  const key = `${year}\u0000${datepattern ?? '\u0000'}`
  let list = lists.get(key)
  if (list === undefined) {
    loadDateAnalyses()
    list = datepattern === undefined ? defaultTemplates(year) : patternTemplates(datepattern, year)
    lists.set(key, list)
  }
  return list
}

const lists = new Map<string, readonly DateTemplate[]>()

function patternTemplates(datepattern: string, year: number): DateTemplate[] {
  const list: DateTemplate[] = []
  const names = new Set<string>()
  const append = (t: DateTemplate, ignoreDup: boolean) => {
    if (names.has(t.name)) {
      if (ignoreDup) return
      throw new DatePatternError(`There is already a template with name ${t.name}`)
    }
    names.add(t.name)
    list.push(t)
  }
  const lines = datepattern.split(/\n+/).map((l) => l.trim()).filter((l) => l !== '')
  for (const pattern of lines) {
    const key = pattern.includes('%') ? pattern : pattern.toUpperCase()
    if (key === '{^LN-BEG}' || key === '{DEFAULT}') {
      const ignoreDup = list.length > 0
      for (const t of defaultTemplates(year)) {
        if (key === '{^LN-BEG}' && !(t.flags & LINE_BEGIN)) continue
        append(t, ignoreDup)
      }
    } else if (key.includes('{DATE}')) {
      const ignoreDup = list.length > 0
      for (const t of baseDefaultTemplates(year)) {
        // fail2ban would place the *names* "Epoch"/"TAI64N" into {DATE}: templates
        // matching those literal words, never a date. They are left out.
        if (t.pattern === undefined) continue
        const wrapped = pattern.replace(RE_DATE_PREMATCH, () => unboundPattern(t.pattern!))
        append(templateFor(wrapped, year), ignoreDup)
      }
    } else if (key === '{NONE}') {
      append({ ...templateFor('{UNB}^', year, key), name: '{NONE}' }, false)
    } else {
      append(templateFor(pattern, year, key), false)
    }
  }
  if (list.length === 0) throw new DatePatternError('empty datepattern')
  return list
}
