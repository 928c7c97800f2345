/**
 * Splits a start-anchored RE2 pattern into the alternatives it chooses between, in the order a
 * leftmost-first engine tries them, so that the one alternative a line takes can be told by an
 * RE2.Set (a DFA pass) and its groups extracted by a program that holds only that alternative.
 *
 * Why: RE2 extracts groups of a start-anchored pattern with its backtracking-free BitState engine,
 * which explores every alternative the pattern offers before the one that matches. fail2ban's
 * failregexes are long alternations (sshd's `Failed ...` holds four forms, each with the full <HOST>
 * expansion); extracting from the matching alternative alone is several times cheaper.
 *
 * Exactness: a pattern P = D (A1|...|An) R, where D makes no choice (every text has at most one way
 * to match D in front of the rest), matches as the first Ai for which D Ai R matches, with that
 * pattern's own groups: the engine, after the fixed D, tries A1 with every choice after it, then A2,
 * and so on. `X?` is `(X|)` (and `X??` is `(|X)`). So alternations and optionals are expanded only
 * while everything before them, from the start anchor on, is choice-free:
 * - single characters, classes and zero-width assertions;
 * - groups whose content is choice-free;
 * - a repeated single character class that cannot match the first character of what follows it
 *   (`\S+ for`, `\d+\.`, `[^\]]*\]`), which can only stop in one place.
 * The first other construct (a repeated group, a repetition that could stop in several places, a
 * case-folded class) ends the expansion: what follows stays as it is in every alternative, which
 * is still exact, only less split.
 */

/** One alternative: its RE2 source, and the names of the capturing groups it keeps, in order. */
export interface Alternative {
  source: string
  groups: string[]
}

/** Enough alternatives to split fail2ban's longest failregexes, few enough to keep the Set small. */
const MAX_ALTERNATIVES = 32

type Ranges = readonly (readonly [number, number])[]

/** What a single-character item may match: code point ranges, or anything (not analysed). */
type CharSet = Ranges | 'any'

type Node =
  | { kind: 'char'; text: string; set: CharSet }
  | { kind: 'assert'; text: string; end: boolean; start: boolean }
  | { kind: 'group'; open: string; name?: string; body: Node }
  | { kind: 'alt'; branches: Node[][] }
  | { kind: 'seq'; items: Node[] }
  | { kind: 'repeat'; item: Node; text: string; min: number; lazy: boolean; max: number }

/**
 * The alternatives of `source` in the order RE2 (and Python) tries them, or undefined when the
 * pattern does not split: not anchored at its start, multi-line, or without a choice in front.
 */
export function splitAlternatives(source: string): Alternative[] | undefined {
  let root: Node
  try {
    root = new Parser(source).parse()
  } catch (err) {
    if (err instanceof NotSplittable) return undefined
    throw err
  }
  // Choices are split nearest the start first (one more choice per path each round), so the budget
  // goes to the outer alternations, which are the costly ones, before the small ones inside <HOST>.
  let variants: Variant[] = []
  for (let maxDepth = 1; ; maxDepth++) {
    const limits = { maxDepth, total: 1 }
    const deeper = expand([root], [], { anchored: false, depth: 0 }, limits)
    if (limits.total > MAX_ALTERNATIVES || deeper.length === variants.length) break
    variants = deeper
  }
  if (variants.length < 2) return undefined
  return variants.map(({ items }) => ({ source: items.map(print).join(''), groups: captureNames(items) }))
}

class NotSplittable extends Error {}

/** Where a path through the pattern is: past the start anchor or not, and how many choices it split. */
interface PathState { anchored: boolean; depth: number }

/**
 * A path's items so far; `open` says it was walked to its end without a choice left unexpanded, so
 * what follows may still be split.
 */
interface Variant extends PathState { items: Node[]; open: boolean }

/** How many choices one path may split, and how many variants all paths have made together. */
interface Limits { maxDepth: number; total: number }

/**
 * Expands `items` (followed by `after`, the items that come after them at every enclosing level) into
 * variants in priority order.
 */
function expand(items: readonly Node[], after: readonly (readonly Node[])[], state: PathState, limits: Limits): Variant[] {
  let variants: Variant[] = [{ ...state, items: [], open: true }]
  items.forEach((item, i) => {
    const rest = [items.slice(i + 1), ...after]
    variants = variants.flatMap((v) => {
      if (!v.open) return [{ ...v, items: [...v.items, item] }]
      return expandItem(item, rest, v, limits).map((e) => ({ ...e, items: [...v.items, ...e.items] }))
    })
  })
  return variants
}

