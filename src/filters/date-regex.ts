// The regex dialect of fail2ban date patterns (Python `re` syntax), parsed into a
// small AST that is used twice:
//  - printed as an RE2 pattern that accepts a superset of the matches (lookaround
//    dropped, a backreference widened to its group's pattern), so RE2 finds the
//    leftmost candidate start in linear time;
//  - compiled to an exact backtracking matcher over bytes that runs only from
//    that candidate on, captures the date fields without the ~2 µs per call that
//    node-re2 charges for building match objects, and stops after a step budget.

export class DatePatternError extends Error {
  readonly code = 'BANSTREAM_ERR_DATEPATTERN'
  constructor(message: string) {
    super(message)
    this.name = 'DatePatternError'
  }
}

/** A zero-width condition at position i of s[0..len); it reads no byte after s[i] (see Matcher.search's repeats). */
export type Assertion = (s: Uint8Array, i: number, len: number) => boolean

export type Node =
  | { t: 'lit'; bytes: number[] }
  | { t: 'set'; ascii: Uint8Array; high: boolean; dot?: boolean }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'group'; index: number; name: string | null; body: Node }
  | { t: 'rep'; body: Node; min: number; max: number; greedy: boolean }
  | { t: 'bol' }
  | { t: 'eol' }
  | { t: 'eos' }
  | { t: 'wordb'; negate: boolean }
  | { t: 'backref'; index: number; name: string }
  | { t: 'assert'; test: Assertion }

export interface ParsedRegex {
  root: Node
  ignoreCase: boolean
  dotAll: boolean
  /** Capturing groups, numbered as Python numbers them (1-based); index 0 unused. */
  groupCount: number
  groupNames: Map<string, number>
}

const INF = Number.MAX_SAFE_INTEGER

export function isWordByte(b: number): boolean {
  return (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b === 95
}

function asciiSet(chars: string): Uint8Array {
  const t = new Uint8Array(128)
  for (let k = 0; k < chars.length; k++) t[chars.charCodeAt(k)] = 1
  return t
}
const DIGITS = asciiSet('0123456789')
const WORD = (() => {
  const t = new Uint8Array(128)
  for (let b = 0; b < 128; b++) t[b] = isWordByte(b) ? 1 : 0
  return t
})()
// Python's \s on str: space, \t \n \v \f \r (plus Unicode spaces, not matched here).
const SPACE = asciiSet(' \t\n\v\f\r')

function complement(t: Uint8Array): Uint8Array {
  const r = new Uint8Array(128)
  for (let b = 0; b < 128; b++) r[b] = t[b] ? 0 : 1
  return r
}

function setNode(ascii: Uint8Array, high: boolean): Node {
  return { t: 'set', ascii, high }
}

function utf8(cp: number): number[] {
  if (cp < 0x80) return [cp]
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)]
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
}

