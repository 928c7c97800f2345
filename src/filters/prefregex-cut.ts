import RE2 from 're2'
import { FailRegex, type FailRegexOptions } from './failregex.js'
import { matchStart, parseRegexTree, printRegex, type RegexNode } from './regex-tree.js'

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
 *
 * B may have groups when there is no tail: they are extracted from B's own text, a few bytes, as
 * `^B$` finds them there. B's leftmost-first path is its highest-priority one, so also the
 * highest-priority one of those ending where it ends. Without an MLFID group, such a B (dovecot's,
 * the address an auth process writes before its message) is first cut in two where the rest holds
 * all of them: a head A free of groups, the syslog prefix, and the rest as B, which must then
 * match the empty text and assert nothing, as any B after an A.
 */
export class PrefregexCut {
  private constructor(
    /** `^A` with the global flag: a test() leaves the match end in lastIndex. Absent without an A. */
    private readonly headEnd: RE2 | undefined,
    /** B, sticky, run from the end of `^A`; without an A, `^B`, global. */
    private readonly contentStart: RE2,
    /**
     * For a lazy content: `T$` to find where the tail starts, `^T$` for its groups, and those groups
     * on an empty tail, the usual case (postfix's lines mostly end without `sasl_username=`), where a
     * submatch search would cost more than the rest of the cut.
     */
    private readonly tail: { readonly start: RE2; readonly groups: FailRegex; readonly empty: Readonly<Record<string, string>> | undefined } | undefined,
    /** Whether A is the MLFID group's text. */
    private readonly mlfid: boolean,
    /**
     * The bytes a non-empty match of B may begin with (1 each); undefined: any. B mostly matches
     * nothing after a syslog prefix (sshd's `error: `), and telling so costs a lookup, not a regex call.
     */
    private readonly bStarts: Uint8Array | undefined,
    /**
     * `^B$` for B's groups, when it has any; and what finds text one of them could capture, which
     * most B texts lack ("imap-login: "), where a submatch search would cost more than the whole cut.
     */
    private readonly groups?: { readonly regex: FailRegex; readonly capturable: RE2 | undefined },
  ) {}

