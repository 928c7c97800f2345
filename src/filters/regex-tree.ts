/**
 * The RE2 syntax the regex translator writes (see regex-translate.ts), read back into a tree: for
 * the rewrites that make a failregex cheaper to extract groups from (regex-alternatives.ts,
 * regex-open-tail.ts), which must know what each piece matches.
 */

/** Code point ranges. */
export type Ranges = readonly (readonly [number, number])[]

/** What a single-character item may match: code point ranges, or anything (not analysed). */
export type CharSet = Ranges | 'any'

export type RegexNode =
  | { kind: 'char'; text: string; set: CharSet }
  | { kind: 'assert'; text: string; end: boolean; start: boolean }
  | { kind: 'group'; open: string; name?: string; body: RegexNode }
  | { kind: 'alt'; branches: RegexNode[][] }
  | { kind: 'seq'; items: RegexNode[] }
  | { kind: 'repeat'; item: RegexNode; text: string; min: number; lazy: boolean; max: number }

/** The tree of `source`, or undefined when it holds syntax the translator does not write. */
export function parseRegexTree(source: string): RegexNode | undefined {
  try {
    return new Parser(source).parse()
  } catch (err) {
    if (err instanceof Unreadable) return undefined
    throw err
  }
}

class Unreadable extends Error {}

/** `items` as one node. */
export function sequence(items: RegexNode[]): RegexNode {
  return items.length === 1 ? items[0]! : { kind: 'seq', items }
}

/** The RE2 source of a tree. */
export function printRegex(node: RegexNode): string {
  switch (node.kind) {
    case 'char':
    case 'assert':
      return node.text
    case 'group':
      return `${node.open}${printRegex(node.body)})`
    case 'seq':
      return node.items.map(printRegex).join('')
    case 'alt':
      return node.branches.map((b) => b.map(printRegex).join('')).join('|')
    case 'repeat':
      return printRegex(node.item) + node.text
  }
}

/** The names of the capturing groups in `items`, in the order they open. */
export function captureNames(items: readonly RegexNode[]): string[] {
  const names: string[] = []
  const visit = (node: RegexNode): void => {
    switch (node.kind) {
      case 'group':
        if (node.name !== undefined) names.push(node.name)
        visit(node.body)
        return
      case 'seq':
        node.items.forEach(visit)
        return
      case 'alt':
        node.branches.forEach((b) => b.forEach(visit))
        return
      case 'repeat':
        visit(node.item)
        return
      default:
    }
  }
  items.forEach(visit)
  return names
}

/**
 * The names of the capturing groups that take part in every match of `node`, each as `field` names
 * it (groups renamed apart for RE2 may stand for one field).
 */
export function requiredCaptures(node: RegexNode, field: (name: string) => string = (name) => name): Set<string> {
  switch (node.kind) {
    case 'group': {
      const names = requiredCaptures(node.body, field)
      if (node.name !== undefined) names.add(field(node.name))
      return names
    }
    case 'seq': {
      const names = new Set<string>()
      for (const item of node.items) for (const name of requiredCaptures(item, field)) names.add(name)
      return names
    }
    case 'alt': {
      const [first, ...rest] = node.branches.map((b) => requiredCaptures(sequence(b), field))
      return new Set([...first ?? []].filter((name) => rest.every((names) => names.has(name))))
    }
    case 'repeat':
      return node.min >= 1 ? requiredCaptures(node.item, field) : new Set()
    default:
      return new Set()
  }
}

/**
 * How the matches of `node` begin: `set` holds the characters a non-empty match may begin with (a
 * superset, 'any' when it cannot be told), `empty` whether a match may be the empty text.
 */
export interface MatchStart { set: CharSet; empty: boolean }

export function matchStart(node: RegexNode): MatchStart {
  switch (node.kind) {
    case 'char':
      return { set: node.set, empty: false }
    case 'assert':
      return { set: [], empty: true }
    case 'group':
      return matchStart(node.body)
    case 'repeat': {
      const item = matchStart(node.item)
      return { set: item.set, empty: item.empty || node.min === 0 }
    }
    case 'seq':
      return seqStart(node.items)
    case 'alt':
      return node.branches.map((b) => seqStart(b)).reduce((a, b) => ({ set: union(a.set, b.set), empty: a.empty || b.empty }))
  }
}

/**
 * How the items of a sequence from `from` on begin: with the first item, and with the next while
 * those before may match empty.
 */
export function seqStart(items: readonly RegexNode[], from = 0): MatchStart {
  let set: CharSet = []
  for (let i = from; i < items.length; i++) {
    const start = matchStart(items[i]!)
    set = union(set, start.set)
    if (!start.empty) return { set, empty: false }
  }
  return { set, empty: true }
}

function union(a: CharSet, b: CharSet): CharSet {
  return a === 'any' || b === 'any' ? 'any' : [...a, ...b]
}