/** Parses a Python-syntax regex; throws DatePatternError naming any construct RE2 cannot run. */
export function parseRegex(src: string): ParsedRegex {
  let pos = 0
  let ignoreCase = false
  let dotAll = false
  let groupCount = 0
  const groupNames = new Map<string, number>()
  const fail = (what: string): never => {
    throw new DatePatternError(`${what} at position ${pos} of datepattern regex ${JSON.stringify(src)}`)
  }

  const parseAlt = (): Node => {
    const alts: Node[] = [parseSeq()]
    while (src[pos] === '|') {
      pos++
      alts.push(parseSeq())
    }
    return alts.length === 1 ? alts[0]! : { t: 'alt', alts }
  }

  const parseSeq = (): Node => {
    const items: Node[] = []
    while (pos < src.length && src[pos] !== '|' && src[pos] !== ')') {
      const atom = parseAtom()
      if (atom === null) continue
      const item = parseQuantifier(atom)
      const prev = items[items.length - 1]
      // Adjacent literals become one, so 'jan' is one comparison, not three steps.
      if (item.t === 'lit' && prev !== undefined && prev.t === 'lit') prev.bytes = [...prev.bytes, ...item.bytes]
      else items.push(item)
    }
    return items.length === 1 ? items[0]! : { t: 'seq', items }
  }

  const parseQuantifier = (atom: Node): Node => {
    let min: number, max: number
    const c = src[pos]
    if (c === '*') { min = 0; max = INF; pos++ }
    else if (c === '+') { min = 1; max = INF; pos++ }
    else if (c === '?') { min = 0; max = 1; pos++ }
    else if (c === '{') {
      const m = /^\{(\d*)(?:(,)(\d*))?\}/.exec(src.slice(pos))
      if (!m || (m[1] === '' && m[2] === undefined)) return atom // a literal '{', as in Python
      min = m[1] === '' ? 0 : Number(m[1])
      max = m[2] === undefined ? min : m[3] === '' ? INF : Number(m[3])
      if (max < min) fail('min repeat greater than max repeat')
      if (min > 1000 || (max !== INF && max > 1000)) fail('repeat count above 1000 (RE2 limit)')
      pos += m[0].length
    } else return atom
    if (atom.t === 'bol' || atom.t === 'eol' || atom.t === 'eos' || atom.t === 'wordb' || atom.t === 'assert') {
      fail('nothing to repeat')
    }
    let greedy = true
    if (src[pos] === '?') { greedy = false; pos++ }
    else if (src[pos] === '+') fail('possessive quantifier (not supported by RE2)')
    if (src[pos] === '*' || src[pos] === '+' || (src[pos] === '?' && !greedy)) fail('multiple repeat')
    return { t: 'rep', body: atom, min, max, greedy }
  }

  const parseGroup = (): Node | null => {
    // at '(' already consumed
    if (src[pos] !== '?') {
      const index = ++groupCount
      const body = parseAlt()
      expect(')')
      return { t: 'group', index, name: null, body }
    }
    pos++
    const c = src[pos]
    if (c === ':') {
      pos++
      const body = parseAlt()
      expect(')')
      return body
    }
    if (c === 'P' && src[pos + 1] === '<') {
      const m = /^P<([A-Za-z_]\w*)>/.exec(src.slice(pos))
      if (!m) fail('bad group name')
      const name = m![1]!
      if (groupNames.has(name)) fail(`redefinition of group name ${name}`)
      pos += m![0].length
      const index = ++groupCount
      groupNames.set(name, index)
      const body = parseAlt()
      expect(')')
      return { t: 'group', index, name, body }
    }
    if (c === 'P' && src[pos + 1] === '=') {
      const m = /^P=([A-Za-z_]\w*)\)/.exec(src.slice(pos))
      if (!m) fail('bad named backreference')
      const index = groupNames.get(m![1]!)
      if (index === undefined) fail(`backreference to unknown group ${m![1]}`)
      pos += m![0].length
      return { t: 'backref', index: index!, name: m![1]! }
    }
    if (c === '=' || c === '!') fail('lookahead (?' + c + '...) (not supported by RE2)')
    if (c === '<' && (src[pos + 1] === '=' || src[pos + 1] === '!')) fail('lookbehind (?<' + src[pos + 1] + '...) (not supported by RE2)')
    if (c === '(') fail('conditional group (?(id)...) (not supported by RE2)')
    if (c === '>') fail('atomic group (?>...) (not supported by RE2)')
    if (c === '#') {
      const end = src.indexOf(')', pos)
      if (end < 0) fail('unterminated comment')
      pos = end + 1
      return null
    }
    const m = /^([aiLmsux]+)(\)|:|-)/.exec(src.slice(pos))
    if (!m) fail('unknown extension (?' + (c ?? '') + '...)')
    if (m![2] !== ')') fail('scoped inline flags (?flags:...)')
    for (const f of m![1]!) {
      if (f === 'i') ignoreCase = true
      else if (f === 's') dotAll = true
      else if (f === 'x') fail('verbose flag (?x)')
      else if (f === 'L') fail('locale flag (?L)')
      // 'a', 'u': ASCII vs Unicode classes; classes here are ASCII (as in RE2). 'm': lines are single.
    }
    pos += m![0].length
    return null
  }

  const expect = (ch: string) => {
    if (src[pos] !== ch) fail(ch === ')' ? 'missing )' : `expected ${ch}`)
    pos++
  }

  const parseEscape = (inClass: boolean): Node | number => {
    // at the char after '\'; returns a code point for a literal or a node for a class/assertion
    if (pos >= src.length) fail('trailing backslash')
    const c = src[pos++]!
    switch (c) {
      case 'd': return setNode(DIGITS, false)
      case 'D': return setNode(complement(DIGITS), true)
      case 'w': return setNode(WORD, false)
      case 'W': return setNode(complement(WORD), true)
      case 's': return setNode(SPACE, false)
      case 'S': return setNode(complement(SPACE), true)
      case 'n': return 10
      case 't': return 9
      case 'r': return 13
      case 'f': return 12
      case 'v': return 11
      case 'a': return 7
      case 'x': {
        const m = /^[0-9a-fA-F]{2}/.exec(src.slice(pos))
        if (!m) fail('bad \\x escape')
        pos += 2
        return parseInt(m![0], 16)
      }
      case 'u': case 'U': {
        const n = c === 'u' ? 4 : 8
        const m = new RegExp(`^[0-9a-fA-F]{${n}}`).exec(src.slice(pos))
        if (!m) fail(`bad \\${c} escape`)
        pos += n
        return parseInt(m![0], 16)
      }
    }
    if (!inClass) {
      if (c === 'b') return { t: 'wordb', negate: false }
      if (c === 'B') return { t: 'wordb', negate: true }
      if (c === 'A') return { t: 'bol' }
      if (c === 'Z') return { t: 'eos' }
    } else if (c === 'b') return 8
    if (c === '0') {
      const m = /^[0-7]{0,2}/.exec(src.slice(pos))!
      pos += m[0].length
      return parseInt('0' + m[0], 8)
    }
    if (c >= '1' && c <= '9') fail(`numbered backreference \\${c} (not supported by RE2)`)
    if (/[A-Za-z]/.test(c)) fail(`bad escape \\${c}`)
    return c.codePointAt(0)!
  }

  const parseClass = (): Node => {
    // at the char after '['
    let neg = false
    if (src[pos] === '^') { neg = true; pos++ }
    const ascii = new Uint8Array(128)
    let high = false
    let first = true
    const addRange = (lo: number, hi: number) => {
      if (hi >= 0x80) fail('non-ASCII character in a character class')
      for (let b = lo; b <= hi; b++) ascii[b] = 1
    }
    const readMember = (): Node | number => {
      if (src[pos] === '\\') { pos++; return parseEscape(true) }
      const cp = src.codePointAt(pos)!
      pos += cp > 0xffff ? 2 : 1
      return cp
    }
    while (true) {
      if (pos >= src.length) fail('unterminated character set')
      if (src[pos] === ']' && !first) { pos++; break }
      first = false
      const m = readMember()
      if (typeof m !== 'number') {
        if (m.t !== 'set') fail('bad escape in character set')
        const s = m as { ascii: Uint8Array; high: boolean }
        for (let b = 0; b < 128; b++) if (s.ascii[b]) ascii[b] = 1
        high = high || s.high
        continue
      }
      if (src[pos] === '-' && src[pos + 1] !== ']' && pos + 1 < src.length) {
        pos++
        const hi = readMember()
        if (typeof hi !== 'number') fail('bad character range')
        if ((hi as number) < m) fail('bad character range')
        addRange(m, hi as number)
      } else addRange(m, m)
    }
    return neg ? setNode(complement(ascii), !high) : setNode(ascii, high)
  }

  const parseAtom = (): Node | null => {
    const c = src[pos]!
    pos++
    switch (c) {
      case '(': return parseGroup()
      case '[': return parseClass()
      case '.': return { t: 'set', ascii: complement(asciiSet('\n')), high: true, dot: true }
      case '^': return { t: 'bol' }
      case '$': return { t: 'eol' }
      case '\\': {
        const e = parseEscape(false)
        return typeof e === 'number' ? { t: 'lit', bytes: utf8(e) } : e
      }
      case '*': case '+': case '?': fail('nothing to repeat')
    }
    pos--
    const cp = src.codePointAt(pos)!
    pos += cp > 0xffff ? 2 : 1
    return { t: 'lit', bytes: utf8(cp) }
  }

  const root = parseAlt()
  if (pos < src.length) fail('unbalanced parenthesis')
  // '.' is built as "anything but \n"; with (?s) it takes \n as well.
  if (dotAll) markDotAll(root)
  return { root, ignoreCase, dotAll, groupCount, groupNames }
}