  /** The cut of a prefregex of that shape, with A free of groups, B's only without a tail, and no global flags; undefined otherwise. */
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
      if (contentStart !== undefined) return new PrefregexCut(undefined, contentStart, tail, false, undefined)
      const split = tail === undefined ? splitHead(b) : undefined
      return split && PrefregexCut.ofParts(split.head, split.rest, opts, undefined, false)
    }
    return PrefregexCut.ofParts(a, b, opts, tail, true)
  }

  /** `^AB...`: B runs from A's end, so it must match the empty text and assert nothing; only without a tail may it have groups. */
  private static ofParts(a: string, b: string, opts: FailRegexOptions, tail: PrefregexCut['tail'], mlfid: boolean): PrefregexCut | undefined {
    if (ASSERTION.test(withoutClasses(b)) || !matchesEmpty(b, opts)) return undefined
    // B's groups would come before a tail's, and fail2ban merges alt_ groups across both: only B's or only T's.
    const regex = tail === undefined ? groupsOf(b, opts) : undefined
    const headEnd = endFinder(a, opts)
    const contentStart = endFinder(b, opts, 'yu', regex !== undefined)
    const groups = regex && { regex, capturable: capturable(regex) }
    return headEnd && contentStart && new PrefregexCut(headEnd, contentStart, tail, mlfid, startBytes(b, opts), groups)
  }

  /** See FailRegex.prepare. */
  prepare(): void {
    this.tail?.groups.prepare()
    this.groups?.regex.prepare()
  }

  /** The prefregex's groups for `text`; null when it does not match; undefined when this cut cannot tell. */
  cut(text: Buffer): PrefregexCutResult | null | undefined {
    const headEnd = this.headEnd === undefined ? 0 : endOf(this.headEnd, text)
    if (headEnd < 0) return null
    // B matches the empty text and asserts nothing: where no match of it can begin, it ends where it starts.
    const start = this.bStarts !== undefined && this.bStarts[text[headEnd] ?? 0] === 0 ? headEnd : endOf(this.contentStart, text, headEnd)
    if (start < 0) return null
    if (start >= text.length || text.indexOf(NEWLINE, start) >= 0) return undefined
    let content: Buffer
    let fields: Record<string, string> | undefined
    const groups = this.groups
    if (groups !== undefined && (groups.capturable === undefined || groups.capturable.test(text.subarray(headEnd, start)))) {
      const m = groups.regex.exec(text.subarray(headEnd, start))
      if (m === null) return undefined
      if (Object.keys(m.fields).length > 0) fields = m.fields
    }
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
    if (this.mlfid) result.mlfid = text.toString('utf8', 0, headEnd)
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
 * lastIndex, sticky (`yu`); undefined when it does not compile, or captures a group and `withGroups`
 * (they are extracted apart) is not said.
 */
function endFinder(source: string, opts: FailRegexOptions, flags: 'gu' | 'yu' = 'gu', withGroups = false): RE2 | undefined {
  const regex = compiled(flags === 'gu' ? `^(?:${source})` : `(?:${source})`, opts)
  return regex === undefined || (regex.fieldNames.length > 0 && !withGroups) ? undefined : new RE2(regex.source, flags)
}

/** A table of the bytes a non-empty match of `source` may begin with; undefined when that may be any. */
function startBytes(source: string, opts: FailRegexOptions): Uint8Array | undefined {
  const regex = compiled(`(?:${source})`, opts)
  const tree = regex && parseRegexTree(regex.source)
  const chars = tree && matchStart(tree).set
  if (chars === undefined || chars === 'any') return undefined
  const table = new Uint8Array(256)
  for (const [lo, hi] of chars) {
    for (let c = lo; c <= Math.min(hi, 0x7f); c++) table[c] = 1
    // A character beyond ASCII begins with a lead byte, 0xc2 and up.
    if (hi >= 0x80) table.fill(1, 0x80)
  }
  return table
}

/** `^(?:source)$`, for the groups of a text `source` matches whole; undefined when it has none. */
function groupsOf(source: string, opts: FailRegexOptions): FailRegex | undefined {
  const regex = compiled(`^(?:${source})$`, opts)
  return regex !== undefined && regex.fieldNames.length > 0 ? regex : undefined
}

/**
 * A regex that finds, anywhere in a text, what one of `regex`'s named groups could capture: a group
 * takes part in a match only on such a text. Undefined when a group could capture the empty text, or
 * asserts something, which its text alone would not tell as the whole line does.
 */
function capturable(regex: FailRegex): RE2 | undefined {
  const tree = parseRegexTree(regex.source)
  if (tree === undefined) return undefined
  const bodies: string[] = []
  let asserts = false
  const visit = (node: RegexNode, inGroup: boolean): void => {
    switch (node.kind) {
      case 'assert':
        asserts ||= inGroup
        return
      case 'char':
        return
      case 'group':
        if (!inGroup && node.name !== undefined) bodies.push(printRegex(node.body))
        return visit(node.body, inGroup || node.name !== undefined)
      case 'seq':
        return node.items.forEach((item) => visit(item, inGroup))
      case 'alt':
        return node.branches.forEach((branch) => branch.forEach((item) => visit(item, inGroup)))
      case 'repeat':
        return visit(node.item, inGroup)
    }
  }
  visit(tree, false)
  if (asserts || bodies.length === 0) return undefined
  const found = new RE2(bodies.map((body) => `(?:${body})`).join('|'), 'u')
  return found.test(EMPTY) ? undefined : found
}

/**
 * `source` cut before its first top-level item that holds a group (a fail2ban tag or a named group):
 * the head, and the rest; undefined when it has a top-level alternation, or the cut leaves either empty.
 */
function splitHead(source: string): { head: string; rest: string } | undefined {
  const items = topLevelItems(source)
  const first = items?.findIndex((item) => GROUP.test(item)) ?? -1
  if (items === undefined || first <= 0) return undefined
  const head = items.slice(0, first).join('')
  return { head, rest: source.slice(head.length) }
}

/** A fail2ban tag (`<HOST>`, `<F-USER>`, ...) or a named group: what makes a field. */
const GROUP = /<\/?[A-Z][\w-]*>|\(\?P</

/** A Python regex's top-level items, each with its quantifier; undefined for a top-level alternation or what does not scan. */
function topLevelItems(source: string): string[] | undefined {
  const items: string[] = []
  for (let i = 0; i < source.length;) {
    const start = i
    const tag = TAG_GROUP.exec(source.slice(i))
    if (source[i] === '|' || source[i] === ')') return undefined
    if (source[i] === '\\') i += escapeLength(source, i)
    else if (source[i] === '[') i = classEnd(source, i)
    else if (source[i] === '(') i = groupEnd(source, i)
    else if (tag !== null) {
      const close = source.indexOf(`</${tag[1]}>`, i)
      if (close < 0) return undefined
      i = close + tag[1]!.length + 3
    } else i++
    if (i < 0) return undefined
    const quantifier = QUANTIFIER.exec(source.slice(i))
    if (quantifier !== null) i += quantifier[0].length
    items.push(source.slice(start, i))
  }
  return items
}

/** A fail2ban group tag, `<F-NAME>`, whose text runs to `</F-NAME>`. */
const TAG_GROUP = /^<(F-[\w-]+)>/
const QUANTIFIER = /^(?:[*+?]|\{\d*(?:,\d*)?\})[?+]?/

/** The length of the escape at `i`: `\xhh`, `\uhhhh`, `\Uhhhhhhhh`, `\N{...}`, an octal `\0oo`, or one character. */
function escapeLength(source: string, i: number): number {
  const c = source[i + 1]
  if (c === 'x') return 4
  if (c === 'u') return 6
  if (c === 'U') return 10
  if (c === 'N' && source[i + 2] === '{') return source.indexOf('}', i) < 0 ? source.length - i : source.indexOf('}', i) + 1 - i
  if (c === '0') return 2 + (/^[0-7]{0,2}/.exec(source.slice(i + 2))?.[0].length ?? 0)
  return 2
}

/** `source` without its character classes, where `^` and `$` are characters; an unclosed class is kept. */
function withoutClasses(source: string): string {
  let out = ''
  for (let i = 0; i < source.length;) {
    if (source[i] === '\\') {
      out += source.slice(i, i + 2)
      i += 2
      continue
    }
    const end = source[i] === '[' ? classEnd(source, i) : -1
    if (end < 0) out += source[i++]
    else i = end
  }
  return out
}

/** The index after the character class opening at `i`, or -1. */
function classEnd(source: string, i: number): number {
  let j = i + 1
  if (source[j] === '^') j++
  if (source[j] === ']') j++
  for (; j < source.length; j++) {
    if (source[j] === '\\') j++
    else if (source[j] === ']') return j + 1
  }
  return -1
}

/** The index after the group opening at `i`, or -1. */
function groupEnd(source: string, i: number): number {
  if (source.startsWith('(?#', i)) {
    const close = source.indexOf(')', i)
    return close < 0 ? -1 : close + 1
  }
  let depth = 0
  for (let j = i; j < source.length; j++) {
    if (source[j] === '\\') j++
    else if (source[j] === '[') {
      j = classEnd(source, j) - 1
      if (j < 0) return -1
    } else if (source[j] === '(') depth++
    else if (source[j] === ')' && --depth === 0) return j + 1
  }
  return -1
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
