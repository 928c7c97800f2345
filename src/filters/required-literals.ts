import { parseRegexTree, seqStart, sequence, type CharSet, type RegexNode } from './regex-tree.js'

/**
 * Texts one of which every match of `source` holds (RE2 syntax as the regex translator writes it,
 * see regex-tree.ts), chosen so the shortest is as long as it can be; undefined when no such texts
 * can be told: a match may be empty, or every piece it must hold matches too many texts to list.
 *
 * A literal search for them costs a DFA of a few states, where the regexes themselves make a large
 * one: a text holding none of them needs no regex at all (see PrefilterSet). The analysis is Russ
 * Cox's for trigram indexes, on whole literals: a node's exact texts while they are few (`[iI]nvalid`,
 * `Disconnect(?:ed|ing)`), and otherwise the best set of texts one of which each of its matches holds.
 */
export function requiredLiterals(source: string): string[] | undefined {
  const tree = parseRegexTree(source)
  if (tree === undefined) return undefined
  const facts = factsOf(tree)
  const required = facts.required ?? nonEmpty(facts.exact)
  return required && [...required]
}

/** What a node tells of the texts it matches. Neither set is empty; `required` never holds ''. */
interface Facts {
  /** Every text the node matches, when there are at most MAX_EXACT. */
  exact?: ReadonlySet<string>
  /** Texts one of which every match of the node holds. */
  required?: ReadonlySet<string>
}

/** Beyond this many texts a node's exact texts are dropped: its literals would make a large automaton again. */
const MAX_EXACT = 16

function factsOf(node: RegexNode): Facts {
  switch (node.kind) {
    case 'assert':
      return { exact: EMPTY_ONLY }
    case 'char':
      return charFacts(node.set)
    case 'group':
      return factsOf(node.body)
    case 'repeat':
      return repeatFacts(factsOf(node.item), node.min, node.max)
    case 'alt':
      return altFacts(node.branches.map((branch) => factsOf(sequence(branch))))
    case 'seq':
      return seqFacts(node.items)
  }
}

const EMPTY_ONLY: ReadonlySet<string> = new Set([''])

function charFacts(set: CharSet): Facts {
  if (set === 'any') return {}
  let size = 0
  for (const [lo, hi] of set) size += hi - lo + 1
  if (size > MAX_EXACT) return {}
  const exact = new Set<string>()
  for (const [lo, hi] of set) for (let cp = lo; cp <= hi; cp++) exact.add(String.fromCodePoint(cp))
  return { exact, required: exact }
}

function repeatFacts(item: Facts, min: number, max: number): Facts {
  if (min === 1 && max === 1) return item
  if (min === 0) return max === 1 && item.exact ? { exact: new Set([...item.exact, '']) } : {}
  // At least one repetition: whatever one of them must hold, the whole must.
  const required = item.required ?? nonEmpty(item.exact)
  return required ? { required } : {}
}

function altFacts(branches: Facts[]): Facts {
  if (branches.every((b) => b.exact)) {
    const exact = new Set(branches.flatMap((b) => [...b.exact!]))
    if (exact.size <= MAX_EXACT) return exact.has('') ? { exact } : { exact, required: exact }
  }
  const required = new Set<string>()
  for (const b of branches) {
    const own = b.required ?? nonEmpty(b.exact)
    if (own === undefined) return {}
    for (const text of own) required.add(text)
  }
  return { required }
}

/**
 * A sequence's exact texts are the products of its items' while they stay few. Each run of items
 * whose product could be formed is a piece every match holds, and so is each item's own requirement:
 * the best of them is the sequence's. A run that the rest of the sequence must follow holds one of
 * the rest's first characters after it (`Disconnected` then ` from`: `Disconnected `, which
 * dovecot's `Disconnected: Logged out` does not hold).
 */
function seqFacts(nodes: readonly RegexNode[]): Facts {
  let run: ReadonlySet<string> = EMPTY_ONLY
  let whole = true
  let best: ReadonlySet<string> | undefined
  for (const [i, node] of nodes.entries()) {
    const item = factsOf(node)
    const product = item.exact && product2(run, item.exact)
    if (product) {
      run = product
      continue
    }
    whole = false
    best = better(best, nonEmpty(run))
    const next = nextChars(nodes, i)
    if (next) best = better(best, nonEmpty(product2(run, next)))
    best = better(best, item.required)
    run = item.exact ?? EMPTY_ONLY
  }
  best = better(best, nonEmpty(run))
  return whole ? { exact: run, ...(best && { required: best }) } : best ? { required: best } : {}
}

/** The characters one of which every match of `nodes` from `from` on begins with, when it may not be empty and they are few. */
function nextChars(nodes: readonly RegexNode[], from: number): ReadonlySet<string> | undefined {
  const start = seqStart(nodes, from)
  return start.empty ? undefined : charFacts(start.set).exact
}

/** Every text of `a` followed by one of `b`; undefined beyond MAX_EXACT. */
function product2(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> | undefined {
  if (a.size * b.size > MAX_EXACT) return undefined
  const out = new Set<string>()
  for (const x of a) for (const y of b) out.add(x + y)
  return out
}

function nonEmpty(texts: ReadonlySet<string> | undefined): ReadonlySet<string> | undefined {
  return texts === undefined || texts.has('') ? undefined : texts
}

/** The set whose shortest text is longer (a rarer one to find), then the smaller. */
function better(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): ReadonlySet<string> | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  const sa = shortest(a)
  const sb = shortest(b)
  return sa > sb || (sa === sb && a.size <= b.size) ? a : b
}

export function shortest(texts: Iterable<string>): number {
  let n = Infinity
  for (const t of texts) n = Math.min(n, t.length)
  return n
}