function markDotAll(n: Node): void {
  if (n.t === 'set' && n.dot) n.ascii[10] = 1
  else if (n.t === 'seq') n.items.forEach(markDotAll)
  else if (n.t === 'alt') n.alts.forEach(markDotAll)
  else if (n.t === 'group' || n.t === 'rep') markDotAll(n.body)
}

// ---- RE2 rendering --------------------------------------------------------

function hex(b: number): string {
  return '\\x{' + b.toString(16) + '}'
}

function groupBodies(n: Node, out: Map<number, Node>): Map<number, Node> {
  if (n.t === 'group') { out.set(n.index, n.body); groupBodies(n.body, out) }
  else if (n.t === 'seq') n.items.forEach((x) => groupBodies(x, out))
  else if (n.t === 'alt') n.alts.forEach((x) => groupBodies(x, out))
  else if (n.t === 'rep') groupBodies(n.body, out)
  return out
}

/** An RE2 pattern matching at least every (start, end) the exact matcher accepts. */
export function toRe2Source(p: ParsedRegex): string {
  const bodies = groupBodies(p.root, new Map())
  const render = (n: Node): string => {
    switch (n.t) {
      case 'lit': {
        let s = ''
        // Bytes of one literal are one code point: render it back as that character.
        const text = Buffer.from(n.bytes).toString('utf8')
        for (const ch of text) s += ch.codePointAt(0)! < 0x80 && /[\w ]/.test(ch) ? ch : hex(ch.codePointAt(0)!)
        return s
      }
      case 'set': {
        let s = ''
        for (let b = 0; b < 128; b++) {
          if (!n.ascii[b]) continue
          let e = b
          while (e + 1 < 128 && n.ascii[e + 1]) e++
          s += e === b ? hex(b) : hex(b) + '-' + hex(e)
          b = e
        }
        if (n.high) s += '\\x{80}-\\x{10ffff}'
        return s === '' ? '[^\\x{0}-\\x{10ffff}]' : '[' + s + ']'
      }
      case 'seq': return n.items.map(render).join('')
      case 'alt': return '(?:' + n.alts.map(render).join('|') + ')'
      case 'group': return '(?:' + render(n.body) + ')'
      case 'rep': {
        const q = n.min === 0 && n.max === INF ? '*' : n.min === 1 && n.max === INF ? '+' : n.min === 0 && n.max === 1 ? '?'
          : n.max === INF ? `{${n.min},}` : n.max === n.min ? `{${n.min}}` : `{${n.min},${n.max}}`
        return '(?:' + render(n.body) + ')' + q + (n.greedy ? '' : '?')
      }
      case 'bol': return '^'
      case 'eol': return '(?:\\n?$)'
      case 'eos': return '$'
      case 'wordb': return n.negate ? '\\B' : '\\b'
      case 'backref': return '(?:' + render(bodies.get(n.index)!) + ')'
      case 'assert': return ''
    }
  }
  return render(p.root)
}