function expandItem(item: Node, rest: readonly (readonly Node[])[], state: PathState, limits: Limits): Variant[] {
  const fixed = (anchored: boolean, open: boolean): Variant[] => [{ anchored, depth: state.depth, items: [item], open }]
  switch (item.kind) {
    case 'char':
      return fixed(state.anchored, state.anchored)
    case 'assert': {
      const anchored = state.anchored || item.start
      return fixed(anchored, anchored)
    }
    case 'group':
      return expand([item.body], rest, state, limits).map((v) => ({ ...v, items: [{ ...item, body: seq(v.items) }] }))
    case 'seq':
      return expand(item.items, rest, state, limits)
    case 'alt':
      return expandChoice(item.branches, item, rest, state, limits)
    case 'repeat':
      if (item.min === 0 && item.max === 1) {
        const choices = item.lazy ? [[], [item.item]] : [[item.item], []]
        return expandChoice(choices, item, rest, state, limits)
      }
      return fixed(state.anchored, state.anchored && item.item.kind === 'char' && (item.min === item.max || stopsOnce(item.item.set, rest)))
  }
}

/** Expands a choice between `branches` when it can be split exactly and the path may split one more. */
function expandChoice(branches: readonly (readonly Node[])[], item: Node, rest: readonly (readonly Node[])[], state: PathState, limits: Limits): Variant[] {
  const anchored = state.anchored || branches.every(startsAnchored)
  if (!anchored || state.depth >= limits.maxDepth) return [{ ...state, items: [item], open: false }]
  limits.total += branches.length - 1
  return branches.flatMap((branch) => expand(branch, rest, { anchored: true, depth: state.depth + 1 }, limits))
}

function startsAnchored(items: readonly Node[]): boolean {
  const first = items[0]
  if (first === undefined) return false
  if (first.kind === 'assert') return first.start
  if (first.kind === 'group') return startsAnchored([first.body])
  if (first.kind === 'seq') return startsAnchored(first.items)
  if (first.kind === 'alt') return first.branches.every(startsAnchored)
  return false
}

/**
 * True when a repetition of `set` can stop in one place only: no character it may match can start
 * what follows, and what follows cannot match nothing unless the text ends there.
 */
function stopsOnce(set: CharSet, rest: readonly (readonly Node[])[]): boolean {
  if (set === 'any') return false
  const follow = firstOf(rest.flat())
  return follow !== 'any' && !overlaps(set, follow)
}

/** The characters that can come first in `items`; 'any' when unknown or when `items` may match nothing before the text ends. */
function firstOf(items: readonly Node[]): CharSet {
  const sets: Ranges[] = []
  for (const item of items) {
    const { set, nullable, ends } = firstOfItem(item)
    if (set === 'any') return 'any'
    sets.push(set)
    if (ends) return sets.flat()
    if (!nullable) return sets.flat()
  }
  return 'any'
}

function firstOfItem(item: Node): { set: CharSet; nullable: boolean; ends: boolean } {
  switch (item.kind) {
    case 'char':
      return { set: item.set, nullable: false, ends: false }
    case 'assert':
      return { set: [], nullable: true, ends: item.end }
    case 'group':
      return firstOfItem(item.body)
    case 'seq': {
      const set = firstOf(item.items)
      return set === 'any' ? { set, nullable: true, ends: false } : { set, nullable: false, ends: false }
    }
    case 'alt': {
      const sets = item.branches.map(firstOf)
      if (sets.includes('any')) return { set: 'any', nullable: true, ends: false }
      return { set: (sets as Ranges[]).flat(), nullable: false, ends: false }
    }
    case 'repeat': {
      const inner = firstOfItem(item.item)
      return { set: inner.set, nullable: item.min === 0 || inner.nullable, ends: false }
    }
  }
}

function overlaps(a: Ranges, b: Ranges): boolean {
  return a.some(([lo, hi]) => b.some(([lo2, hi2]) => lo <= hi2 && lo2 <= hi))
}

function seq(items: Node[]): Node {
  return items.length === 1 ? items[0]! : { kind: 'seq', items }
}

function print(node: Node): string {
  switch (node.kind) {
    case 'char':
    case 'assert':
      return node.text
    case 'group':
      return `${node.open}${print(node.body)})`
    case 'seq':
      return node.items.map(print).join('')
    case 'alt':
      return node.branches.map((b) => b.map(print).join('')).join('|')
    case 'repeat':
      return print(node.item) + node.text
  }
}

