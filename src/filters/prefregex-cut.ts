import RE2 from 're2'
import { FailRegex, type FailRegexOptions } from './failregex.js'

/** What a prefregex gives the failregexes: the connection id, if it captures one, and the text they run on. */
export interface PrefregexCutResult {
  mlfid?: string
  content: Buffer
  /** The groups of the part after the content (postfix's `sasl_username=<F-USER>`), when it took any. */
  fields?: Record<string, string>
}

/**
 * fail2ban's usual prefregex, `^<F-MLFID>A</F-MLFID>B<F-CONTENT>.+</F-CONTENT>$` (the MLFID group
 * optional), cut with match ends alone: no submatch search, which costs ~2.5 µs a line against
 * ~0.2 µs for a DFA scan (and its groups extracted through the binding on top).
 *
 * RE2 finds the leftmost-first end of `^A`, and of B from there, with its DFA. Leftmost-first picks
 * the first path in priority order, and in the whole prefregex that is A's first path, then B's
 * first path after it (B never fails: it matches the empty text and asserts nothing), then the rest
 * as content — as long as the rest is not empty and holds no newline, which `.+$` needs. So the two
 * ends are where the prefregex puts its groups' bounds, and every other case is left to the full
 * regex: `cut` then answers undefined. B is run alone from A's end, not as `^AB` from the start:
 * A is a syslog prefix line, the longest part, and scanning it twice was a third of a line's cost.
 *
 * A lazy content followed by a tail, `<F-CONTENT>.+?</F-CONTENT>T$` (postfix's, whose submatch
 * search costs ~8 µs on a rejection line), is cut too when T asserts nothing and matches the empty
 * text: the content still takes any rest that is not empty, and ends where T$ first matches after
 * its first character — the leftmost match of T$ there, which the DFA finds. T's groups are then
 * extracted from the tail alone, a few bytes or none.
 */
export class PrefregexCut {
  private constructor(
    /** `^A` with the global flag: a test() leaves the match end in lastIndex. Absent without an MLFID group. */
    private readonly mlfidEnd: RE2 | undefined,
    /** B, sticky, run from the end of `^A`; without an MLFID group, `^B`, global. */
    private readonly contentStart: RE2,
    /**
     * For a lazy content: `T$` to find where the tail starts, `^T$` for its groups, and those groups
     * on an empty tail, the usual case (postfix's lines mostly end without `sasl_username=`), where a
     * submatch search would cost more than the rest of the cut.
     */
    private readonly tail: { readonly start: RE2; readonly groups: FailRegex; readonly empty: Readonly<Record<string, string>> | undefined } | undefined,
  ) {}

  /** The cut of a prefregex of that shape, with A and B free of groups and global flags; undefined otherwise. */
  static of(pattern: string, opts: FailRegexOptions): PrefregexCut | undefined {
    if (opts.multiline) return undefined
    const shape = SHAPE.exec(pattern)
    if (shape === null || GLOBAL_FLAGS.test(pattern)) return undefined
    const [, a, b, lazy, t] = shape as unknown as [string, string | undefined, string, string, string]
    let tail: PrefregexCut['tail']
    if (lazy !== '') {
      tail = tailOf(t, opts)
      if (tail === undefined) return undefined
    } else if (t !== '') {
      return undefined
    }
    if (a === undefined) {
      const contentStart = endFinder(b, opts)
      return contentStart && new PrefregexCut(undefined, contentStart, tail)
    }
    if (ASSERTION.test(b) || !matchesEmpty(b, opts)) return undefined
    const mlfidEnd = endFinder(a, opts)
    const contentStart = endFinder(b, opts, 'yu')
    return mlfidEnd && contentStart && new PrefregexCut(mlfidEnd, contentStart, tail)
  }