const MAX_CODE_POINT = 0x10ffff
const NON_ASCII: readonly [number, number] = [0x80, MAX_CODE_POINT]
/** Supersets, exact on ASCII, of the Unicode properties the translator writes. */
const PROPERTY_SUPERSETS: Record<string, Ranges> = {
  Nd: [[0x30, 0x39], NON_ASCII],
  N: [[0x30, 0x39], NON_ASCII],
  L: [[0x41, 0x5a], [0x61, 0x7a], NON_ASCII],
}

/**
 * Reads the RE2 syntax the regex translator writes (see regex-translate.ts): literals and `\x{...}`,
 * classes, `\p{..}`, groups `(?:` `(?P<name>` `(?flags:`, quantifiers, assertions and `|`.
 * Anything else (a plain capturing group, a global flag group) is unreadable.
 */
class Parser {
  private readonly chars: string[]
  private pos = 0
  /** Nesting of case-folding scopes: under (?i) a class matches more than it lists. */
  private folding = 0

  constructor(source: string) {
    this.chars = Array.from(source)
  }

  parse(): RegexNode {
    const node = this.alternation()
    if (this.pos < this.chars.length) throw new Unreadable()
    return node
  }

  private alternation(): RegexNode {
    const branches = [this.sequence()]
    while (this.chars[this.pos] === '|') {
      this.pos++
      branches.push(this.sequence())
    }
    return branches.length === 1 ? sequence(branches[0]!) : { kind: 'alt', branches }
  }

  private sequence(): RegexNode[] {
    const items: RegexNode[] = []
    for (let c = this.chars[this.pos]; c !== undefined && c !== '|' && c !== ')'; c = this.chars[this.pos]) {
      items.push(this.quantified(this.atom()))
    }
    return items
  }

  private atom(): RegexNode {
    const c = this.chars[this.pos]!
    switch (c) {
      case '(':
        return this.group()
      case '[':
        return this.characterClass()
      case '^':
      case '$':
        this.pos++
        return { kind: 'assert', text: c, start: c === '^', end: c === '$' }
      case '.':
        this.pos++
        return { kind: 'char', text: '.', set: 'any' }
      case '\\':
        return this.escape()
      case '*': case '+': case '?': case '{':
        throw new Unreadable()
      default:
        this.pos++
        return this.literal(c, c.codePointAt(0)!)
    }
  }

  private literal(text: string, cp: number): RegexNode {
    return { kind: 'char', text, set: this.folding > 0 ? 'any' : [[cp, cp]] }
  }

  private group(): RegexNode {
    const start = this.pos
    this.pos++
    if (this.chars[this.pos] !== '?') throw new Unreadable()
    this.pos++
    let name: string | undefined
    let folds = false
    if (this.chars[this.pos] === 'P' && this.chars[this.pos + 1] === '<') {
      const close = this.chars.indexOf('>', this.pos)
      if (close < 0) throw new Unreadable()
      name = this.chars.slice(this.pos + 2, close).join('')
      this.pos = close + 1
    } else {
      let flags = ''
      while (this.chars[this.pos] !== undefined && /[a-zA-Z-]/.test(this.chars[this.pos]!)) flags += this.chars[this.pos++]
      if (this.chars[this.pos] !== ':') throw new Unreadable()
      if (flags.includes('m')) throw new Unreadable()
      folds = /^[a-z]*i/.test(flags)
      this.pos++
    }
    const open = this.chars.slice(start, this.pos).join('')
    if (folds) this.folding++
    const body = this.alternation()
    if (folds) this.folding--
    if (this.chars[this.pos] !== ')') throw new Unreadable()
    this.pos++
    return name === undefined ? { kind: 'group', open, body } : { kind: 'group', open, name, body }
  }

  private quantified(item: RegexNode): RegexNode {
    const start = this.pos
    const c = this.chars[this.pos]
    let min: number
    let max: number
    if (c === '*') { min = 0; max = Infinity; this.pos++ }
    else if (c === '+') { min = 1; max = Infinity; this.pos++ }
    else if (c === '?') { min = 0; max = 1; this.pos++ }
    else if (c === '{') {
      const close = this.chars.indexOf('}', this.pos)
      const m = /^\{(\d+)(,(\d*))?\}$/.exec(this.chars.slice(this.pos, close + 1).join(''))
      if (close < 0 || m === null) throw new Unreadable()
      min = Number(m[1])
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
      this.pos = close + 1
    } else return item
    const lazy = this.chars[this.pos] === '?'
    if (lazy) this.pos++
    if (item.kind === 'assert') throw new Unreadable()
    return { kind: 'repeat', item, text: this.chars.slice(start, this.pos).join(''), min, max, lazy }
  }

  private escape(): RegexNode {
    const start = this.pos
    const e = this.chars[this.pos + 1]
    if (e === undefined) throw new Unreadable()
    if (e === 'A' || e === 'z' || e === 'b' || e === 'B') {
      this.pos += 2
      return { kind: 'assert', text: `\\${e}`, start: e === 'A', end: e === 'z' }
    }
    if (e === 'p' || e === 'P') {
      const set = this.property()
      return { kind: 'char', text: this.chars.slice(start, this.pos).join(''), set: e === 'P' || this.folding > 0 ? 'any' : set }
    }
    const cp = this.escapedCodePoint()
    return this.literal(this.chars.slice(start, this.pos).join(''), cp)
  }