// ---- exact matcher ----------------------------------------------------------

/** Thrown inside the matcher when a pattern backtracks too much; caught by search(). */
const BUDGET_EXCEEDED = new Error('date pattern step budget exceeded')
/** Backtracking steps allowed per search of one line, far above what any date pattern needs. */
const STEP_BUDGET = 200_000

type M = (i: number) => boolean

interface Ctx {
  s: Uint8Array
  len: number
  caps: Int32Array
  budget: number
  /**
   * The highest offset the search has read or compared with `len`: the search's outcome is a
   * function of the bytes up to it (assertions read no byte after their position).
   */
  seen: number
}

/** Widens ctx.seen to offset i. */
function see(ctx: Ctx, i: number): void {
  if (i > ctx.seen) ctx.seen = i
}

/**
 * The last search whose outcome depended on only part of its text, and that part: a search from the
 * same offsets over a text with the same bytes there ends the same way. Log lines of one second
 * share their date and what follows it up to where the pattern stops looking (the host name), so
 * most searches of a busy log repeat the one before.
 */
interface Repeat {
  from: number
  last: number
  /** The bytes the outcome depended on: the text's first `seen + 1`. */
  bytes: Uint8Array
  found: boolean
  budgetExceeded: boolean
  caps: Int32Array
}

