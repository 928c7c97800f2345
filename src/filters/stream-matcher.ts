import RE2 from 're2'
import { startsWithWordChar, type CompiledFilter } from './compiled-filter.js'
import { FilterMatcher, matchableLine, type LineResult, type MatchOptions } from './filter-matcher.js'

type RE2Set = InstanceType<typeof RE2.Set>

export interface StreamMatch { filter: number; result: LineResult }

/**
 * Runs every filter that reads one stream over its lines. One RE2.Set holds the prefilter of every
 * failregex of every filter whose prefilter may run on the raw line, so a line none of them can match
 * costs a single scan, and in a candidate filter only the failregexes the Set names run. Filters that
 * cannot be prefiltered on this raw line (multi-line buffers, dates elsewhere than at the line start)
 * process it themselves and prefilter once their date is cut out.
 */
export class StreamMatcher {
  readonly matchers: FilterMatcher[]
  private readonly set?: RE2Set
  /** Set pattern index → [filter index, failregex index]. */
  private readonly owner: [number, number][] = []
  /** Filters that must see every line. */
  private readonly always: number[] = []
  /** Filters in the Set whose raw-line prefilter holds only for lines starting with a word character. */
  private readonly wordStart = new Set<number>()

  constructor(filters: readonly CompiledFilter[], opts: MatchOptions = {}) {
    this.matchers = filters.map((f) => new FilterMatcher(f, opts))
    const sources: string[] = []
    filters.forEach((f, i) => {
      if (f.rawPrefilter === 'never') { this.always.push(i); return }
      if (f.rawPrefilter === 'word-start') this.wordStart.add(i)
      f.failregex.forEach((r, j) => { sources.push(r.prefilterSource); this.owner.push([i, j]) })
    })
    if (sources.length > 0) this.set = new RE2.Set(sources, 'u')
  }

  /** The filters' results for one line, only for filters that matched or ignored it. */
  processLine(raw: Buffer, time?: number): StreamMatch[] {
    const line = matchableLine(raw)
    const out: StreamMatch[] = []
    const rawHolds = startsWithWordChar(line)
    const hits = this.set ? this.set.match(line) : []
    // Most lines of a busy log hit nothing: they allocate nothing more.
    if (hits.length > 0) {
      const candidates = new Map<number, number[]>()
      for (const h of hits) {
        const [filter, regex] = this.owner[h]!
        if (!rawHolds && this.wordStart.has(filter)) continue
        const list = candidates.get(filter)
        if (list) list.push(regex)
        else candidates.set(filter, [regex])
      }
      for (const [i, regexes] of candidates) this.collect(out, i, this.matchers[i]!.processLine(line, time, regexes))
    }
    if (!rawHolds) for (const i of this.wordStart) this.collect(out, i, this.matchers[i]!.processLine(line, time))
    for (const i of this.always) this.collect(out, i, this.matchers[i]!.processLine(line, time))
    return out
  }

  private collect(out: StreamMatch[], filter: number, result: LineResult): void {
    if (result.outcome !== 'missed') out.push({ filter, result })
  }
}