  /** The prefregex's groups for `text`; null when it does not match; undefined when this cut cannot tell. */
  cut(text: Buffer): PrefregexCutResult | null | undefined {
    const mlfidEnd = this.mlfidEnd === undefined ? 0 : endOf(this.mlfidEnd, text)
    if (mlfidEnd < 0) return null
    const start = endOf(this.contentStart, text, mlfidEnd)
    if (start < 0) return null
    if (start >= text.length || text.indexOf(NEWLINE, start) >= 0) return undefined
    let content: Buffer
    let fields: Record<string, string> | undefined
    if (this.tail === undefined) {
      content = text.subarray(start)
    } else {
      // The content takes one character at least: T$ is looked for after it.
      let from = start + 1
      while (from < text.length && (text[from]! & 0xc0) === 0x80) from++
      const at = this.tail.start.search(text.subarray(from))
      if (at < 0) return undefined
      if (from + at === text.length) {
        fields = this.tail.empty
      } else {
        const m = this.tail.groups.exec(text.subarray(from + at))
        if (m === null) return undefined
        if (Object.keys(m.fields).length > 0) fields = m.fields
      }
      content = text.subarray(start, from + at)
    }
    const result: PrefregexCutResult = { content, ...(fields !== undefined && { fields }) }
    if (this.mlfidEnd !== undefined) result.mlfid = text.toString('utf8', 0, mlfidEnd)
    return result
  }
}

/** The tail T of a lazy content: found as the leftmost match of `T$`, its groups from `^T$`; undefined unless T asserts nothing and matches the empty text. */
function tailOf(t: string, opts: FailRegexOptions): PrefregexCut['tail'] {
  if (ASSERTION.test(t) || t.includes('<F-MLFID>')) return undefined
  // `^T$` tells whether T matches the empty text and then gives T's groups: compiled once for both.
  const groups = compiled(`^(?:${t})$`, opts)
  const onEmpty = groups?.exec(EMPTY)
  if (!groups || !onEmpty) return undefined
  const start = compiled(`(?:${t})$`, opts)
  const empty = Object.keys(onEmpty.fields).length > 0 ? Object.freeze(onEmpty.fields) : undefined
  return start && { start: new RE2(start.source, 'u'), groups, empty }
}

const NEWLINE = 0x0a
/** `^`, an optional MLFID group, B, a content group of `.+` or `.+?`, and T (empty unless lazy) before the closing `$`. */
const SHAPE = /^\^(?:<F-MLFID>(.*)<\/F-MLFID>)?(.*)<F-CONTENT>\.\+(\??)<\/F-CONTENT>(.*)\$$/s
/** Python's global flags apply to the whole pattern, not to the parts compiled here alone. */
const GLOBAL_FLAGS = /\(\?[aiLmsux]+\)/
/** Anything B could assert, which might hold where B is empty in one place and not in another. */
const ASSERTION = /[\^$]|\\[bBAZz]|\(\?[=!<]/

/**
 * `source` by fail2ban's rules, for its match ends: anchored at the start, global (`gu`), or at
 * lastIndex, sticky (`yu`); undefined when it captures a group or does not compile.
 */
function endFinder(source: string, opts: FailRegexOptions, flags: 'gu' | 'yu' = 'gu'): RE2 | undefined {
  const regex = compiled(flags === 'gu' ? `^(?:${source})` : `(?:${source})`, opts)
  return regex === undefined || regex.fieldNames.length > 0 ? undefined : new RE2(regex.source, flags)
}

function matchesEmpty(source: string, opts: FailRegexOptions): boolean {
  return compiled(`^(?:${source})$`, opts)?.test(EMPTY) === true
}

function compiled(source: string, opts: FailRegexOptions): FailRegex | undefined {
  try {
    return FailRegex.compile(source, opts)
  } catch {
    // A part that does not compile alone (a group split by the tags): the full regex does the work.
    return undefined
  }
}

const EMPTY = Buffer.alloc(0)

/** The end of the leftmost-first match of an anchored or sticky regex in `text` from byte `from`, in bytes; -1 when none. */
function endOf(regex: RE2, text: Buffer, from = 0): number {
  regex.lastIndex = from
  return regex.test(text) ? regex.lastIndex : -1
}
