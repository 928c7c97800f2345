import { UnsupportedConstructError } from './unsupported-construct-error.js'

/**
 * Translates a Python `re` pattern (the dialect fail2ban filters are written
 * in) into RE2 syntax with the same meaning, or refuses it.
 *
 * Python semantics kept:
 * - `\d`, `\w`, `\s` (and negations) are Unicode-aware as in Python 3 str
 *   patterns; RE2's own classes are ASCII-only, so they are spelled out.
 *   `(?a)` switches them to Python's ASCII sets.
 * - `{,n}` is `{0,n}`; a `{` that does not form a quantifier is a literal.
 * - `\Z` is RE2's `\z`; `$` (without MULTILINE) is RE2's `$`, which equals
 *   Python's on input with no trailing newline (callers pass lines without one).
 * - Global inline flags anywhere in the pattern apply to the whole pattern
 *   (Python <= 3.10; 3.11 rejects them outside the start, so this is a superset).
 * - `(?x)` verbose mode, `(?#...)` comments, scoped flags `(?i-s:...)`.
 * - Octal, `\x`, `\u`, `\U` escapes; escaped punctuation.
 *
 * Known deviation: `\b`/`\B` stay RE2's ASCII word boundaries; Python's
 * consider Unicode word characters. They differ only next to non-ASCII
 * letters or digits, and RE2 cannot express the Unicode form.
 *
 * Refused (UnsupportedConstructError): lookahead, lookbehind, backreferences,
 * conditionals, atomic groups, possessive quantifiers, repetition counts above
 * RE2's 1000, `\N{...}`, the locale flag, and Python syntax errors.
 */

/** A named group: the name in the Python pattern and the name RE2 compiles (duplicates are renamed). */
export interface RegexGroup {
  name: string
  re2Name: string
}

export interface Translation {
  /** RE2 source with the meaning of the Python pattern. */
  source: string
  /**
   * A relaxed RE2 source for prefiltering. Contract: every zero-width
   * assertion (`^ $ \A \z \b \B`) is dropped, every group is non-capturing
   * and `\d`/`\w` (and negations) are widened to cheap supersets, so for any
   * string s that `source` matches, `prefilterSource` matches every string
   * containing s (a superset, never a false negative). Factors that may match
   * nothing are dropped from both ends of each top-level alternative: a string
   * containing a match of `P?X` contains one of `X`, and without them (fail2ban's
   * optional `__prefix_line` parts) an RE2.Set of many prefilters keeps a small automaton.
   */
  prefilterSource: string
  /**
   * `source` for extracting the named groups: plain groups do not capture, so capture i + 1 is
   * `groups[i]`. Matches exactly what `source` matches.
   */
  captureSource: string
  /**
   * `captureSource` for text that is all ASCII: every `\d`, `\w`, `\s` (and negation), negated class
   * and `.` is cut down to its ASCII members, which makes RE2's program several times smaller and
   * its submatch search as much faster. On ASCII text it matches, and captures, exactly what
   * `captureSource` does; on other text its result means nothing.
   */
  asciiSource: string
  /** Named groups in the order their parentheses open. */
  groups: RegexGroup[]
}

export function translateRegex(pattern: string): Translation {
  const first = new Translator(pattern, emptyFlags())
  first.run()
  const seen = first.globalFlags
  if (!seen.verbose && !seen.ascii && !seen.ignoreCase && !seen.multiline && !seen.dotAll) {
    return first.result()
  }
  // A global flag can change how the text before it parses (verbose, ASCII): parse again knowing it.
  const second = new Translator(pattern, seen)
  second.run()
  return second.result()
}

interface Flags {
  ignoreCase: boolean
  multiline: boolean
  dotAll: boolean
  verbose: boolean
  ascii: boolean
}

function emptyFlags(): Flags {
  return { ignoreCase: false, multiline: false, dotAll: false, verbose: false, ascii: false }
}

type Range = readonly [number, number]
type Category = 'd' | 'D' | 'w' | 'W' | 's' | 'S'
type ClassItem =
  | { kind: 'range'; lo: number; hi: number }
  | { kind: 'category'; category: Category }

