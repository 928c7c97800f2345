import { captureNames, parseRegexTree, printRegex, sequence, type CharSet, type Ranges, type RegexNode } from './regex-tree.js'

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

/**
 * The alternatives of `source` in the order RE2 (and Python) tries them, or undefined when the
 * pattern does not split: not anchored at its start, multi-line, without a choice in front, or
 * whose choices are all small. Picking an alternative costs an RE2.Set pass; it pays off only
 * where at least two branches of a choice can run on across words (`.*`, `[^:]*`), which the group
 * search would otherwise walk one after the other. The choices inside <HOST>, between numbers or
 * words, or of an optional literal are not worth it alone (`evenSmall` splits them too, as exactly).
 */
export function splitAlternatives(source: string, opts: { evenSmall?: boolean } = {}): Alternative[] | undefined {
  const root = parseRegexTree(source)
  if (root === undefined || !(opts.evenSmall || hasLargeChoice(root))) return undefined
  // Choices are split nearest the start first (one more choice per path each round), so the budget
  // goes to the outer alternations, which are the costly ones, before the small ones inside <HOST>.
  let variants: Variant[] = []
  let large = false
  for (let maxDepth = 1; ; maxDepth++) {
    const limits = { maxDepth, total: 1, large: false }
    const deeper = expand([root], undefined, { anchored: false, depth: 0 }, limits)
    if (limits.total > MAX_ALTERNATIVES || deeper.length === variants.length) break
    variants = deeper
    large = limits.large
  }
  if (variants.length < 2 || !(large || opts.evenSmall)) return undefined
  return variants.map(({ items }) => ({ source: items.map(printRegex).join(''), groups: captureNames(items) }))
}

/** Where a path through the pattern is: past the start anchor or not, and how many choices it split. */
interface PathState { anchored: boolean; depth: number }

/**
 * A path's items so far; `open` says it was walked to its end without a choice left unexpanded, so
 * what follows may still be split.
 */
interface Variant extends PathState { items: RegexNode[]; open: boolean }

/**
 * How many choices one path may split, how many variants all paths have made together, and
 * whether a split choice had two or more branches with an unbounded repetition.
 */
interface Limits { maxDepth: number; total: number; large: boolean }

/**
 * What follows an item: the rest of its sequence, then what follows that sequence at every enclosing
 * level. Linked, not copied: a path through a long pattern passes hundreds of items.
 */
interface Rest { items: readonly RegexNode[]; from: number; outer: Rest | undefined }

function* restItems(rest: Rest | undefined): Generator<RegexNode> {
  for (let r = rest; r !== undefined; r = r.outer) for (let i = r.from; i < r.items.length; i++) yield r.items[i]!
}

/**
 * Expands `items` (followed by `after`) into variants in priority order. A variant's items grow in
 * place while it does not split: only a split copies what came before it.
 */
function expand(items: readonly RegexNode[], after: Rest | undefined, state: PathState, limits: Limits): Variant[] {
  let variants: Variant[] = [{ ...state, items: [], open: true }]
  items.forEach((item, i) => {
    const rest: Rest = { items, from: i + 1, outer: after }
    const next: Variant[] = []
    for (const v of variants) {
      if (!v.open) {
        v.items.push(item)
        next.push(v)
        continue
      }
      const expanded = expandItem(item, rest, v, limits)
      if (expanded.length === 1) {
        v.items.push(...expanded[0]!.items)
        next.push({ ...expanded[0]!, items: v.items })
      } else {
        for (const e of expanded) next.push({ ...e, items: [...v.items, ...e.items] })
      }
    }
    variants = next
  })
  return variants
}

function expandItem(item: RegexNode, rest: Rest, state: PathState, limits: Limits): Variant[] {
  const fixed = (anchored: boolean, open: boolean): Variant[] => [{ anchored, depth: state.depth, items: [item], open }]
  switch (item.kind) {
    case 'char':
      return fixed(state.anchored, state.anchored)
    case 'assert': {
      const anchored = state.anchored || item.start
      return fixed(anchored, anchored)
    }
    case 'group':
      return expand([item.body], rest, state, limits).map((v) => ({ ...v, items: [{ ...item, body: sequence(v.items) }] }))
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
function expandChoice(branches: readonly (readonly RegexNode[])[], item: RegexNode, rest: Rest, state: PathState, limits: Limits): Variant[] {
  const anchored = state.anchored || branches.every(startsAnchored)
  if (!anchored || state.depth >= limits.maxDepth) return [{ ...state, items: [item], open: false }]
  limits.total += branches.length - 1
  if (branches.filter((b) => b.some(runsAcrossWords)).length >= 2) limits.large = true
  return branches.flatMap((branch) => expand(branch, rest, { anchored: true, depth: state.depth + 1 }, limits))
}

/** Whether some choice in `node` has two branches that run across words: else nothing is worth splitting. */
function hasLargeChoice(node: RegexNode): boolean {
  switch (node.kind) {
    case 'alt':
      return node.branches.filter((b) => b.some(runsAcrossWords)).length >= 2 || node.branches.some((b) => b.some(hasLargeChoice))
    case 'group': return hasLargeChoice(node.body)
    case 'seq': return node.items.some(hasLargeChoice)
    case 'repeat': return hasLargeChoice(node.item)
    default: return false
  }
}

/** Whether `node` holds an unbounded repetition of characters that include the space. */
function runsAcrossWords(node: RegexNode): boolean {
  switch (node.kind) {
    case 'repeat':
      if (node.max === Infinity && node.item.kind === 'char' && (node.item.set === 'any' || overlaps(node.item.set, [[0x20, 0x20]]))) return true
      return runsAcrossWords(node.item)
    case 'group': return runsAcrossWords(node.body)
    case 'seq': return node.items.some(runsAcrossWords)
    case 'alt': return node.branches.some((b) => b.some(runsAcrossWords))
    default: return false
  }
}

function startsAnchored(items: readonly RegexNode[]): boolean {
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
function stopsOnce(set: CharSet, rest: Rest): boolean {
  if (set === 'any') return false
  const follow = firstOf(restItems(rest))
  return follow !== 'any' && !overlaps(set, follow)
}

/** The characters that can come first in `items`; 'any' when unknown or when `items` may match nothing before the text ends. */
function firstOf(items: Iterable<RegexNode>): CharSet {
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

function firstOfItem(item: RegexNode): { set: CharSet; nullable: boolean; ends: boolean } {
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

