// One date template: a fail2ban datepattern (strptime %-codes inside a Python
// regex) turned into a compiled matcher, with the word/line boundaries and the
// date group fail2ban's datetemplate.py adds (DateTemplate.setRegex,
// DatePatternRegex, DateEpoch, DateTai64n).
import RE2 from 're2'
import {
  DatePatternError, Matcher, isWordByte, parseRegex, toRe2Source,
  type Assertion, type Node, type ParsedRegex,
} from './date-regex.js'
import { analysis } from './regex-analyses.js'

/** Template flags, as fail2ban's DateTemplate defines them. */
export const LINE_BEGIN = 8
export const LINE_END = 4
export const WORD_BEGIN = 2
export const WORD_END = 1

/** How a matched date becomes a time: strptime fields, seconds since the epoch, or a TAI64N label. */
export type TemplateKind = 'pattern' | 'epoch' | 'long-epoch' | 'tai64n'

export interface FieldSpec {
  /** strptime key, e.g. 'Y', 'b', 'H', 'z'. */
  readonly key: string
  readonly group: number
}

export interface DateTemplate {
  /** fail2ban's template name, e.g. `{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\.Microseconds)?(?: ExYear)?`. */
  readonly name: string
  /** The %-code pattern it was built from; undefined for Epoch and TAI64N. */
  readonly pattern: string | undefined
  /** The regex as fail2ban would compile it (boundaries as lookarounds), for diagnostics. */
  readonly regex: string
  readonly flags: number
  /** Preference in reordering: 100 for the line-begin variants of the defaults, else 1. */
  weight: number
  readonly kind: TemplateKind
  /** Group holding the epoch digits or the TAI64N label (kind != 'pattern'). */
  readonly valueGroup: number
  /** strptime fields captured by the pattern, in group order (kind == 'pattern'). */
  readonly fields: readonly FieldSpec[]
  /** Group of %p (AM/PM), read with %I; 0 when the pattern has none. */
  readonly ampmGroup: number
  readonly matcher: Matcher
  /**
   * Linear-time prefilter giving the leftmost candidate start; null when anchored at offset 0.
   * Compiled on first use: a detector holds some 30 templates and a log uses one or two.
   */
  readonly re2: (() => RE2) | null
  /** The prefilter as RE2 source with its flags inline, for a detector's RE2.Set of all templates. */
  readonly re2Source: string
}

// ---- strptime codes ------------------------------------------------------------

const A_WEEKDAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
const F_WEEKDAY = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']
const A_MONTH = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const F_MONTH = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september',
  'october', 'november', 'december']

function seqToRe(items: string[], key: string): string {
  return `(?P<${key}>${[...items].sort((a, b) => b.length - a.length).join('|')})`
}

/** Python's _strptime.TimeRE for the C locale, before fail2ban's changes. */
function pythonTimeRe(): Map<string, string> {
  const t = new Map<string, string>([
    ['d', String.raw`(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])`],
    ['f', String.raw`(?P<f>[0-9]{1,6})`],
    ['H', String.raw`(?P<H>2[0-3]|[0-1]\d|\d)`],
    ['I', String.raw`(?P<I>1[0-2]|0[1-9]|[1-9])`],
    ['G', String.raw`(?P<G>\d\d\d\d)`],
    ['j', String.raw`(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])`],
    ['m', String.raw`(?P<m>1[0-2]|0[1-9]|[1-9])`],
    ['M', String.raw`(?P<M>[0-5]\d|\d)`],
    ['S', String.raw`(?P<S>6[0-1]|[0-5]\d|\d)`],
    ['U', String.raw`(?P<U>5[0-3]|[0-4]\d|\d)`],
    ['w', String.raw`(?P<w>[0-6])`],
    ['u', String.raw`(?P<u>[1-7])`],
    ['V', String.raw`(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)`],
    ['y', String.raw`(?P<y>\d\d)`],
    ['Y', String.raw`(?P<Y>\d\d\d\d)`],
    ['z', String.raw`(?P<z>[+-]\d\d:?[0-5]\d(:?[0-5]\d(\.\d{1,6})?)?|Z)`],
    ['A', seqToRe(F_WEEKDAY, 'A')],
    ['a', seqToRe(A_WEEKDAY, 'a')],
    ['B', seqToRe(F_MONTH, 'B')],
    ['b', seqToRe(A_MONTH, 'b')],
    ['p', seqToRe(['am', 'pm'], 'p')],
    ['Z', seqToRe(['utc', 'gmt'], 'Z')],
    ['%', '%'],
  ])
  t.set('W', t.get('U')!.replace('U', 'W'))
  // The C locale's %c, %x and %X, expanded as _strptime's TimeRE.pattern() does.
  const expand = (fmt: string) =>
    fmt.replace(/\s+/g, String.raw`\s+`).replace(/%(.)/g, (_, k: string) => t.get(k)!)
  t.set('c', expand('%a %b %d %H:%M:%S %Y'))
  t.set('x', expand('%m/%d/%y'))
  t.set('X', expand('%H:%M:%S'))
  return t
}