function utf8Width(s: Uint8Array, i: number, len: number): number {
  const b = s[i]!
  const w = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4
  return b < 0xc0 || i + w > len ? 1 : w
}

function lower(b: number): number {
  return b >= 65 && b <= 90 ? b | 0x20 : b
}

/** Exact backtracking matcher for one parsed regex, with Python's leftmost-first priorities. */
export class Matcher {
  /** caps[2g], caps[2g+1]: byte span of group g (0 = whole match), -1 when unset. */
  readonly caps: Int32Array
  /** True when every match must start at offset 0 (the pattern starts with ^ or \A). */
  readonly anchored: boolean
  /** Set when the last search gave up on the step budget, for the caller's diagnostics. */
  budgetExceeded = false
  /**
   * Changes whenever a search may have left other captures than the search before it: while it
   * stays, a value computed from the captures and their bytes (a date's time) stays the same too.
   */
  outcome = 0
  private readonly ctx: Ctx
  private repeat: Repeat | undefined
  /**
   * The program, and the bytes a match can start with (null when it can be empty), made on the first
   * search: a detector holds every default template, and a log's lines use one or two of them.
   */
  private compiled?: { prog: M; startBytes: Uint8Array | null }

  constructor(readonly parsed: ParsedRegex) {
    this.caps = new Int32Array(2 * (parsed.groupCount + 1))
    this.ctx = { s: new Uint8Array(0), len: 0, caps: this.caps, budget: 0, seen: -1 }
    this.anchored = startsAnchored(parsed.root)
  }

  private program(): NonNullable<Matcher['compiled']> {
    if (this.compiled !== undefined) return this.compiled
    const ctx = this.ctx
    const first = firstOf(this.parsed.root, this.parsed.ignoreCase)
    return this.compiled = {
      prog: this.comp(this.parsed.root, (j) => { ctx.caps[1] = j; return true }),
      startBytes: first.nullable ? null : first.bytes,
    }
  }

  /** Leftmost match starting in [from, last] with the text cut at `len`; fills caps. */
  search(s: Uint8Array, from: number, last: number, len: number): boolean {
    if (this.anchored) last = Math.min(last, 0)
    const r = this.repeat
    if (r !== undefined && r.from === from && r.last === last && repeats(r.bytes, s, len)) {
      this.caps.set(r.caps)
      this.budgetExceeded = r.budgetExceeded
      return r.found
    }
    const found = this.run(s, from, last, len)
    this.outcome++
    const seen = this.ctx.seen
    // Unless the text goes on past what was seen, the outcome may hang on where it ends.
    this.repeat = seen + 1 < len
      ? { from, last, bytes: s.slice(0, seen + 1), found, budgetExceeded: this.budgetExceeded, caps: this.caps.slice() }
      : undefined
    return found
  }