/** What the last emitted piece was, for Python's "nothing to repeat" / "multiple repeat" checks. */
type Last = 'none' | 'atom' | 'assertion' | 'repeat'

const MAX_CODE_POINT = 0x10ffff
const ASCII_MAX = 0x7f
const NON_ASCII: Range = [0x80, MAX_CODE_POINT]
const RE2_MAX_REPEAT = 1000

// Python's str.isspace() set, which is what `\s` matches in a str pattern.
const UNICODE_SPACE: Range[] = [
  [0x09, 0x0d], [0x1c, 0x20], [0x85, 0x85], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
]
const ASCII_SPACE: Range[] = [[0x09, 0x0d], [0x20, 0x20]]
const ASCII_DIGIT: Range[] = [[0x30, 0x39]]
const ASCII_WORD: Range[] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]
// Python's `\w`: str.isalnum() or '_' (letters, numbers in every script).
const UNICODE_WORD_ITEMS = '\\p{L}\\p{N}_'

const VERBOSE_SPACE = new Set([' ', '\t', '\n', '\r', '\v', '\f'])
const OCTAL = /^[0-7]$/
const DIGIT = /^[0-9]$/
const HEX = /^[0-9a-fA-F]$/
const ASCII_LETTER = /^[A-Za-z]$/
const SPECIAL_OUTSIDE_CLASS = new Set([...'\\.+*?()|[]{}^$'])
const SPECIAL_INSIDE_CLASS = new Set([...'\\]^-['])
const SIMPLE_ESCAPES: Record<string, number> = { a: 0x07, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b, '\\': 0x5c }

interface ScopedFlags { verbose: boolean; ascii: boolean; ignoreCase: boolean; dotAll: boolean }

interface OpenGroup {
  saved: ScopedFlags
}

/** Pieces of text that differ between the forms a Translator writes; each defaults to the source text. */
interface Forms { capture?: string; ascii?: string }

/** One top-level alternative of the prefilter: its span in the prefilter text and its factors. */
interface TopAlternative { start: number; end: number; factors: { start: number; nullable: boolean }[] }

class Translator {
  private readonly chars: string[]
  private pos = 0
  private source = ''
  private prefilter = ''
  private readonly topLevel: TopAlternative[] = [{ start: 0, end: -1, factors: [] }]
  private capture = ''
  private asciiForm = ''
  private last: Last = 'none'
  private verbose: boolean
  private ascii: boolean
  /** Whether `(?i)` and `(?s)` are on where the translator is: the ASCII form's classes depend on them. */
  private ignoreCase: boolean
  private dotAll: boolean
  private readonly open: OpenGroup[] = []
  private readonly groups: RegexGroup[] = []
  private readonly used = new Set<string>()
  readonly globalFlags: Flags = emptyFlags()

  constructor(
    private readonly pattern: string,
    private readonly initial: Flags,
  ) {
    this.chars = Array.from(pattern)
    this.verbose = initial.verbose
    this.ascii = initial.ascii
    this.ignoreCase = initial.ignoreCase
    this.dotAll = initial.dotAll
  }

  result(): Translation {
    const inline = (this.initial.ignoreCase ? 'i' : '') + (this.initial.multiline ? 'm' : '') + (this.initial.dotAll ? 's' : '')
    const prefix = inline === '' ? '' : `(?${inline})`
    return {
      source: prefix + this.source, prefilterSource: prefix + this.trimmedPrefilter(),
      captureSource: prefix + this.capture, asciiSource: prefix + this.asciiForm, groups: this.groups,
    }
  }

