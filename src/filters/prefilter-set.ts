import RE2 from 're2'
import { LiteralSearch } from './literal-search.js'
import { analysis } from './regex-analyses.js'
import { requiredLiterals, shortest } from './required-literals.js'

type RE2Set = InstanceType<typeof RE2.Set>

/**
 * The prefilters of a list of regexes (one source each), asked which of them may match a line. Most
 * lines of a busy log hold none of the literals one of which each source's every match holds
 * (requiredLiterals); a line that holds some may match only the sources of those literals. One pass
 * of a LiteralSearch tells both, for about the cost of a Set scan of the literals alone and a fifth
 * of the sources' own: scores of unanchored regexes make a DFA of many more states than the
 * literals do. Where some source holds no literal long enough to be rare, an RE2.Set of the sources
 * answers instead.
 *
 * The answer is a superset of the sources that match, not those exactly: each candidate's regex
 * still runs. On a mail log the two differ on few lines (sshd's `Received disconnect` holds the
 * literal of two failregexes and matches one), and each of them costs a regex test, less than the
 * Set scan that would have told them apart on every line that holds a literal.
 */
export class PrefilterSet {
  /** Made on the first line: a stream's filters each have a PrefilterSet that the stream's own (StreamPrefilter) mostly stands in for, and their literals cost about a millisecond a filter to work out. */
  private gate: Gate | null | undefined
  private set?: RE2Set

  /** `groups`: each source's group, for a stream's set of several filters' sources: its filter (see sourcesHolding). */
  constructor(private readonly sources: readonly string[], private readonly groups?: readonly number[]) {}

  /** Works out the literals now, not on the first line (see FailRegex.prepare). */
  prepare(): void {
    this.literalGate()
  }

  /** The indexes of the sources `text` may match, ascending: every source it matches, and maybe others. */
  match(text: Buffer): readonly number[] {
    const gate = this.literalGate()
    if (gate === null) return this.exact(text)
    const found = gate.search.find(text)
    if (found === undefined) return NONE
    if (found.length === 1) return this.sourcesHolding(gate, found[0]!, text)
    const union = new Set<number>()
    for (const literal of found) for (const source of this.sourcesHolding(gate, literal, text)) union.add(source)
    return union.size === 0 ? NONE : [...union].sort((a, b) => a - b)
  }

  private literalGate(): Gate | null {
    if (this.gate === undefined) this.gate = gateOf(this.sources, this.groups)
    return this.gate
  }

  /**
   * The sources that require `literal`, which `text` holds. A false candidate in a stream's set makes
   * its filter find the line's date and test a regex, more than a Set of only the literal's sources
   * costs to tell which of them match: a Set checks a literal several filters require, and a short
   * one (3proxy's `01 ` is in every time of day). In one filter's own set the filter has its date by
   * then (see FilterMatcher), and the Set would cost what running the regexes does.
   */
  private sourcesHolding(gate: Gate, literal: number, text: Buffer): readonly number[] {
    const sources = gate.sourcesOf[literal]!
    if (gate.trusted[literal]) return sources
    const set = gate.checks[literal] ??= new RE2.Set(sources.map((i) => this.sources[i]!), 'u')
    const hits = set.match(text)
    if (hits.length === sources.length) return sources
    return hits.length === 0 ? NONE : hits.map((h) => sources[h]!).sort((a, b) => a - b)
  }

  private exact(text: Buffer): readonly number[] {
    const hits = (this.set ??= new RE2.Set(this.sources, 'u')).match(text)
    // The binding sorts them already; RE2 does not promise it.
    if (hits.length > 1) hits.sort((a, b) => a - b)
    return hits
  }
}

/**
 * Most lines match nothing: they share one empty list, which no reader may change (its type says so).
 * Not frozen: V8 iterates a mix of frozen and unfrozen arrays with for...of generically, allocating
 * a result object a step, and every reader of candidates and results meets both.
 */
export const NONE: readonly never[] = []

interface Gate {
  search: LiteralSearch
  /** Literal index → whether a line holding it goes to its sources unchecked (see sourcesHolding). */
  trusted: readonly boolean[]
  /** Literal index → a Set of its sources, for a literal that is not trusted, made on its first line. */
  checks: (RE2Set | undefined)[]
  /** Literal index → the sources whose every match holds it or a longer literal that holds it, ascending; read-only (not frozen, see NONE), for `match` returns them as they are. */
  sourcesOf: (readonly number[])[]
}

/** A gate literal shorter than this is in most lines. */
const MIN_LITERAL = 3
/** In a set of several groups, a line holding a literal this long (in UTF-16 units, as requiredLiterals gives them) mostly matches a source that requires it. */
const TRUSTED_LITERAL = 8

/** The literals of every source, none holding another (which would find the same lines); null when a source has none long enough. */
function gateOf(sources: readonly string[], groups: readonly number[] | undefined): Gate | null {
  const literalsOf: string[][] = []
  for (const source of sources) {
    const literals = analysis('required-literals', [source], () => requiredLiterals(source))
    if (literals === undefined || shortest(literals) < MIN_LITERAL) return null
    literalsOf.push(literals)
  }
  const sorted = [...new Set(literalsOf.flat())].sort((a, b) => a.length - b.length)
  const kept: string[] = []
  for (const literal of sorted) if (!kept.some((k) => literal.includes(k))) kept.push(literal)
  const owners = kept.map(() => new Set<number>())
  literalsOf.forEach((literals, source) => {
    // The longest kept literal inside each: the one fewest other lines hold.
    for (const literal of literals) {
      let best = -1
      kept.forEach((k, i) => { if (literal.includes(k) && (best < 0 || k.length > kept[best]!.length)) best = i })
      owners[best]!.add(source)
    }
  })
  const sourcesOf: (readonly number[])[] = owners.map((s) => [...s].sort((a, b) => a - b))
  const trusted = groups === undefined ? kept.map(() => true)
    : kept.map((literal, i) => literal.length >= TRUSTED_LITERAL && new Set(sourcesOf[i]!.map((s) => groups[s])).size === 1)
  return { search: new LiteralSearch(kept), trusted, checks: [], sourcesOf }
}