function captureNames(items: readonly Node[]): string[] {
  const names: string[] = []
  const visit = (node: Node): void => {
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
 * Anything else (a plain capturing group, a global flag group) makes the pattern unsplittable.
 */
class Parser {
  private readonly chars: string[]
  private pos = 0
  /** Nesting of case-folding scopes: under (?i) a class matches more than it lists. */
  private folding = 0

  constructor(source: string) {
    this.chars = Array.from(source)
  }

  parse(): Node {
    const node = this.alternation()
    if (this.pos < this.chars.length) throw new NotSplittable()
    return node
  }

  private alternation(): Node {
    const branches = [this.sequence()]
    while (this.chars[this.pos] === '|') {
      this.pos++
      branches.push(this.sequence())
    }
    return branches.length === 1 ? seq(branches[0]!) : { kind: 'alt', branches }
  }

  private sequence(): Node[] {
    const items: Node[] = []
    for (let c = this.chars[this.pos]; c !== undefined && c !== '|' && c !== ')'; c = this.chars[this.pos]) {
      items.push(this.quantified(this.atom()))
    }
    return items
  }

  private atom(): Node {
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
        throw new NotSplittable()
      default:
        this.pos++
        return this.literal(c, c.codePointAt(0)!)
    }
  }

  private literal(text: string, cp: number): Node {
    return { kind: 'char', text, set: this.folding > 0 ? 'any' : [[cp, cp]] }
  }

  private group(): Node {
    const start = this.pos
    this.pos++
    if (this.chars[this.pos] !== '?') throw new NotSplittable()
    this.pos++
    let name: string | undefined
    let folds = false
    if (this.chars[this.pos] === 'P' && this.chars[this.pos + 1] === '<') {
      const close = this.chars.indexOf('>', this.pos)
      if (close < 0) throw new NotSplittable()
      name = this.chars.slice(this.pos + 2, close).join('')
      this.pos = close + 1
    } else {
      let flags = ''
      while (this.chars[this.pos] !== undefined && /[a-zA-Z-]/.test(this.chars[this.pos]!)) flags += this.chars[this.pos++]
      if (this.chars[this.pos] !== ':') throw new NotSplittable()
      if (flags.includes('m')) throw new NotSplittable()
      folds = /^[a-z]*i/.test(flags)
      this.pos++
    }
    const open = this.chars.slice(start, this.pos).join('')
    if (folds) this.folding++
    const body = this.alternation()
    if (folds) this.folding--
    if (this.chars[this.pos] !== ')') throw new NotSplittable()
    this.pos++
    return name === undefined ? { kind: 'group', open, body } : { kind: 'group', open, name, body }
  }

  private quantified(item: Node): Node {
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
      if (close < 0 || m === null) throw new NotSplittable()
      min = Number(m[1])
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
      this.pos = close + 1
    } else return item
    const lazy = this.chars[this.pos] === '?'
    if (lazy) this.pos++
    if (item.kind === 'assert') throw new NotSplittable()
    return { kind: 'repeat', item, text: this.chars.slice(start, this.pos).join(''), min, max, lazy }
  }

  private escape(): Node {
    const start = this.pos
    const e = this.chars[this.pos + 1]
    if (e === undefined) throw new NotSplittable()
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
    if (this.chars[this.pos + 2] !== '{') throw new NotSplittable()
    const close = this.chars.indexOf('}', this.pos)
    if (close < 0) throw new NotSplittable()
    const name = this.chars.slice(this.pos + 3, close).join('')
    this.pos = close + 1
    return PROPERTY_SUPERSETS[name] ?? 'any'
  }

  /** `\x{hex}` or an escaped punctuation character at pos. */
  private escapedCodePoint(): number {
    const e = this.chars[this.pos + 1]!
    if (e === 'x') {
      const close = this.chars.indexOf('}', this.pos)
      if (this.chars[this.pos + 2] !== '{' || close < 0) throw new NotSplittable()
      const cp = parseInt(this.chars.slice(this.pos + 3, close).join(''), 16)
      this.pos = close + 1
      return cp
    }
    if (/[A-Za-z0-9]/.test(e)) throw new NotSplittable()
    this.pos += 2
    return e.codePointAt(0)!
  }

  private characterClass(): Node {
    const start = this.pos
    this.pos++
    const negated = this.chars[this.pos] === '^'
    if (negated) this.pos++
    const members: (readonly [number, number])[] = []
    let inexact = this.folding > 0
    while (this.chars[this.pos] !== ']') {
      if (this.chars[this.pos] === undefined) throw new NotSplittable()
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