  run(): void {
    while (this.pos < this.chars.length) {
      const c = this.chars[this.pos] as string
      if (this.verbose && VERBOSE_SPACE.has(c)) {
        this.pos++
        continue
      }
      if (this.verbose && c === '#') {
        while (this.pos < this.chars.length && this.chars[this.pos] !== '\n') this.pos++
        continue
      }
      switch (c) {
        case '|':
          this.pos++
          if (this.open.length === 0) this.topLevel.at(-1)!.end = this.prefilter.length
          this.emit('|', '|', 'none')
          if (this.open.length === 0) this.topLevel.push({ start: this.prefilter.length, end: -1, factors: [] })
          break
        case '(':
          this.openGroup()
          break
        case ')':
          this.closeGroup()
          break
        case '[':
          this.characterClass()
          break
        case '^':
        case '$':
          this.pos++
          this.emit(c, '', 'assertion')
          break
        case '.':
          this.pos++
          this.beginFactor()
          this.emit('.', '.', 'atom', { ascii: this.dotAll ? '[\\x{0}-\\x{7f}]' : '[\\x{0}-\\x{9}\\x{b}-\\x{7f}]' })
          break
        case '*':
        case '+':
        case '?':
          this.pos++
          this.repeat(c, c)
          break
        case '{':
          this.brace()
          break
        case '\\':
          this.escape()
          break
        default:
          this.pos++
          this.emitLiteral(c.codePointAt(0) as number)
      }
    }
    if (this.open.length > 0) this.invalid('missing ), unterminated subpattern')
  }

  private emit(source: string, prefilter: string, last: Last, forms: Forms = {}): void {
    this.source += source
    this.prefilter += prefilter
    this.capture += forms.capture ?? source
    this.asciiForm += forms.ascii ?? forms.capture ?? source
    this.last = last
  }