const TZ_ABBR_RE = '[A-Z](?:[A-Z]{2,4})?'

/**
 * Three-digit year prefixes from 2000 to three years past `year`, grouped like
 * fail2ban's _getYearCentRE (e.g. `20[0-2]`), for %ExY.
 */
export function yearCenturyRe(year: number): string {
  const set = new Set<string>()
  for (let y = Math.min(2000, year - 1); y <= year + 3; y++) set.add(String(y).slice(0, 3))
  const grp = (items: string[]): string => {
    if (items.length === 1) return items[0]!
    let c: string | null = null
    for (const i of items) {
      const p = i.slice(0, -1)
      if (c === null || p === c) c = p
      else { c = null; break }
    }
    if (!c) {
      for (const i of items) {
        if (c === null || i[0] === c) c = i[0]!
        else { c = null; break }
      }
    }
    if (c) return c + grp(items.map((i) => i.slice(c!.length)))
    return items[0]!.length > 1 ? `(?:${items.join('|')})` : `[${items.join('')}]`
  }
  return grp([...set].sort())
}

const timeRes = new Map<number, ReadonlyMap<string, string>>()

/**
 * fail2ban's timeRE: Python's plus %k %l %Ex* and the changed %d %m %Y %H %M %S %z %Z. One table a
 * year serves every template: a detector's 31 defaults each built it anew, 5 ms of a start-up.
 */
export function timeRe(year: number): ReadonlyMap<string, string> {
  let t = timeRes.get(year)
  if (t === undefined) {
    t = buildTimeRe(year)
    timeRes.set(year, t)
  }
  return t
}

function buildTimeRe(year: number): Map<string, string> {
  const t = pythonTimeRe()
  const set = (k: string, v: string) => t.set(k, v)
  set('k', String.raw` ?(?P<H>[0-2]?\d)`)
  set('l', String.raw` ?(?P<I>1?\d)`)
  set('Z', String.raw`(?P<Z>Z|[A-Z]{3,5})`)
  set('z', String.raw`(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)`)
  set('ExZ', `(?P<Z>${TZ_ABBR_RE})`)
  set('Exz', String.raw`(?P<z>(?:${TZ_ABBR_RE})?[+-][01]\d(?::?\d{2})?|${TZ_ABBR_RE})`)
  set('d', String.raw`(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])`)
  set('m', String.raw`(?P<m>0?[1-9]|1[0-2])`)
  set('Y', String.raw`(?P<Y>\d{4})`)
  set('H', String.raw`(?P<H>[0-1]?\d|2[0-3])`)
  set('M', String.raw`(?P<M>[0-5]?\d)`)
  set('S', String.raw`(?P<S>[0-5]?\d|6[0-1])`)
  set('Exd', String.raw`(?P<d>[1-2]\d|0[1-9]|3[0-1])`)
  set('Exm', String.raw`(?P<m>0[1-9]|1[0-2])`)
  set('ExH', String.raw`(?P<H>[0-1]\d|2[0-3])`)
  set('Exk', String.raw` ?(?P<H>[0-1]?\d|2[0-3])`)
  set('Exl', String.raw` ?(?P<I>1[0-2]|\d)`)
  set('ExM', String.raw`(?P<M>[0-5]\d)`)
  set('ExS', String.raw`(?P<S>[0-5]\d|6[0-1])`)
  set('ExY', String.raw`(?P<Y>${yearCenturyRe(year)}\d)`)
  set('Exy', String.raw`(?P<y>\d{2})`)
  return t
}