  private run(s: Uint8Array, from: number, last: number, len: number): boolean {
    const ctx = this.ctx
    ctx.s = s
    ctx.len = len
    ctx.budget = STEP_BUDGET
    ctx.seen = -1
    this.budgetExceeded = false
    const caps = this.caps
    const { prog, startBytes: sb } = this.program()
    try {
      for (let i = from; i <= last; i++) {
        see(ctx, i)
        if (sb !== null && (i >= len || sb[s[i]!] !== 1)) continue
        caps.fill(-1)
        caps[0] = i
        if (prog(i)) return true
      }
    } catch (e) {
      if (e !== BUDGET_EXCEEDED) throw e
      this.budgetExceeded = true
    }
    return false
  }

  private comp(n: Node, next: M): M {
    const ctx = this.ctx
    const ci = this.parsed.ignoreCase
    switch (n.t) {
      case 'lit': {
        const bytes = ci ? n.bytes.map(lower) : n.bytes
        const k = bytes.length
        if (k === 1) {
          const b0 = bytes[0]!
          return ci
            ? (i) => { see(ctx, i); return i < ctx.len && lower(ctx.s[i]!) === b0 && next(i + 1) }
            : (i) => { see(ctx, i); return i < ctx.len && ctx.s[i] === b0 && next(i + 1) }
        }
        return (i) => {
          see(ctx, i + k - 1)
          if (i + k > ctx.len) return false
          const s = ctx.s
          for (let j = 0; j < k; j++) {
            const b = ci ? lower(s[i + j]!) : s[i + j]
            if (b !== bytes[j]) return false
          }
          return next(i + k)
        }
      }
      case 'set': {
        const tbl = this.foldSet(n.ascii)
        const high = n.high
        return (i) => {
          see(ctx, i)
          if (i >= ctx.len) return false
          const b = ctx.s[i]!
          if (b < 0x80) return tbl[b] === 1 && next(i + 1)
          if (!high) return false
          see(ctx, i + 3)
          return next(i + utf8Width(ctx.s, i, ctx.len))
        }
      }
      case 'seq': {
        let k = next
        for (let j = n.items.length - 1; j >= 0; j--) k = this.comp(n.items[j]!, k)
        return k
      }
      case 'alt': {
        const fs = n.alts.map((a) => this.comp(a, next))
        const firsts = n.alts.map((a) => { const f = firstOf(a, ci); return f.nullable ? null : f.bytes })
        if (firsts.every((f) => f === null)) {
          return (i) => {
            for (let j = 0; j < fs.length; j++) if (fs[j]!(i)) return true
            return false
          }
        }
        // Try only the alternatives that can start with the next byte, in their order.
        // The same few lists serve all 257 entries.
        const lists = new Map<string, M[]>()
        const listFor = (b: number): M[] => {
          let key = ''
          const ks: M[] = []
          for (let k = 0; k < fs.length; k++) {
            if (firsts[k] !== null && (b < 0 || firsts[k]![b] !== 1)) continue
            key += `${k},`
            ks.push(fs[k]!)
          }
          let list = lists.get(key)
          if (list === undefined) lists.set(key, list = ks)
          return list
        }
        const byByte: M[][] = []
        for (let b = 0; b < 256; b++) byByte.push(listFor(b))
        const atEnd = listFor(-1)
        return (i) => {
          see(ctx, i)
          const list = i < ctx.len ? byByte[ctx.s[i]!]! : atEnd
          for (let j = 0; j < list.length; j++) if (list[j]!(i)) return true
          return false
        }
      }
      case 'group': {
        const g = 2 * n.index
        let start = -1
        const close: M = (j) => {
          const caps = ctx.caps
          const os = caps[g]!, oe = caps[g + 1]!
          caps[g] = start
          caps[g + 1] = j
          if (next(j)) return true
          caps[g] = os
          caps[g + 1] = oe
          return false
        }
        const body = this.comp(n.body, close)
        return (i) => {
          const ps = start
          start = i
          if (body(i)) return true
          start = ps
          return false
        }
      }
      case 'rep': return this.compRep(n, next)
      case 'bol': return (i) => i === 0 && next(i)
      case 'eos': return (i) => { see(ctx, i); return i === ctx.len && next(i) }
      case 'eol': return (i) => { see(ctx, i); return (i === ctx.len || (i === ctx.len - 1 && ctx.s[i] === 10)) && next(i) }
      case 'wordb': {
        const neg = n.negate
        return (i) => {
          see(ctx, i)
          const a = i > 0 && isWordByte(ctx.s[i - 1]!)
          const b = i < ctx.len && isWordByte(ctx.s[i]!)
          return (a !== b) !== neg && next(i)
        }
      }
      case 'assert': {
        const test = n.test
        return (i) => { see(ctx, i); return test(ctx.s, i, ctx.len) && next(i) }
      }
      case 'backref': {
        const g = 2 * n.index
        return (i) => {
          const st = ctx.caps[g]!, en = ctx.caps[g + 1]!
          if (st < 0 || en < 0) return false
          const k = en - st
          see(ctx, i + Math.max(k, 1) - 1)
          if (i + k > ctx.len) return false
          const s = ctx.s
          for (let j = 0; j < k; j++) {
            const a = s[st + j]!, b = s[i + j]!
            if (a !== b && !(ci && lower(a) === lower(b))) return false
          }
          return next(i + k)
        }
      }
    }
  }

