import { parseRegexTree, printRegex, type CharSet, type Ranges, type RegexNode } from './regex-tree.js'

/**
 * A pattern that ends in a group taking the rest of the line, `...(?P<content>.+)$` (how fail2ban's
 * prefregexes hand a line's message to the failregexes), rewritten to take one character there.
 *
 * Why: RE2 extracts groups by stepping its BitState engine through every character of that group,
 * carrying the pattern's captures along; dovecot's prefregex spent three quarters of its 16 us on
 * the message. The rewritten pattern stops one character into it, and the group is that character
 * and the rest of the text.
 *
 * Exactness, on a text without a newline: the rest `.+$` matches whatever is left as long as one
 * character is, so the first way the pattern's start can match with a character left over is the
 * match of both patterns, with the same groups before the tail.
 */
export interface OpenTail {
  /** The pattern with its final `(?P<name>.+)$` taking one character. */
  source: string
  /** The name of that group. */
  group: string
}

/**
 * `source` with an open tail cut short, or undefined when it does not end in one. `asciiText` says
 * the source only ever sees ASCII text, so a class of every ASCII character but the newline (what
 * the translator writes for `.` in its ASCII form) takes the rest of the line as `.` does.
 */
export function openTail(source: string, asciiText: boolean): OpenTail | undefined {
  const root = parseRegexTree(source)
  if (root === undefined) return undefined
  const items: readonly RegexNode[] = root.kind === 'seq' ? root.items : [root]
  const end = items.at(-1)
  const group = items.at(-2)
  if (end?.kind !== 'assert' || !end.end || group?.kind !== 'group' || group.name === undefined) return undefined
  const rest = group.body
  if (rest.kind !== 'repeat' || rest.min !== 1 || rest.max !== Infinity || rest.item.kind !== 'char') return undefined
  if (!takesAllButNewline(rest.item, asciiText)) return undefined
  const cut: RegexNode[] = [...items.slice(0, -2), { ...group, body: rest.item }]
  return { source: cut.map(printRegex).join(''), group: group.name }
}

const NEWLINE = 0x0a
const ALL_BUT_NEWLINE: Ranges = [[0, NEWLINE - 1], [NEWLINE + 1, 0x10ffff]]
const ASCII_BUT_NEWLINE: Ranges = [[0, NEWLINE - 1], [NEWLINE + 1, 0x7f]]

function takesAllButNewline(item: { text: string; set: CharSet }, asciiText: boolean): boolean {
  if (item.text === '.') return true
  return item.set !== 'any' && covers(item.set, asciiText ? ASCII_BUT_NEWLINE : ALL_BUT_NEWLINE)
}

/** Whether every code point of `needed` is in `set`. */
function covers(set: Ranges, needed: Ranges): boolean {
  const sorted = [...set].sort((a, b) => a[0] - b[0])
  return needed.every(([lo, hi]) => {
    let next = lo
    for (const [from, to] of sorted) {
      if (from > next) break
      if (to >= next) next = to + 1
      if (next > hi) return true
    }
    return next > hi
  })
}