  private emitLiteral(cp: number): void {
    this.beginFactor()
    const text = literalOutsideClass(cp)
    this.emit(text, text, 'atom')
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset]
  }

  private refuse(construct: string): never {
    throw new UnsupportedConstructError(construct, this.pattern)
  }

  private invalid(reason: string): never {
    throw new UnsupportedConstructError(`invalid regex: ${reason} at position ${this.pos}`, this.pattern)
  }

  private repeat(source: string, display: string): void {
    if (this.last === 'none' || this.last === 'assertion') this.invalid('nothing to repeat')
    if (this.last === 'repeat') this.invalid('multiple repeat')
    let text = source
    if (this.peek() === '?') {
      this.pos++
      text += '?'
    } else if (this.peek() === '+') {
      this.refuse(`possessive quantifier ${display}+`)
    }
    if (this.open.length === 0 && (text.startsWith('*') || text.startsWith('?') || /^\{0[,}]/.test(text))) {
      this.topLevel.at(-1)!.factors.at(-1)!.nullable = true
    }
    this.emit(text, text, 'repeat')
  }

  /** Marks where a top-level factor (an atom or a group, with the quantifier that may follow) starts. */
  private beginFactor(): void {
    if (this.open.length === 0) this.topLevel.at(-1)!.factors.push({ start: this.prefilter.length, nullable: false })
  }

  private trimmedPrefilter(): string {
    this.topLevel.at(-1)!.end = this.prefilter.length
    return this.topLevel.map(({ start, end, factors }) => {
      let first = 0
      let last = factors.length
      while (first < last && factors[first]!.nullable) first++
      while (last > first && factors[last - 1]!.nullable) last--
      // An alternative that may match nothing matches every line anyway: keep it as it is.
      if (first === last) return this.prefilter.slice(start, end)
      return this.prefilter.slice(factors[first]!.start, last < factors.length ? factors[last]!.start : end)
    }).join('|')
  }

  /** `{m,n}` as Python reads it: a quantifier if it is well formed, else a literal `{`. */
  private brace(): void {
    const start = this.pos
    let i = this.pos + 1
    let lo = ''
    let hi = ''
    while (DIGIT.test(this.chars[i] ?? '')) lo += this.chars[i++]
    const comma = this.chars[i] === ','
    if (comma) {
      i++
      while (DIGIT.test(this.chars[i] ?? '')) hi += this.chars[i++]
    }
    if (this.chars[i] !== '}' || (!comma && lo === '')) {
      this.pos++
      this.emitLiteral(0x7b)
      return
    }
    this.pos = i + 1
    const text = this.chars.slice(start, this.pos).join('')
    const min = lo === '' ? 0 : Number(lo)
    const max = comma ? (hi === '' ? undefined : Number(hi)) : min
    if (max !== undefined && max < min) this.invalid('min repeat greater than max repeat')
    if (min > RE2_MAX_REPEAT || (max ?? 0) > RE2_MAX_REPEAT) this.refuse(`repetition count above ${RE2_MAX_REPEAT} ${text}`)
    const re2 = !comma ? `{${min}}` : max === undefined ? `{${min},}` : `{${min},${max}}`
    this.repeat(re2, text)
  }

  private openGroup(): void {
    const start = this.pos
    this.pos++
    if (this.peek() !== '?') {
      this.pushGroup()
      this.emit('(', '(?:', 'none', { capture: '(?:' })
      return
    }
    this.pos++
    const kind = this.peek()
    if (kind === ':') {
      this.pos++
      this.pushGroup()
      this.emit('(?:', '(?:', 'none')
      return
    }
    if (kind === 'P') {
      const next = this.peek(1)
      if (next === '<') {
        this.pos += 2
        this.namedGroup()
        return
      }
      if (next === '=') this.refuse(`backreference (?P=${this.readUntil(')', start)})`)
      this.invalid('unknown extension ?P')
    }
    if (kind === '#') {
      while (this.pos < this.chars.length && this.chars[this.pos] !== ')') this.pos++
      if (this.pos >= this.chars.length) this.invalid('missing ), unterminated comment')
      this.pos++
      return
    }
    if (kind === '=' || kind === '!') this.refuse(`lookahead (?${kind}`)
    if (kind === '<') {
      const next = this.peek(1)
      if (next === '=' || next === '!') this.refuse(`lookbehind (?<${next}`)
      this.invalid('unknown extension ?<')
    }
    if (kind === '(') this.refuse('conditional (?(')
    if (kind === '>') this.refuse('atomic group (?>')
    this.flagGroup()
  }

  /** Reads the text after `(?P=` up to `end`, for an error message. */
  private readUntil(end: string, start: number): string {
    const from = start + 4
    let i = from
    while (i < this.chars.length && this.chars[i] !== end) i++
    return this.chars.slice(from, i).join('')
  }

  private namedGroup(): void {
    let name = ''
    while (this.pos < this.chars.length && this.chars[this.pos] !== '>') name += this.chars[this.pos++]
    if (this.pos >= this.chars.length) this.invalid('missing >, unterminated name')
    this.pos++
    if (name === '') this.invalid('missing group name')
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      if (/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name)) this.refuse(`non-ASCII group name (?P<${name}>`)
      this.invalid(`bad character in group name '${name}'`)
    }
    const re2Name = this.uniqueName(name)
    this.groups.push({ name, re2Name })
    this.pushGroup()
    this.emit(`(?P<${re2Name}>`, '(?:', 'none')
  }

  /**
   * RE2 rejects a name used twice; later uses get a fresh internal name. `groups` maps every
   * internal name back to the pattern's name, so a collision with a real name is harmless.
   */
  private uniqueName(name: string): string {
    let candidate = name
    for (let n = 2; this.used.has(candidate); n++) candidate = `${name}__${n}`
    this.used.add(candidate)
    return candidate
  }

  private flagGroup(): void {
    const on = new Set<string>()
    const off = new Set<string>()
    let negative = false
    for (;;) {
      const c = this.peek()
      if (c === undefined) this.invalid('missing -, : or )')
      this.pos++
      if (c === ')' || c === ':') {
        if (negative && off.size === 0) this.invalid('missing flag')
        if (c === ')') {
          if (negative) this.invalid('missing :')
          this.globalFlagGroup(on)
        } else {
          this.scopedFlagGroup(on, off)
        }
        return
      }
      if (c === '-') {
        if (negative) this.invalid('bad inline flag')
        negative = true
        continue
      }
      if (c === 'L') this.refuse('locale flag (?L)')
      if (!'aimsux'.includes(c)) this.invalid(`unknown flag '${c}'`)
      if (negative) {
        if ('au'.includes(c)) this.invalid(`bad inline flag: cannot turn off flag '${c}'`)
        off.add(c)
      } else {
        on.add(c)
      }
    }
  }

  private globalFlagGroup(on: Set<string>): void {
    if (on.size === 0) this.invalid('missing flag')
    const g = this.globalFlags
    g.ignoreCase ||= on.has('i')
    g.multiline ||= on.has('m')
    g.dotAll ||= on.has('s')
    g.verbose ||= on.has('x')
    g.ascii ||= on.has('a')
  }

  private scopedFlagGroup(on: Set<string>, off: Set<string>): void {
    for (const f of on) if (off.has(f)) this.invalid('bad inline flag: flag turned on and off')
    this.pushGroup()
    if (on.has('x')) this.verbose = true
    if (off.has('x')) this.verbose = false
    if (on.has('a')) this.ascii = true
    if (on.has('i')) this.ignoreCase = true
    if (off.has('i')) this.ignoreCase = false
    if (on.has('s')) this.dotAll = true
    if (off.has('s')) this.dotAll = false
    const keep = (set: Set<string>) => [...'ims'].filter(f => set.has(f)).join('')
    const plus = keep(on)
    const minus = keep(off)
    const text = plus === '' && minus === '' ? '(?:' : `(?${plus}${minus === '' ? '' : '-' + minus}:`
    this.emit(text, text, 'none')
  }

  private pushGroup(): void {
    this.beginFactor()
    this.open.push({ saved: { verbose: this.verbose, ascii: this.ascii, ignoreCase: this.ignoreCase, dotAll: this.dotAll } })
  }

  private closeGroup(): void {
    const group = this.open.pop()
    if (group === undefined) this.invalid('unbalanced parenthesis')
    this.pos++
    this.verbose = group.saved.verbose
    this.ascii = group.saved.ascii
    this.ignoreCase = group.saved.ignoreCase
    this.dotAll = group.saved.dotAll
    this.emit(')', ')', 'atom')
  }

  private escape(): void {
    const c = this.peek(1)
    if (c === undefined) this.invalid('bad escape (end of pattern)')
    switch (c) {
      case 'A':
        this.pos += 2
        this.emit('\\A', '', 'assertion')
        return
      case 'Z':
        this.pos += 2
        this.emit('\\z', '', 'assertion')
        return
      case 'b':
      case 'B':
        this.pos += 2
        this.emit(`\\${c}`, '', 'assertion')
        return
      case 'd': case 'D': case 'w': case 'W': case 's': case 'S': {
        this.pos += 2
        const { source, prefilter, ascii } = this.classText([{ kind: 'category', category: c }], false)
        this.beginFactor()
        this.emit(source, prefilter, 'atom', { ascii })
        return
      }
    }
    if (c >= '1' && c <= '9') {
      const d2 = this.peek(2)
      const d3 = this.peek(3)
      if (d2 !== undefined && d3 !== undefined && OCTAL.test(c) && OCTAL.test(d2) && OCTAL.test(d3)) {
        this.pos += 4
        this.emitLiteral(this.octal(c + d2 + d3))
        return
      }
      this.refuse(`backreference \\${c}${d2 !== undefined && DIGIT.test(d2) ? d2 : ''}`)
    }
    this.emitLiteral(this.escapedCodePoint())
  }

  /** The code point of an escape that stands for one character (shared by both contexts); pos is at the backslash. */
  private escapedCodePoint(inClass = false): number {
    const c = this.peek(1) as string
    this.pos += 2
    const simple = SIMPLE_ESCAPES[c]
    if (simple !== undefined) return simple
    if (inClass && c === 'b') return 0x08
    if (c === 'x') return this.hexDigits(2, '\\x')
    if (c === 'u') return this.hexDigits(4, '\\u')
    if (c === 'U') {
      const cp = this.hexDigits(8, '\\U')
      if (cp > MAX_CODE_POINT) this.invalid(`bad escape \\U${cp.toString(16)}`)
      return cp
    }
    if (c === 'N') this.refuse('named unicode escape \\N{...}')
    if (OCTAL.test(c) && (c === '0' || inClass)) {
      let digits = c
      while (digits.length < 3 && OCTAL.test(this.peek() ?? '')) digits += this.chars[this.pos++]
      return this.octal(digits)
    }
    if (DIGIT.test(c) || ASCII_LETTER.test(c)) this.invalid(`bad escape \\${c}`)
    return c.codePointAt(0) as number
  }

  private hexDigits(count: number, name: string): number {
    const digits = this.chars.slice(this.pos, this.pos + count).join('')
    if (digits.length !== count || ![...digits].every(d => HEX.test(d))) this.invalid(`incomplete escape ${name}${digits}`)
    this.pos += count
    return parseInt(digits, 16)
  }

  private octal(digits: string): number {
    const value = parseInt(digits, 8)
    if (value > 0o377) this.invalid(`octal escape value \\${digits} outside of range 0-0o377`)
    return value
  }

  private categoryRanges(category: Category): Range[] {
    switch (category) {
      case 'd': return ASCII_DIGIT
      case 'w': return ASCII_WORD
      case 's': return this.ascii ? ASCII_SPACE : UNICODE_SPACE
      case 'D': return complement(ASCII_DIGIT)
      case 'W': return complement(ASCII_WORD)
      case 'S': return complement(this.ascii ? ASCII_SPACE : UNICODE_SPACE)
    }
  }

  private characterClass(): void {
    this.pos++
    const negate = this.peek() === '^'
    if (negate) this.pos++
    const first = this.pos
    const items: ClassItem[] = []
    for (;;) {
      const c = this.peek()
      if (c === undefined) this.invalid('unterminated character set')
      if (c === ']' && this.pos !== first) {
        this.pos++
        break
      }
      const lo = this.classAtom()
      if (this.peek() === '-') {
        this.pos++
        const next = this.peek()
        if (next === undefined) this.invalid('unterminated character set')
        if (next === ']') {
          this.pos++
          items.push(lo, { kind: 'range', lo: 0x2d, hi: 0x2d })
          break
        }
        const hi = this.classAtom()
        if (lo.kind !== 'range' || hi.kind !== 'range' || hi.lo < lo.lo) this.invalid('bad character range')
        items.push({ kind: 'range', lo: lo.lo, hi: hi.lo })
      } else {
        items.push(lo)
      }
    }
    const { source, prefilter, ascii } = this.classText(items, negate)
    this.beginFactor()
    this.emit(source, prefilter, 'atom', { ascii })
  }

  /** One member of a class: a single character (as a one-element range) or a category escape. */
  private classAtom(): ClassItem {
    const c = this.peek() as string
    if (c !== '\\') {
      this.pos++
      const cp = c.codePointAt(0) as number
      return { kind: 'range', lo: cp, hi: cp }
    }
    const e = this.peek(1)
    if (e === undefined) this.invalid('bad escape (end of pattern)')
    if (e === 'd' || e === 'D' || e === 'w' || e === 'W' || e === 's' || e === 'S') {
      this.pos += 2
      return { kind: 'category', category: e }
    }
    const cp = this.escapedCodePoint(true)
    return { kind: 'range', lo: cp, hi: cp }
  }

  private classText(classItems: ClassItem[], negatedClass: boolean): { source: string; prefilter: string; ascii: string } {
    let items = classItems
    let negate = negatedClass
    // `\S` alone reads best (and `\W` alone is only expressible) as the negation of `\s`.
    const single = items.length === 1 ? items[0] : undefined
    if (single?.kind === 'category' && single.category !== single.category.toLowerCase()) {
      items = [{ kind: 'category', category: single.category.toLowerCase() as Category }]
      negate = !negate
    }
    const prefilter = `[${negate ? '^' : ''}${items.map(i => this.prefilterMemberText(i, negate)).join('')}]`
    return { source: this.sourceClassText(items, negate), prefilter, ascii: this.asciiClassText(items, negate) }
  }

  /**
   * The class as it acts on ASCII text: categories shrink to their ASCII members, and a negated class
   * also excludes every non-ASCII character, so RE2 compiles it to a few byte ranges. Written members
   * stay as written, and under `(?i)` a negated class keeps the non-ASCII characters: RE2 folds the
   * class before negating it, and non-ASCII characters fold to ASCII letters (U+212A to k and K).
   */
  private asciiClassText(items: ClassItem[], negate: boolean): string {
    const members = items.map(i => i.kind === 'range' ? rangeText([i.lo, i.hi]) : rangesText(this.asciiCategoryRanges(i.category))).join('')
    if (!negate) return `[${members}]`
    return this.ignoreCase ? `[^${members}]` : `[^${members}${rangeText(NON_ASCII)}]`
  }

  private asciiCategoryRanges(category: Category): Range[] {
    const space = this.ascii ? ASCII_SPACE : UNICODE_SPACE.filter(([lo]) => lo <= ASCII_MAX)
    switch (category) {
      case 'd': return ASCII_DIGIT
      case 'w': return ASCII_WORD
      case 's': return space
      case 'D': return complement(ASCII_DIGIT, ASCII_MAX)
      case 'W': return complement(ASCII_WORD, ASCII_MAX)
      case 'S': return complement(space, ASCII_MAX)
    }
  }

  private sourceClassText(items: ClassItem[], negate: boolean): string {
    const single = items.length === 1 ? items[0] : undefined
    if (!this.ascii && single?.kind === 'category' && single.category === 'd') return negate ? '\\P{Nd}' : '\\p{Nd}'
    // Unicode `\W` is the complement of a union of properties, which no RE2 class member can
    // express; among other members it becomes an alternative of its own.
    const unicodeNonWord = !this.ascii && items.some(i => i.kind === 'category' && i.category === 'W')
    const rest = unicodeNonWord ? items.filter(i => !(i.kind === 'category' && i.category === 'W')) : items
    const members = rest.map(i => this.memberText(i)).join('')
    if (!unicodeNonWord) return `[${negate ? '^' : ''}${members}]`
    if (negate) {
      this.refuse('negated character class with \\W and other members [^\\W...]')
    }
    return `(?:[${members}]|[^${UNICODE_WORD_ITEMS}])`
  }

  /**
   * The prefilter only needs a superset, and the Unicode properties behind `\d` and `\w` make an
   * RE2.Set's automaton several times larger, so there they widen to "the ASCII set or any
   * non-ASCII character". In a negated class a member must shrink for the class to widen, so
   * there they narrow to their ASCII part. The `\s` sets are short lists and stay exact.
   */
  private prefilterMemberText(item: ClassItem, negated: boolean): string {
    if (item.kind === 'range' || this.ascii) return this.memberText(item)
    switch (item.category) {
      case 's':
      case 'S':
        return this.memberText(item)
      case 'd':
        return rangesText(negated ? ASCII_DIGIT : [...ASCII_DIGIT, NON_ASCII])
      case 'w':
        return rangesText(negated ? ASCII_WORD : [...ASCII_WORD, NON_ASCII])
      case 'D':
        return rangesText(negated ? complement(ASCII_DIGIT, ASCII_MAX) : complement(ASCII_DIGIT))
      case 'W':
        return rangesText(negated ? complement(ASCII_WORD, ASCII_MAX) : complement(ASCII_WORD))
    }
  }

  private memberText(item: ClassItem): string {
    if (item.kind === 'range') return rangeText([item.lo, item.hi])
    if (!this.ascii) {
      if (item.category === 'd') return '\\p{Nd}'
      if (item.category === 'D') return '\\P{Nd}'
      if (item.category === 'w') return UNICODE_WORD_ITEMS
    }
    return rangesText(this.categoryRanges(item.category))
  }
}