  private foldSet(ascii: Uint8Array): Uint8Array {
    if (!this.parsed.ignoreCase) return ascii
    const t = ascii.slice()
    for (let b = 65; b <= 90; b++) if (t[b] || t[b | 0x20]) t[b] = t[b | 0x20] = 1
    return t
  }

  private compRep(n: Extract<Node, { t: 'rep' }>, next: M): M {
    const ctx = this.ctx
    const { min, max, greedy } = n
    const body = n.body
    const single = body.t === 'set' || (body.t === 'lit' && body.bytes.length === 1)
    if (single) {
      // One character per iteration: count the run, then back off (or extend) one at a time.
      const tbl = body.t === 'set' ? this.foldSet(body.ascii) : this.foldSet(asciiOf(body.bytes[0]!))
      const high = body.t === 'set' && body.high
      const step = (i: number): number => {
        see(ctx, high ? i + 3 : i)
        if (i >= ctx.len) return -1
        const b = ctx.s[i]!
        if (b < 0x80) return tbl[b] === 1 ? i + 1 : -1
        return high ? i + utf8Width(ctx.s, i, ctx.len) : -1
      }
      const back = (i: number, lo: number): number => {
        let j = i - 1
        if (high) while (j > lo && (ctx.s[j]! & 0xc0) === 0x80) j--
        return j
      }
      if (greedy) {
        return (i) => {
          let j = i, n = 0
          const s = ctx.s, len = ctx.len
          while (n < max && j < len) {
            const b = s[j]!
            if (b < 0x80) {
              if (tbl[b] !== 1) break
              j++
            } else if (high) j += utf8Width(s, j, len)
            else break
            n++
          }
          // The loop read up to j, or stopped there at the end of the text (or at max).
          see(ctx, high ? j + 3 : j)
          if (n < min) return false
          while (true) {
            if (next(j)) return true
            if (n === min) return false
            if (--ctx.budget < 0) throw BUDGET_EXCEEDED
            j = back(j, i)
            n--
          }
        }
      }
      return (i) => {
        let j = i, n = 0
        while (n < min) {
          const k = step(j)
          if (k < 0) return false
          j = k
          n++
        }
        while (true) {
          if (next(j)) return true
          if (n >= max) return false
          if (--ctx.budget < 0) throw BUDGET_EXCEEDED
          const k = step(j)
          if (k < 0) return false
          j = k
          n++
        }
      }
    }
    if (min === 0 && max === 1) {
      // An optional part needs no iteration count: try it, else skip it (or the reverse, lazily).
      const bodyM = this.comp(body, next)
      return greedy ? (i) => bodyM(i) || next(i) : (i) => next(i) || bodyM(i)
    }
    let count = 0
    let iterStart = -1
    let loop: M = () => false
    const after: M = (j) => (j === iterStart && count > min ? false : loop(j))
    const bodyM = this.comp(body, after)
    const iterate = (i: number, c: number): boolean => {
      const ls = iterStart
      count = c + 1
      iterStart = i
      if (bodyM(i)) return true
      count = c
      iterStart = ls
      return false
    }
    loop = (i) => {
      if (--ctx.budget < 0) throw BUDGET_EXCEEDED
      const c = count
      if (greedy) {
        if (c < max && iterate(i, c)) return true
        return c >= min && next(i)
      }
      if (c >= min && next(i)) return true
      return c < max && iterate(i, c)
    }
    return (i) => {
      const c = count, ls = iterStart
      count = 0
      iterStart = -1
      if (loop(i)) return true
      count = c
      iterStart = ls
      return false
    }
  }
}

