import RE2 from 're2'
import { FilterMatcher, type LineResult, type MatchOptions } from './filter-matcher.js'
import type { CompiledFilter } from './compiled-filter.js'

type RE2Set = InstanceType<typeof RE2.Set>

export interface StreamMatch { filter: number; result: LineResult }

/**
 * Runs every filter that reads one stream over its lines. One RE2.Set holds the prefilter of every
 * failregex of every filter, so a line no filter can match costs a single scan; only the filters
 * whose failregexes the Set reports (and filters that cannot be prefiltered) process the line.
 */
export class StreamMatcher {
  readonly matchers: FilterMatcher[]
  private readonly set?: RE2Set
  /** Set pattern index → filter index. */
  private readonly owner: number[] = []
  /** Filters that must see every line (multi-line buffers, dates not at the line start). */
  private readonly always: number[] = []

  constructor(filters: readonly CompiledFilter[], opts: MatchOptions = {}) {
    this.matchers = filters.map((f) => new FilterMatcher(f, opts))
    const sources: string[] = []
    filters.forEach((f, i) => {
      if (f.prefilter === undefined) { this.always.push(i); return }
      for (const r of f.failregex) { sources.push(r.prefilterSource); this.owner.push(i) }
    })
    if (sources.length > 0) this.set = new RE2.Set(sources, 'u')
  }

  /** The filters' results for one line, only for filters that matched or ignored it. */
  processLine(line: Buffer, time?: number): StreamMatch[] {
    const out: StreamMatch[] = []
    const candidates = this.candidates(line)
    for (const i of candidates) {
      const result = this.matchers[i]!.processLine(line, time)
      if (result.outcome !== 'missed') out.push({ filter: i, result })
    }
    return out
  }

  private candidates(line: Buffer): number[] {
    const hits = this.set ? this.set.match(line) : []
    if (hits.length === 0) return this.always
    const filters = new Set<number>(this.always)
    for (const h of hits) filters.add(this.owner[h]!)
    return [...filters].sort((a, b) => a - b)
  }
}