/** The code points up to `max` outside sorted, disjoint `ranges`. */
function complement(ranges: readonly Range[], max = MAX_CODE_POINT): Range[] {
  const out: Range[] = []
  let next = 0
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1])
    next = hi + 1
  }
  if (next <= max) out.push([next, max])
  return out
}

function rangesText(ranges: readonly Range[]): string {
  return ranges.map(rangeText).join('')
}

function rangeText([lo, hi]: Range): string {
  return lo === hi ? literalInClass(lo) : `${literalInClass(lo)}-${literalInClass(hi)}`
}

function literalOutsideClass(cp: number): string {
  const c = String.fromCodePoint(cp)
  if (SPECIAL_OUTSIDE_CLASS.has(c)) return `\\${c}`
  return isPlainPrintable(cp) ? c : hexEscape(cp)
}

function literalInClass(cp: number): string {
  const c = String.fromCodePoint(cp)
  if (SPECIAL_INSIDE_CLASS.has(c)) return `\\${c}`
  return isPlainPrintable(cp) ? c : hexEscape(cp)
}

/** Characters safe to write as themselves in RE2 source; everything else is written as `\x{...}`. */
function isPlainPrintable(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7f
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(cp))
}

function hexEscape(cp: number): string {
  return `\\x{${cp.toString(16)}}`
}
