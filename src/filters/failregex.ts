import { isAscii } from 'node:buffer'
import RE2 from 're2'
import { analysis } from './regex-analyses.js'
import { splitAlternatives } from './regex-alternatives.js'
import { openTail } from './regex-open-tail.js'
import { parseRegexTree, programSizeBound, RE2_SAFE_INSTRUCTIONS, requiredCaptures } from './regex-tree.js'
import { translateRegex, type RegexGroup, type Translation } from './regex-translate.js'
import { UnsupportedConstructError } from './unsupported-construct-error.js'

type RE2Set = InstanceType<typeof RE2.Set>

/**
 * fail2ban's failregex (fail2ban/server/failregex.py) on RE2: the `<HOST>`,
 * `<ADDR>`, `<F-...>` and `<SKIPLINES>` tags expanded exactly as
 * Regex._resolveHostTag does, then the Python pattern translated to RE2.
 */

export interface FailRegexOptions {
  /** fail2ban's `usedns`: with 'no', `<HOST>` only matches addresses (the `<ADDR>` form). */
  useDns?: 'yes' | 'warn' | 'no' | 'raw'
  /** maxlines > 1: the regex runs over several lines joined by "\n", with `^`/`$` at every line (re.MULTILINE). */
  multiline?: boolean
}

export interface FailRegexMatch {
  /** Byte offsets of the match in the searched buffer. */
  start: number
  end: number
  /** Participating named groups by fail2ban's field name, UTF-8 decoded. */
  fields: Record<string, string>
}

const IP_4_RE = String.raw`(?:\d{1,3}\.){3}\d{1,3}`
// fail2ban ends this with `(?:[0-9a-fA-F]{1,4}|(?<=:):)`. Every alternative of the repeated group ends
// in ':', so the lookbehind always holds and a plain ':' is the same language.
const IP_6_RE = String.raw`(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)`

const R_IPV4 = String.raw`(?:::f{4,6}:)?(?P<ip4>${IP_4_RE})`
const R_IPV6 = String.raw`(?P<ip6>${IP_6_RE})`
const R_DNS = String.raw`(?P<dns>[\w\-.^_]*\w)`
const R_CIDR = String.raw`(?P<cidr>\d+)`
const R_ADDR = String.raw`\[?(?:${R_IPV4}|${R_IPV6})\]?`
const R_HOST = String.raw`(?:${R_ADDR}|${R_DNS})`
const R_SUBNET = String.raw`\[?(?:${R_IPV4}|${R_IPV6})(?:/${R_CIDR})?\]?`

/** fail2ban's RH4TAG: tags with a fixed replacement. */
const TAG_REPLACEMENTS: Record<string, string> = {
  IP4: R_IPV4,
  'F-IP4/': R_IPV4,
  IP6: R_IPV6,
  'F-IP6/': R_IPV6,
  ADDR: R_ADDR,
  'F-ADDR/': R_ADDR,
  CIDR: R_CIDR,
  'F-CIDR/': R_CIDR,
  SUBNET: R_SUBNET,
  'F-SUBNET/': R_SUBNET,
  DNS: R_DNS,
  'F-DNS/': R_DNS,
  'F-ID/': String.raw`(?P<fid>\S+)`,
  'F-PORT/': String.raw`(?P<fport>\w+)`,
}

/** fail2ban's R_MAP: custom tags whose group has another name. */
const TAG_GROUP_NAMES: Record<string, string> = { id: 'fid', port: 'fport' }