const CODE_NAMES: Record<string, string> = {
  a: 'DAY', A: 'DAYNAME', b: 'MON', B: 'MONTH', d: 'Day', H: '24hour', I: '12hour', j: 'Yearday',
  m: 'Month', M: 'Minute', p: 'AMPM', S: 'Second', U: 'Yearweek', w: 'Weekday', W: 'Yearweek',
  y: 'Year2', Y: 'Year', '%': '%', z: 'Zone offset', f: 'Microseconds', Z: 'Zone name',
}

function codeName(key: string): string {
  const n = CODE_NAMES[key]
  if (n !== undefined) return n
  if (key.startsWith('Ex') && CODE_NAMES[key.slice(2)] !== undefined) return 'Ex' + CODE_NAMES[key.slice(2)]
  return '%' + key
}

const STRPTIME_KEYS = new Set(['y', 'Y', 'm', 'B', 'b', 'd', 'H', 'I', 'M', 'S', 'A', 'a', 'w', 'j', 'U', 'W', 'z', 'Z'])

// ---- fail2ban's pattern rewriting (datetemplate.py) --------------------------------

const RE_GROUPED = /(?<!(?:\(\?))(?<!\\)\((?!\?)/
const RE_GROUP = /^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$/
const RE_GLOBALFLAGS = /\(\?[a-z]+\)/
const RE_EXLINE_NO_BOUNDS = /^\{UNB\}/
const RE_EXLINE_BOUND_BEG = /^\{\^LN-BEG\}/
const RE_EXSANC_BOUND_BEG = /^\((?:\?:)?\^\|\\b\|\\W\)/
const RE_EXEANC_BOUND_BEG = /\(\?=\\b\|\\W\|\$\)$/
const RE_NO_WRD_BOUND_BEG = /^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)/
const RE_NO_WRD_BOUND_END = /(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$/
const RE_DEL_WRD_BOUNDS = /^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$/g
const RE_LINE_BOUND_BEG = /^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))/
const RE_LINE_BOUND_END = /(?<![\\|])(?:\$\)?)$/
const RE_ALPHA_PATTERN = /(?<!%)%[aAbBpc]/
export const RE_EPOCH_PATTERN = /(?<!\\)\{L?EPOCH\}/i

const WORD_BEGIN_TEXT = String.raw`(?=^|\b|\W)`
const WORD_END_TEXT = String.raw`(?=\b|\W|$)`

/** fail2ban's word boundaries (?=^|\b|\W) and (?=\b|\W|$) both fail only between two word characters. */
const notInsideWord: Assertion = (s, i, len) => i === 0 || i >= len || !isWordByte(s[i - 1]!) || !isWordByte(s[i]!)

/** Strips the boundaries a template adds, so a pattern can be placed inside {DATE}. */
export function unboundPattern(pattern: string): string {
  return pattern.replace(RE_EXLINE_NO_BOUNDS, '').replace(RE_EXLINE_BOUND_BEG, '')
    .replace(RE_EXSANC_BOUND_BEG, '').replace(RE_EXEANC_BOUND_BEG, '')
}

type WordBegin = boolean | 'start'

interface Bounded {
  name: string
  flags: number
  regex: string
  /** What was parsed, and the word boundaries put around it (assertions of the exact matcher). */
  source: string
  assertBegin: boolean
  boundEnd: boolean
  parsed: ParsedRegex
}