/** Whether `s`, cut at `len`, holds `bytes` and goes on past them. */
function repeats(bytes: Uint8Array, s: Uint8Array, len: number): boolean {
  const n = bytes.length
  if (len <= n) return false
  for (let k = n - 1; k >= 0; k--) if (s[k] !== bytes[k]) return false
  return true
}

function asciiOf(b: number): Uint8Array {
  const t = new Uint8Array(128)
  if (b < 128) t[b] = 1
  return t
}

interface First {
  /** Bytes a non-empty match can start with. */
  bytes: Uint8Array
  /** Whether a match can be empty (zero-width parts count as empty). */
  nullable: boolean
}

function caseTable(b: number, ci: boolean, t: Uint8Array): void {
  t[b] = 1
  if (ci && ((b >= 65 && b <= 90) || (b >= 97 && b <= 122))) t[b ^ 0x20] = 1
}

/** What a match of n can start with, to skip alternatives and start offsets that cannot match. */
function firstOf(n: Node, ci: boolean): First {
  const bytes = new Uint8Array(256)
  switch (n.t) {
    case 'lit':
      caseTable(n.bytes[0]!, ci, bytes)
      return { bytes, nullable: false }
    case 'set':
      for (let b = 0; b < 128; b++) if (n.ascii[b]) caseTable(b, ci, bytes)
      if (n.high) bytes.fill(1, 128)
      return { bytes, nullable: false }
    case 'seq': {
      for (const item of n.items) {
        const f = firstOf(item, ci)
        for (let b = 0; b < 256; b++) bytes[b] = bytes[b]! | f.bytes[b]!
        if (!f.nullable) return { bytes, nullable: false }
      }
      return { bytes, nullable: true }
    }
    case 'alt': {
      let nullable = false
      for (const a of n.alts) {
        const f = firstOf(a, ci)
        for (let b = 0; b < 256; b++) bytes[b] = bytes[b]! | f.bytes[b]!
        nullable ||= f.nullable
      }
      return { bytes, nullable }
    }
    case 'group': return firstOf(n.body, ci)
    case 'rep': {
      const f = firstOf(n.body, ci)
      return { bytes: f.bytes, nullable: f.nullable || n.min === 0 }
    }
    case 'backref':
      bytes.fill(1)
      return { bytes, nullable: true }
    default:
      return { bytes, nullable: true }
  }
}

function startsAnchored(n: Node): boolean {
  switch (n.t) {
    case 'bol': return true
    case 'seq': return n.items.length > 0 && startsAnchored(n.items[0]!)
    case 'group': return startsAnchored(n.body)
    case 'alt': return n.alts.every(startsAnchored)
    default: return false
  }
}