  /** `\p{Name}` at pos: a superset of what it matches. */
  private property(): CharSet {
    if (this.chars[this.pos + 2] !== '{') throw new Unreadable()
    const close = this.chars.indexOf('}', this.pos)
    if (close < 0) throw new Unreadable()
    const name = this.chars.slice(this.pos + 3, close).join('')
    this.pos = close + 1
    return PROPERTY_SUPERSETS[name] ?? 'any'
  }

  /** `\x{hex}` or an escaped punctuation character at pos. */
  private escapedCodePoint(): number {
    const e = this.chars[this.pos + 1]!
    if (e === 'x') {
      const close = this.chars.indexOf('}', this.pos)
      if (this.chars[this.pos + 2] !== '{' || close < 0) throw new Unreadable()
      const cp = parseInt(this.chars.slice(this.pos + 3, close).join(''), 16)
      this.pos = close + 1
      return cp
    }
    if (/[A-Za-z0-9]/.test(e)) throw new Unreadable()
    this.pos += 2
    return e.codePointAt(0)!
  }

  private characterClass(): RegexNode {
    const start = this.pos
    this.pos++
    const negated = this.chars[this.pos] === '^'
    if (negated) this.pos++
    const members: (readonly [number, number])[] = []
    let inexact = this.folding > 0
    while (this.chars[this.pos] !== ']') {
      if (this.chars[this.pos] === undefined) throw new Unreadable()
      if (this.chars[this.pos] === '\\' && (this.chars[this.pos + 1] === 'p' || this.chars[this.pos + 1] === 'P')) {
        const set = this.property()
        // A superset negated is no longer a superset.
        if (set === 'any' || negated) inexact = true
        else members.push(...set)
        continue
      }
      const lo = this.classCodePoint()
      if (this.chars[this.pos] === '-' && this.chars[this.pos + 1] !== ']') {
        this.pos++
        members.push([lo, this.classCodePoint()])
      } else {
        members.push([lo, lo])
      }
    }
    this.pos++
    const text = this.chars.slice(start, this.pos).join('')
    if (inexact) return { kind: 'char', text, set: 'any' }
    return { kind: 'char', text, set: negated ? complement(members) : members }
  }

  private classCodePoint(): number {
    const c = this.chars[this.pos]!
    if (c !== '\\') {
      this.pos++
      return c.codePointAt(0)!
    }
    return this.escapedCodePoint()
  }
}

function complement(members: Ranges): Ranges {
  const sorted = [...members].sort((a, b) => a[0] - b[0])
  const out: [number, number][] = []
  let next = 0
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1])
    next = Math.max(next, hi + 1)
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT])
  return out
}

/**
 * An upper bound of the instructions RE2 compiles `node` to, in UTF-8: a range of code points
 * beyond ASCII takes at most RANGE_INSTRUCTIONS (its pieces of each UTF-8 length, a byte range per
 * byte), a `\p{..}` at most PROPERTY_INSTRUCTIONS (the largest the translator writes, the word
 * class `[\p{L}\p{N}_]`, takes ~430), a repetition as many copies of its item as its bound (RE2
 * writes `x{2,5}` out as five), and every other node a couple.
 */
export function programSizeBound(node: RegexNode, folded = false): number {
  switch (node.kind) {
    case 'char':
      return charSizeBound(node, folded)
    case 'assert':
      return 2
    case 'group':
      return 2 + programSizeBound(node.body, folded || /^\(\?[a-z]*i/.test(node.open))
    case 'seq':
      return node.items.reduce((sum, item) => sum + programSizeBound(item, folded), 0)
    case 'alt':
      return node.branches.reduce((sum, branch) => sum + 2 + programSizeBound(sequence(branch), folded), 0)
    case 'repeat':
      return 2 + programSizeBound(node.item, folded) * Math.max(1, node.max === Infinity ? node.min + 1 : node.max)
  }
}

const PROPERTY_INSTRUCTIONS = 1000
const RANGE_INSTRUCTIONS = 50

/**
 * RE2 compiles a program of at most ~175k instructions (its default max_mem of 8 MiB: two thirds for
 * the program, a quarter of that in 8-byte instructions); a size bound below this compiles.
 */
export const RE2_SAFE_INSTRUCTIONS = 150_000

function charSizeBound(node: Extract<RegexNode, { kind: 'char' }>, folded: boolean): number {
  const properties = node.text.match(/\\[pP]\{/g)?.length ?? 0
  // An exact set lists every range the item holds, each member's own and each property's superset.
  if (node.set !== 'any') return properties * PROPERTY_INSTRUCTIONS + node.set.reduce((sum, [, hi]) => sum + (hi < 0x80 ? 1 : RANGE_INSTRUCTIONS), 0)
  // Negated or case-folded: a range per character of its text, each folded into up to four.
  return (properties * PROPERTY_INSTRUCTIONS + node.text.length * RANGE_INSTRUCTIONS) * (folded ? 4 : 1)
}