/** DateTemplate.setRegex: date group, word or line-begin boundaries, `**` markers, global flags. */
function bound(regexIn: string, begin: WordBegin, end: boolean, nameIn: string): Bounded {
  let regex = regexIn.trim()
  let name = nameIn
  const gf = RE_GLOBALFLAGS.exec(regex)
  if (gf) regex = regex.replace(RE_GLOBALFLAGS, '')
  const boundBegin = begin !== false && !RE_NO_WRD_BOUND_BEG.test(regex)
  const boundEnd = end && !RE_NO_WRD_BOUND_END.test(regex)
  if (!RE_GROUPED.test(regex)) regex = regex.replace(RE_GROUP, '$1($2)$3')
  let flags = 0
  let assertBegin = false
  if (boundBegin) {
    if (begin !== 'start') {
      flags |= WORD_BEGIN
      assertBegin = true
    } else {
      flags |= LINE_BEGIN
      regex = String.raw`^(?:\W{0,2})?` + regex
      if (!name.startsWith('{^LN-BEG}')) name = '{^LN-BEG}' + name
    }
  }
  if (boundEnd) flags |= WORD_END
  const full = (assertBegin ? WORD_BEGIN_TEXT : '') + regex + (boundEnd ? WORD_END_TEXT : '')
  if (!(flags & LINE_BEGIN) && RE_LINE_BOUND_BEG.test(full)) flags |= LINE_BEGIN
  if (!(flags & LINE_END) && RE_LINE_BOUND_END.test(full)) flags |= LINE_END
  regex = regex.replace(RE_DEL_WRD_BOUNDS, (m) => m.replaceAll('**', ''))
  const flagText = gf ? gf[0] : ''
  const source = flagText + regex
  const parsed = parseRegex(source)
  const items: Node[] = []
  if (assertBegin) items.push({ t: 'assert', test: notInsideWord })
  items.push(parsed.root)
  if (boundEnd) items.push({ t: 'assert', test: notInsideWord })
  parsed.root = { t: 'seq', items }
  const shown = flagText + (assertBegin ? WORD_BEGIN_TEXT : '') + regex + (boundEnd ? WORD_END_TEXT : '')
  return { name, flags, regex: shown, source, assertBegin, boundEnd, parsed }
}

function finish(b: Bounded, pattern: string | undefined, kind: TemplateKind, valueGroup: number, re2Source = toRe2Source(b.parsed)): DateTemplate {
  if (b.parsed.groupCount < Math.max(1, valueGroup)) {
    throw new DatePatternError(`datepattern ${JSON.stringify(pattern ?? b.name)} has no date group`)
  }
  const fields: FieldSpec[] = []
  if (kind === 'pattern') {
    for (const [key, group] of b.parsed.groupNames) if (STRPTIME_KEYS.has(key)) fields.push({ key, group })
    fields.sort((x, y) => x.group - y.group)
  }
  const matcher = new Matcher(b.parsed)
  return {
    name: b.name, pattern, regex: b.regex, flags: b.flags, weight: 1, kind, valueGroup, fields,
    ampmGroup: kind === 'pattern' ? b.parsed.groupNames.get('p') ?? 0 : 0, matcher,
    re2: matcher.anchored ? null : once(() => new RE2(re2Source, b.parsed.ignoreCase ? 'iu' : 'u')),
    re2Source: (b.parsed.ignoreCase ? '(?i)' : '') + re2Source,
  }
}

const PATTERN_CODE = /%(%|Ex[dmHklMSYyZz]|[a-zA-Z])/g

/** A datepattern with strptime %-codes (or a plain regex with named groups), as DatePatternRegex. */
export function patternTemplate(patternIn: string, year: number, begin: WordBegin = true, end = true): DateTemplate {
  let pattern = patternIn
  if (RE_EXLINE_NO_BOUNDS.test(pattern)) {
    pattern = pattern.replace(RE_EXLINE_NO_BOUNDS, '')
    begin = false
    end = false
  }
  if (begin !== false && RE_EXLINE_BOUND_BEG.test(pattern)) {
    pattern = pattern.replace(RE_EXLINE_BOUND_BEG, '')
    begin = 'start'
  }
  const codes = timeRe(year)
  let name = ''
  let regex = ''
  let last = 0
  const literal = (text: string) => {
    if (text.includes('%')) {
      throw new DatePatternError(`unescaped percent char in datepattern ${JSON.stringify(patternIn)}`)
    }
    name += text
    regex += text
  }
  for (const m of pattern.matchAll(PATTERN_CODE)) {
    literal(pattern.slice(last, m.index))
    const code = codes.get(m[1]!)
    if (code === undefined) {
      throw new DatePatternError(`unknown format code %${m[1]} in datepattern ${JSON.stringify(patternIn)}`)
    }
    name += codeName(m[1]!)
    regex += code
    last = m.index! + m[0].length
  }
  literal(pattern.slice(last))
  if (RE_ALPHA_PATTERN.test(pattern)) regex = '(?iu)' + regex
  const b = bound(regex, begin, end, name)
  // The RE2 form is a function of the text parsed and its boundaries, and most of a template's cost:
  // the build works it out for the built-in filters' patterns (see regex-analyses.ts).
  const re2Source = analysis('date-re2-source', [b.source, String(b.assertBegin), String(b.boundEnd)], () => toRe2Source(b.parsed))
  return finish(b, patternIn, 'pattern', 1, re2Source)
}

