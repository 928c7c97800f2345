import { startsWithWordChar, type CompiledFilter } from './compiled-filter.js'
import { FilterMatcher, matchableLine, type LineResult, type MatchOptions } from './filter-matcher.js'
import { NONE, PrefilterSet } from './prefilter-set.js'

export interface StreamMatch { filter: number; result: LineResult }

/**
 * The prefilter of a set of filters, compiled once and shared by every stream those filters read:
 * one PrefilterSet holds the prefilter of every failregex and ignoreregex of every filter whose
 * prefilter may run on the raw line, grouped by filter. Immutable. For the built-in filters its
 * literals take ~70 ms to work out and make an automaton of ~1 MB, and its Sets' DFAs grow as they
 * see lines, so a fleet's thousand hosts must not each build their own.
 */
export class StreamPrefilter {
  readonly set?: PrefilterSet
  /** Set pattern index → [filter index, failregex index (ignoreregexes follow them)], in filter order: a filter's patterns are consecutive. */
  readonly owner: readonly (readonly [number, number])[]
  /** Filters that must see every line. */
  readonly always: readonly number[]
  /** Filters in the Set whose raw-line prefilter holds only for lines starting with a word character. */
  readonly wordStart: ReadonlySet<number>

  constructor(readonly filters: readonly CompiledFilter[]) {
    const sources: string[] = []
    const owner: [number, number][] = []
    const always: number[] = []
    const wordStart = new Set<number>()
    filters.forEach((f, i) => {
      if (f.rawPrefilter === 'never') { always.push(i); return }
      if (f.rawPrefilter === 'word-start') wordStart.add(i)
      f.prefilterSources.forEach((source, j) => { sources.push(source); owner.push([i, j]) })
    })
    if (sources.length > 0) this.set = new PrefilterSet(sources, owner.map(([filter]) => filter))
    this.owner = owner
    this.always = always
    this.wordStart = wordStart
  }
}

/**
 * Runs every filter that reads one stream over its lines. A line none of the filters' prefilters
 * (StreamPrefilter) can match costs a single scan for their literals, and in a candidate filter only
 * the failregexes the prefilter names run. Filters that cannot be prefiltered on this raw line (multi-line
 * buffers, dates elsewhere than at the line start) process it themselves and prefilter once their
 * date is cut out. The filters' per-stream state (multi-line buffers, last date) is this object's.
 */
export class StreamMatcher {
  /**
   * Each filter's matcher, made on the first line that reaches it: behind the prefilter most filters
   * of a stream never see a line, and a fleet's thousands of streams would each pay for all of them.
   */
  private readonly matchers: (FilterMatcher | undefined)[]
  private readonly prefilter: StreamPrefilter
  private readonly optionsOf: (filter: number) => MatchOptions

  /** `opts`: the same for every filter, or each filter's by its index. */
  constructor(filters: readonly CompiledFilter[] | StreamPrefilter, opts: MatchOptions | ((filter: number) => MatchOptions) = {}) {
    this.prefilter = filters instanceof StreamPrefilter ? filters : new StreamPrefilter(filters)
    this.matchers = new Array<FilterMatcher | undefined>(this.prefilter.filters.length)
    this.optionsOf = typeof opts === 'function' ? opts : () => opts
  }

  /** The filters' results for one line, only for filters that matched or ignored it. */
  processLine(raw: Buffer, time?: number): readonly StreamMatch[] {
    const line = matchableLine(raw)
    const { set, owner, wordStart, always } = this.prefilter
    const rawHolds = startsWithWordChar(line)
    const hits = set ? set.match(line) : NONE
    // Most lines: no prefilter names them and every filter may be prefiltered on the raw line.
    if (hits.length === 0 && rawHolds && always.length === 0) return NONE
    const out: StreamMatch[] = []
    // The hits come ascending, so each filter's are one run: its candidates.
    for (let k = 0; k < hits.length;) {
      const filter = owner[hits[k]!]![0]
      const regexes: number[] = []
      for (; k < hits.length && owner[hits[k]!]![0] === filter; k++) regexes.push(owner[hits[k]!]![1])
      if (rawHolds || !wordStart.has(filter)) this.collect(out, filter, this.matcher(filter).processMatchable(line, time, regexes))
    }
    if (!rawHolds) for (const i of wordStart) this.collect(out, i, this.matcher(i).processMatchable(line, time))
    for (const i of always) this.collect(out, i, this.matcher(i).processMatchable(line, time))
    return out
  }

  private matcher(i: number): FilterMatcher {
    return this.matchers[i] ??= new FilterMatcher(this.prefilter.filters[i]!, this.optionsOf(i))
  }

  private collect(out: StreamMatch[], filter: number, result: LineResult): void {
    if (result.outcome !== 'missed') out.push({ filter, result })
  }
}