// FTAG_CRE and FCUSTNAME_CRE; `\w` as Python's Unicode word class.
const TAG = /<\/?[\p{L}\p{N}_-]+\/?>/gu
const CUSTOM_TAG = /^(\/?)F-([A-Z0-9_-]+)$/
// R_GLOB2LOCFLAGS: `((?i)...)` and `(?:(?i)...)` become the scoped `(?i:...)`.
const GLOBAL_TO_LOCAL_FLAGS = /(?<!\\)\((?:\?:)?(\(\?[a-z]+)\)/g
// COMPLNAME_CRE: `alt_user_1` and `alt_user` are alternatives for `user`.
const ALT_NAME = /^alt_(.*?)(?:_\d+)?$/

/** fail2ban's mapTag2Opt. */
function groupNameOf(tag: string): string {
  const lower = tag.toLowerCase()
  return TAG_GROUP_NAMES[lower] ?? lower
}

/** fail2ban's Regex._resolveHostTag. */
export function resolveTags(pattern: string, useDns: FailRegexOptions['useDns'] = 'yes'): string {
  const opened = new Set<string>()
  let skipLines = 0
  return pattern.replace(TAG, (tag) => {
    const name = tag.slice(1, -1)
    if (name === 'HOST') return useDns === 'no' ? R_ADDR : R_HOST
    if (name === 'SKIPLINES') return String.raw`\n(?P<skiplines${skipLines++}>(?:(?:.*\n)*?))`
    const fixed = TAG_REPLACEMENTS[name]
    if (fixed !== undefined) return fixed
    const custom = CUSTOM_TAG.exec(name)
    if (custom === null) return tag
    const [, close, customName] = custom as unknown as [string, string, string]
    if (close !== '') return opened.has(customName) ? ')' : tag
    opened.add(customName)
    return `(?P<${groupNameOf(customName)}>`
  })
}

export class FailRegex {
  private constructor(
    /** The regex as written in the filter (with fail2ban tags). */
    readonly pattern: string,
    /** The RE2 source actually compiled. */
    readonly source: string,
    /**
     * The relaxed form for an RE2.Set prefilter (see Translation.prefilterSource): matches every
     * string that contains a string `source` matches, so it never rejects a line this regex accepts.
     */
    readonly prefilterSource: string,
    /** The Unicode form, when compiled at load time (see mayOutgrowRe2); else on the first non-ASCII text. */
    private unicode: RE2 | undefined,
    /** The ASCII capture form (see Translation.asciiSource), also the cheaper test() on ASCII text. */
    private readonly ascii: RE2,
    /** What the extraction is built from, on the first exec(): most regexes of a filter never match a line. */
    private readonly forms: { flags: string; captureSource: string; asciiSource: string; singleLine: boolean },
    private readonly groups: readonly RegexGroup[],
    /** (alt group, target field) pairs merged as fail2ban's _getGroupsWithAlt does, sorted as it sorts them. */
    private readonly alternatives: readonly (readonly [string, string])[],
  ) {}

  /** Throws UnsupportedConstructError for regexes RE2 cannot run with the same meaning. */
  static compile(pattern: string, opts: FailRegexOptions = {}): FailRegex {
    const resolved = resolveTags(pattern, opts.useDns ?? 'yes')
    if (resolved.trim() === '') throw new UnsupportedConstructError('empty regex', pattern)
    const translation = translate(resolved.replace(GLOBAL_TO_LOCAL_FLAGS, '$1:'), pattern)
    const flags = opts.multiline ? '(?m)' : ''
    const source = flags + translation.source
    const ascii = compileRe2(`${flags}(${translation.asciiSource})`, pattern)
    // The two forms are the same syntax but for their character classes, and the ASCII one compiled:
    // what RE2 could refuse in the Unicode one alone is a program over its size limit. That form
    // costs ~2 ms a <HOST> to compile (the word class is hundreds of UTF-8 ranges) and matters only
    // for non-ASCII text: it waits for its first such line unless it might be refused, which it
    // then is here.
    const unicode = mayOutgrowRe2(translation.source) ? compileRe2(source, pattern) : undefined
    const names = [...new Set(translation.groups.map(g => g.name))]
    // In a multi-line buffer `^` and `$` hold at every line: neither the start nor the rest of the line is one place.
    const forms = { flags, captureSource: translation.captureSource, asciiSource: translation.asciiSource, singleLine: !opts.multiline }
    return new FailRegex(pattern, source, translation.prefilterSource, unicode, ascii, forms, translation.groups, altPairs(names))
  }

  /**
   * How each form extracts groups: the Unicode one for any text, the ASCII one for ASCII text; null
   * when the regex can match the empty string, which split() would skip.
   */
  private extraction?: { unicode: Extractor; ascii: Extractor } | null

  private extractors(): NonNullable<FailRegex['extraction']> | null {
    if (this.extraction !== undefined) return this.extraction
    if (this.canMatchEmpty()) return this.extraction = null
    const { flags, captureSource, asciiSource, singleLine } = this.forms
    const form = (source: string, asciiText: boolean, compiled?: RE2) =>
      new Extractor(flags, source, this.groups, this.pattern, { singleLine, asciiText, ...(compiled ? { compiled } : {}) })
    return this.extraction = { unicode: form(captureSource, false), ascii: form(asciiSource, true, this.ascii) }
  }

  /**
   * Works out now what matching works out on a first match: the programs that extract groups, and
   * what they are read from (see regex-analyses.ts, whose build step records them this way).
   */
  prepare(): void {
    void this.forgets
    const extraction = this.extractors()
    if (extraction !== null) for (const extractor of [extraction.unicode, extraction.ascii]) extractor.prepare()
  }

  private forgetting?: 'helper' | 'success' | null

  /**
   * What every match of this regex is when it also forgets its connection (`<F-MLFFORGET>` takes
   * part in every match, and the connection is the prefregex's: no `<F-MLFID>` of its own): an
   * `<F-NOFAIL>` helper ('helper', sshd's `Received disconnect`), or an `<F-MLFGAINED>` success
   * ('success', sshd's `Accepted`); null otherwise. Such a match changes nothing when nothing is
   * cached for its connection, so its groups need not be extracted (see MatchOptions.countHelpers).
   */
  get forgets(): 'helper' | 'success' | null {
    if (this.forgetting !== undefined) return this.forgetting
    const names = new Set(this.groups.map((g) => g.name))
    const required = this.requiredFields()
    if (required === undefined || names.has('mlfid')) return this.forgetting = null
    if (!required.has('mlfforget')) return this.forgetting = null
    if (required.has('mlfgained')) return this.forgetting = 'success'
    return this.forgetting = required.has('nofail') && !names.has('mlfgained') ? 'helper' : null
  }

  /**
   * Whether some path through the regex consumes nothing (whatever its assertions say): the
   * prefilter drops assertions and keeps every path, so it matches "" exactly then.
   */
  canMatchEmpty(): boolean {
    return analysis('matches-empty', [this.prefilterSource], () => compileRe2(this.prefilterSource, this.pattern).test(''))
  }

  /** Whether the group of this field takes part in every match. */
  requires(field: string): boolean {
    return this.requiredFields()?.has(field) === true
  }

  private required?: Set<string> | null

  /** The fields whose groups take part in every match; undefined when the regex's shape cannot tell. */
  private requiredFields(): Set<string> | undefined {
    if (this.required === undefined) {
      const { captureSource } = this.forms
      const fields = analysis('required-groups', [captureSource, JSON.stringify(this.groups)], () => {
        const tree = parseRegexTree(captureSource)
        const nameOf = new Map(this.groups.map((g) => [g.re2Name, g.name]))
        return tree === undefined ? undefined : [...requiredCaptures(tree, (re2Name) => nameOf.get(re2Name) ?? re2Name)]
      })
      this.required = fields === undefined ? null : new Set(fields)
    }
    return this.required ?? undefined
  }

  /** Field names this regex can produce (fail2ban's groupindex), e.g. to check it names a host. */
  get fieldNames(): string[] {
    const names = new Set(this.groups.map(g => g.name))
    for (const [, target] of this.alternatives) names.add(target)
    return [...names]
  }

  /**
   * Searches a Buffer (UTF-8 bytes) as Python's `search` does: unanchored unless the regex anchors.
   * Pass single lines without their trailing newline. Offsets are byte offsets; fields are fail2ban's
   * group names (ip4, ip6, dns, cidr, fid, fport, user, alt_user1, mlfid, nofail, content,
   * skiplines0, ...) with the matched text; groups that did not participate are absent.
   */
  exec(input: Buffer): FailRegexMatch | null {
    const extraction = this.extractors()
    if (extraction === null) return this.execGroups(input)
    // split() on a string returns the captures as strings in one array: exec() on a Buffer makes a
    // Buffer per group and an object of them, which costs more than the match. A valid UTF-8 Buffer
    // (what matchableLine gives) decodes and re-encodes to the same bytes; ASCII decodes fastest as latin1.
    const ascii = isAscii(input)
    const program = (ascii ? extraction.ascii : extraction.unicode).program(input)
    if (program === null) return null
    const found = program.extract(input, ascii ? input.toString('latin1') : input.toString('utf8'))
    if (found === null) return null
    const { before, whole, values } = found
    const fields: Record<string, string> = {}
    // Duplicate names were renamed for RE2; the first group that took part supplies the field.
    for (let i = 0; i < values.length; i++) {
      const value = values[i]
      const name = program.groups[i]!.name
      if (value !== undefined && !(name in fields)) fields[name] = value
    }
    this.mergeAlternatives(fields)
    const start = ascii ? before.length : Buffer.byteLength(before)
    return { start, end: start + (ascii ? whole.length : Buffer.byteLength(whole)), fields }
  }

  test(input: Buffer): boolean {
    return (isAscii(input) ? this.ascii : this.re()).test(input)
  }

  private re(): RE2 {
    return this.unicode ??= compileRe2(this.source, this.pattern)
  }

  /** exec() for a regex that can match the empty string. */
  private execGroups(input: Buffer): FailRegexMatch | null {
    const m = this.re().exec(input)
    if (m === null) return null
    const fields: Record<string, string> = {}
    const captured = m.groups ?? {}
    for (const g of this.groups) {
      const value = captured[g.re2Name]
      if (value !== undefined && !(g.name in fields)) fields[g.name] = value.toString('utf8')
    }
    this.mergeAlternatives(fields)
    return { start: m.index, end: m.index + m[0].length, fields }
  }

  private mergeAlternatives(fields: Record<string, string>): void {
    for (const [alt, target] of this.alternatives) {
      const value = fields[alt]
      if (value && !fields[target]) fields[target] = value
    }
  }
}

/**
 * One capture form of a failregex and the programs that extract its groups most cheaply, each
 * compiled when first needed: the form split into its alternatives (regex-alternatives.ts), where an
 * RE2.Set names the ones an input matches and the first of them extracts; and each program with its
 * rest-of-line group cut short (regex-open-tail.ts), for inputs without a newline.
 */
class Extractor {
  private readonly whole: Program
  private alternatives?: { set: RE2Set; programs: Program[] } | null

  constructor(
    private readonly flags: string,
    private readonly source: string,
    private readonly groups: readonly RegexGroup[],
    private readonly pattern: string,
    private readonly opts: { singleLine: boolean; asciiText: boolean; compiled?: RE2 },
  ) {
    this.whole = new Program(flags, source, groups, pattern, opts, opts.compiled)
  }

  /** The program that extracts `input`'s groups, or null when `input` does not match. */
  program(input: Buffer): Program | null {
    const alternatives = this.split()
    if (alternatives === null) return this.whole
    let hits: number[]
    try {
      hits = alternatives.set.match(input)
    } catch {
      // RE2.Set has no fallback when its DFA runs out of memory; the whole regex has (BitState, NFA).
      return this.whole
    }
    if (hits.length === 0) return null
    let first = hits[0]!
    for (const h of hits) if (h < first) first = h
    return alternatives.programs[first]!
  }

  /** See FailRegex.prepare. */
  prepare(): void {
    for (const program of [this.whole, ...this.split()?.programs ?? []]) program.prepare()
  }

  private split(): NonNullable<Extractor['alternatives']> | null {
    if (this.alternatives !== undefined) return this.alternatives
    const source = this.source
    const alternatives = this.opts.singleLine ? analysis('alternatives', [source], () => splitAlternatives(source)) : undefined
    if (alternatives === undefined) return this.alternatives = null
    const byName = new Map(this.groups.map((g) => [g.re2Name, g]))
    return this.alternatives = {
      set: new RE2.Set(alternatives.map((a) => a.source), 'u'),
      programs: alternatives.map((a) => new Program(this.flags, a.source, a.groups.map((name) => byName.get(name)!), this.pattern, this.opts)),
    }
  }
}

/** One capture program: the regex as capture 1 and `groups` after it, for split(). */
class Program {
  private compiled?: RE2
  /** The program cut where the rest of the line begins, and the group the rest belongs to (-1: only the match). */
  private tail?: { regex: RE2; group: number } | null

  constructor(
    private readonly flags: string,
    private readonly source: string,
    readonly groups: readonly RegexGroup[],
    private readonly pattern: string,
    private readonly opts: { singleLine: boolean; asciiText: boolean },
    compiled?: RE2,
  ) {
    if (compiled !== undefined) this.compiled = compiled
  }

  /** The text before the match, the match, and each group's value (undefined: it took no part); null when it does not match. */
  extract(input: Buffer, text: string): { before: string; whole: string; values: (string | undefined)[] } | null {
    const n = this.groups.length
    const tail = input.indexOf(NEWLINE) < 0 ? this.openTail() : null
    if (tail === null) {
      const parts = this.regex().split(text, n + 2)
      if (parts.length < n + 2) return null
      return { before: parts[0]!, whole: parts[1]!, values: parts.slice(2) }
    }
    // The cut program stops where the rest of the line begins: the rest belongs to the match (and to its last group).
    const parts = tail.regex.split(text, n + 3)
    if (parts.length < n + 2) return null
    const rest = parts[n + 2] ?? ''
    const values = parts.slice(2, n + 2)
    if (tail.group >= 0) values[tail.group] += rest
    return { before: parts[0]!, whole: parts[1]! + rest, values }
  }

  /** See FailRegex.prepare. */
  prepare(): void {
    this.openTail()
  }

  private regex(): RE2 {
    return this.compiled ??= compileRe2(`${this.flags}(${this.source})`, this.pattern)
  }

  private openTail(): NonNullable<Program['tail']> | null {
    if (this.tail !== undefined) return this.tail
    // In a multi-line buffer `$` ends every line, not the text: only single lines have a rest of the line.
    const { source, opts: { asciiText } } = this
    const cut = this.opts.singleLine ? analysis('open-tail', [source, String(asciiText)], () => openTail(source, asciiText)) : undefined
    const group = cut?.group === undefined ? -1 : this.groups.findIndex((g) => g.re2Name === cut.group)
    if (cut === undefined || (cut.group !== undefined && group < 0)) return this.tail = null
    return this.tail = { regex: compileRe2(`${this.flags}(${cut.source})`, this.pattern), group }
  }
}

const NEWLINE = 0x0a

function translate(resolved: string, pattern: string): Translation {
  try {
    return analysis('translation', [resolved], () => translateRegex(resolved))
  } catch (err) {
    // Report the text the operator wrote, not the tag expansion.
    if (err instanceof UnsupportedConstructError) throw new UnsupportedConstructError(err.construct, pattern)
    throw err
  }
}

/** Whether RE2 may refuse `source` as too large: its tree's size bound says it might, or it has no tree. */
function mayOutgrowRe2(source: string): boolean {
  return analysis('outgrows-re2', [source], () => {
    const tree = parseRegexTree(source)
    return tree === undefined || programSizeBound(tree) > RE2_SAFE_INSTRUCTIONS
  })
}

function compileRe2(source: string, pattern: string): RE2 {
  try {
    return new RE2(source, 'u')
  } catch (err) {
    throw new UnsupportedConstructError(`invalid regex: ${(err as Error).message}`, pattern)
  }
}

/** fail2ban merges `alt_<name>` (optionally `_<n>`) into `<name>` when that is empty or missing. */
function altPairs(names: readonly string[]): (readonly [string, string])[] {
  const pairs: (readonly [string, string])[] = []
  for (const name of names) {
    if (name.length <= 'alt_'.length) continue
    const m = ALT_NAME.exec(name)
    if (m !== null) pairs.push([name, groupNameOf(m[1] as string)])
  }
  return pairs.sort(([a1, t1], [a2, t2]) => (a1 < a2 ? -1 : a1 > a2 ? 1 : t1 < t2 ? -1 : t1 > t2 ? 1 : 0))
}
