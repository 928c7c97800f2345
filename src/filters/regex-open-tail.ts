import { parseRegexTree, printRegex, type CharSet, type Ranges, type RegexNode } from './regex-tree.js'

/**
 * A pattern that ends by taking the rest of the line, rewritten to stop where that begins:
 * - `...(?P<content>.+)$`, how fail2ban's prefregexes hand a line's message to the failregexes,
 *   takes one character of it;
 * - `....*$` and `...(?:X.*)?$`, failregexes that accept anything after what they look for (sshd's
 *   `(?:: .*)?$`), become `...` and `...(?:X|$)`.
 *
 * Why: RE2 extracts groups by stepping its BitState engine through every character of the rest,
 * carrying the pattern's captures along; dovecot's prefregex spent three quarters of its 16 us on
 * the message. The rewritten pattern stops at the rest, which then belongs to the match (and to the
 * group, for the first form).
 *
 * Exactness, on a text without a newline: `.*$` matches whatever is left (`.+$`, as long as one
 * character is), so among the ways the pattern before it can match, the first that leaves what the
 * rest needs is the match of both patterns, with the same groups before the rest.
 */
export interface OpenTail {
  /** The pattern stopping where the rest of the line begins. */
  source: string
  /** The group the rest of the line also belongs to, for the `(?P<name>.+)$` form. */
  group?: string
}

/**
 * `source` with its rest of the line cut, or undefined when it does not end in one. `asciiText` says
 * the source only ever sees ASCII text, so a class of every ASCII character but the newline (what
 * the translator writes for `.` in its ASCII form) takes the rest of the line as `.` does.
 */
export function openTail(source: string, asciiText: boolean): OpenTail | undefined {
  const root = parseRegexTree(source)
  if (root === undefined) return undefined
  const items: readonly RegexNode[] = root.kind === 'seq' ? root.items : [root]
  const end = items.at(-1)
  const last = items.at(-2)
  if (end?.kind !== 'assert' || !end.end || last === undefined) return undefined
  const before = items.slice(0, -2)
  const print = (cut: readonly RegexNode[]) => cut.map(printRegex).join('')
  // `(?P<name>.+)$`
  if (last.kind === 'group' && last.name !== undefined && isRest(last.body, 1, asciiText)) {
    const rest = last.body as Extract<RegexNode, { kind: 'repeat' }>
    return { source: print([...before, { ...last, body: rest.item }]), group: last.name }
  }
  // `.*$`: what is left must still consume something, or split() would pass over an empty match.
  if (isRest(last, 0, asciiText)) return before.some(consumes) ? { source: print(before) } : undefined
  // `(?:X.*)?$`
  if (last.kind === 'repeat' && last.min === 0 && last.max === 1 && !last.lazy && last.item.kind === 'group' && last.item.name === undefined) {
    const body = last.item.body
    const inner = body.kind === 'seq' ? body.items : [body]
    if (inner.length < 2 || !isRest(inner.at(-1)!, 0, asciiText)) return undefined
    const x = inner.slice(0, -1)
    const choice: RegexNode = { kind: 'group', open: '(?:', body: { kind: 'alt', branches: [x, [end]] } }
    return before.some(consumes) || x.some(consumes) ? { source: print([...before, choice]) } : undefined
  }
  return undefined
}

/** `.*` (`min` 0) or `.+` (`min` 1), greedy or not: every character but the newline, without end. */
function isRest(node: RegexNode, min: number, asciiText: boolean): boolean {
  return node.kind === 'repeat' && node.min === min && node.max === Infinity && node.item.kind === 'char' && takesAllButNewline(node.item, asciiText)
}

/** Whether `node` always consumes a character. */
function consumes(node: RegexNode): boolean {
  switch (node.kind) {
    case 'char': return true
    case 'assert': return false
    case 'group': return consumes(node.body)
    case 'seq': return node.items.some(consumes)
    case 'alt': return node.branches.every((b) => b.some(consumes))
    case 'repeat': return node.min > 0 && consumes(node.item)
  }
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