const EPOCH_RE = String.raw`\d{10,11}\b(?:\.\d{3,6})?`
const LONG_EPOCH_RE = String.raw`\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`

/**
 * DateEpoch. Its default form accepts the number at line start, right after a
 * leading `[`, or inside `audit(`; fail2ban writes these as lookbehinds, here
 * they are assertions of the exact matcher. (fail2ban's trailing conditionals
 * `(?(square)...)` never reject a match, so they are left out.)
 */
export function epochTemplate(opts: { long?: boolean; lineBegin?: boolean; pattern?: string }): DateTemplate {
  const kind: TemplateKind = opts.long ? 'long-epoch' : 'epoch'
  const epochRe = opts.long ? LONG_EPOCH_RE : EPOCH_RE
  const baseName = opts.pattern ?? (opts.long ? 'LongEpoch' : 'Epoch')
  if (opts.pattern !== undefined) {
    let regex = opts.pattern.replace(new RegExp(RE_EPOCH_PATTERN.source, 'gi'), `(${epochRe})`)
    if (!RE_GROUPED.test(opts.pattern)) regex = '(' + regex + ')'
    return finish(bound(regex, true, true, baseName), opts.pattern, kind, 2)
  }
  if (opts.lineBegin) return finish(bound(`(${epochRe})`, 'start', true, baseName), undefined, kind, 1)
  const b = bound(`(${epochRe})`, false, true, baseName)
  const afterSquare: Assertion = (s, i) => i === 1 && s[0] === 0x5b
  const afterAudit: Assertion = (s, i) =>
    i >= 6 && s[i - 1] === 0x28 && s[i - 2] === 0x74 && s[i - 3] === 0x69 && s[i - 4] === 0x64 &&
    s[i - 5] === 0x75 && s[i - 6] === 0x61 && (i === 6 || !isWordByte(s[i - 7]!))
  const seq = b.parsed.root as Extract<Node, { t: 'seq' }>
  const group = seq.items[0] as Extract<Node, { t: 'group' }>
  group.body = { t: 'seq', items: [{ t: 'alt', alts: [{ t: 'bol' }, { t: 'assert', test: afterSquare }, { t: 'assert', test: afterAudit }] }, group.body] }
  b.regex = String.raw`((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))` + epochRe + ')' + WORD_END_TEXT
  return finishEpochDefault(b, kind)
}

function finishEpochDefault(b: Bounded, kind: TemplateKind): DateTemplate {
  const t = finish(b, undefined, kind, 1)
  // The prefilter cannot see the lookbehinds: let it take the '[' or 'audit(' before the number.
  const re2Source = String.raw`(?:^\[?|\baudit\()` + (kind === 'epoch' ? EPOCH_RE : LONG_EPOCH_RE)
  return { ...t, re2: once(() => new RE2(re2Source, 'u')), re2Source }
}

/** DateTai64n: `@` and 24 hex digits. */
export function tai64nTemplate(lineBegin: boolean): DateTemplate {
  return finish(bound('@[0-9a-f]{24}', lineBegin ? 'start' : false, true, 'TAI64N'), undefined, 'tai64n', 1)
}

function once<T>(make: () => T): () => T {
  let value: T | undefined
  return () => value ??= make()
}
