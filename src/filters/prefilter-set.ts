import RE2 from 're2'
import { requiredLiterals, shortest } from './required-literals.js'

type RE2Set = InstanceType<typeof RE2.Set>

/**
 * An RE2.Set of prefilters behind a literal gate: `match` names the sources a text matches, as the
 * Set alone does, but most lines of a busy log hold none of the literals one of which each source's
 * every match holds (requiredLiterals), and the gate, a Set of those literals alone, tells them apart
 * for about half the cost of the prefilters' own scan: scores of unanchored regexes make a DFA of many
 * more states than the literals do, and RE2 walks a text through it byte by byte either way.
 */
export class PrefilterSet {
  private readonly set: RE2Set
  /**
   * Made on the first line: a stream's filters each have a PrefilterSet that the stream's own
   * (StreamPrefilter) mostly stands in for, and their literals cost about a millisecond a filter to work out.
   * Null when some source holds no literal long enough to be rare: the gate would let every line through.
   */
  private gate: RE2Set | null | undefined

  constructor(private readonly sources: readonly string[]) {
    this.set = new RE2.Set(sources, 'u')
  }

  /** The indexes of the sources `text` matches, ascending. */
  match(text: Buffer): readonly number[] {
    if (this.gate === undefined) this.gate = gateOf(this.sources)
    if (this.gate !== null && !this.gate.test(text)) return NONE
    const hits = this.set.match(text)
    // The binding sorts them already; RE2 does not promise it.
    if (hits.length > 1) hits.sort((a, b) => a - b)
    return hits
  }
}

/** Most lines match nothing: they share one empty list, which no reader may change. */
export const NONE: readonly never[] = Object.freeze([])

/** A gate literal shorter than this is in most lines. */
const MIN_LITERAL = 3

/** A Set of one literal at least of each source, none holding another (which would find the same lines); null when a source has none long enough. */
function gateOf(sources: readonly string[]): RE2Set | null {
  const all = new Set<string>()
  for (const source of sources) {
    const literals = requiredLiterals(source)
    if (literals === undefined || shortest(literals) < MIN_LITERAL) return null
    for (const literal of literals) all.add(literal)
  }
  const sorted = [...all].sort((a, b) => a.length - b.length)
  const kept: string[] = []
  for (const literal of sorted) if (!kept.some((k) => literal.includes(k))) kept.push(literal)
  return new RE2.Set(kept.map(escapeLiteral), 'u')
}

/** A literal as RE2 source: every character but letters, digits and space as `\x{...}`. */
function escapeLiteral(literal: string): string {
  let out = ''
  for (const c of literal) out += /[A-Za-z0-9 ]/.test(c) ? c : `\\x{${c.codePointAt(0)!.toString(16)}}`
  return out
}
