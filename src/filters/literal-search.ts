/**
 * Which of a few hundred texts a byte string holds. Among a few dozen texts, Wu and Manber's
 * multi-pattern search skips through the string: a window as long as the shortest text moves on by
 * how far the two bytes that end it lie from the end of any text's first window, so a log line
 * holding none of sshd's texts is read a few bytes in every several (~0.15 µs a mail log line,
 * where reading every byte costs 0.35). Where a window may end a text's first window, those texts
 * are compared there. An attacker's line could make that comparing quadratic; past a few reads of
 * the line, Aho–Corasick's automaton answers instead, in one pass with one table load a byte. It
 * alone searches many texts.
 *
 * An RE2.Set of the escaped texts scans a line as fast as the automaton (~2.5 ns a byte), but tells
 * which texts it holds only in a second kind of scan, which cannot stop at the first text and costs
 * more than twice as much: a PrefilterSet needs both answers for every line that holds one.
 *
 * No text may hold another (the longer finds nothing the shorter does not): then no text ends inside
 * another's end, a state of the automaton ends at most one text, and texts found in the order they
 * begin are found in the order they end.
 */
export class LiteralSearch {
  private readonly patterns: readonly Buffer[]
  /** The shortest text's length in bytes: the window the skip search moves. */
  private readonly window: number
  /**
   * The two bytes ending a window → how far the window may move on: 0 where they end some text's
   * first window. Null where the automaton alone searches.
   */
  private readonly shift: Uint8Array | null
  /** The two bytes ending a window → the texts whose first window they end. */
  private readonly endingAt: (readonly number[] | undefined)[]

  /** Made on its first use where the skip search answers: only an attacker's line needs it there. */
  private automaton: Automaton | undefined

  constructor(texts: readonly string[]) {
    const patterns = texts.map((t) => Buffer.from(t, 'utf8'))
    if (patterns.some((p) => p.length === 0)) throw new Error('LiteralSearch: an empty text is in every string')
    // As strings: UTF-8 holds one text's bytes inside another's only where the characters are held,
    // and a string search costs a fraction of a Buffer's (151 texts: 23k searches).
    texts.forEach((t, i) => texts.forEach((u, j) => {
      if (i !== j && t.includes(u)) throw new Error(`LiteralSearch: ${JSON.stringify(t)} holds ${JSON.stringify(u)}`)
    }))
    this.patterns = patterns
    const window = Math.min(MAX_WINDOW, ...patterns.map((p) => p.length))
    this.window = window
    // Each text's first window makes up to `window` blocks shift little; past a few hundred of them
    // (the 151 texts of every built-in filter at once, 6 bytes long at least) windows stop so often
    // to compare that the automaton is faster (0.35 µs a mail log line against 0.39).
    const skips = window >= BLOCK && patterns.length * window <= MAX_SKIP_BLOCKS
    this.shift = skips ? new Uint8Array(1 << 16).fill(window - BLOCK + 1) : null
    this.endingAt = []
    if (this.shift !== null) {
      const shift = this.shift
      patterns.forEach((p, index) => {
        for (let q = BLOCK - 1; q < window; q++) {
          const block = (p[q - 1]! << 8) | p[q]!
          shift[block] = Math.min(shift[block]!, window - 1 - q)
        }
        const last = (p[window - 2]! << 8) | p[window - 1]!
        this.endingAt[last] = [...this.endingAt[last] ?? [], index]
      })
    } else {
      this.automaton = automatonOf(patterns)
    }
  }

  /** The indexes of the texts `bytes` holds, each once, in the order their first occurrences end; undefined when it holds none. */
  find(bytes: Uint8Array): number[] | undefined {
    const { shift, endingAt, patterns, window } = this
    if (shift === null) return this.scan(bytes)
    const n = bytes.length
    let budget = COMPARE_PASSES * n + 64
    let found: number[] | undefined
    for (let end = window - 1; end < n;) {
      const block = (bytes[end - 1]! << 8) | bytes[end]!
      const s = shift[block]!
      if (s !== 0) {
        end += s
        continue
      }
      const start = end - window + 1
      for (const text of endingAt[block]!) {
        const p = patterns[text]!
        if (start + p.length > n) continue
        let k = 0
        while (k < p.length && bytes[start + k] === p[k]) k++
        budget -= k + 1
        if (k === p.length) {
          if (found === undefined) found = [text]
          else if (!found.includes(text)) found.push(text)
        }
      }
      if (budget < 0) return this.scan(bytes)
      end++
    }
    return found
  }

  /** find() by Aho–Corasick's automaton: one pass, whatever the bytes. */
  private scan(bytes: Uint8Array): number[] | undefined {
    const { classOf, next, ends, classes } = this.automaton ??= automatonOf(this.patterns)
    let found: number[] | undefined
    let state = 0
    for (let i = 0; i < bytes.length; i++) {
      state = next[state + classOf[bytes[i]!]!]!
      if (state < 0) {
        state = ~state
        const text = ends[state / classes]!
        if (found === undefined) found = [text]
        else if (!found.includes(text)) found.push(text)
      }
    }
    return found
  }
}

/** Aho–Corasick's automaton with every failure link followed ahead of time: a byte costs one table load. */
interface Automaton {
  /** Byte → its class: the bytes no text holds share class 0. */
  classOf: Uint8Array
  classes: number
  /**
   * (state × classes + class) → the next state × classes, bitwise-inverted (negative) when that state
   * ends a text: the hot loop multiplies nothing and tests one sign.
   */
  next: Int32Array
  /** State → the text it ends, -1 where none. */
  ends: Int32Array
}

function automatonOf(patterns: readonly Buffer[]): Automaton {
  const classOf = new Uint8Array(256)
  let classes = 1
  for (const p of patterns) for (const b of p) if (classOf[b] === 0) classOf[b] = classes++

  // The trie: children[state] by class, and the text each state ends.
  const children: Map<number, number>[] = [new Map()]
  const own: number[] = [-1]
  patterns.forEach((p, index) => {
    let state = 0
    for (const b of p) {
      const c = classOf[b]!
      let child = children[state]!.get(c)
      if (child === undefined) {
        child = children.length
        children.push(new Map())
        own.push(-1)
        children[state]!.set(c, child)
      }
      state = child
    }
    own[state] = index
  })

  // Breadth first: a state's row is its failure state's, complete already, but for its own children.
  const states = children.length
  const goto = new Int32Array(states * classes)
  const fail = new Int32Array(states)
  const queue: number[] = []
  for (const [c, child] of children[0]!) {
    goto[c] = child
    queue.push(child)
  }
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head]!
    const failRow = fail[state]! * classes
    goto.copyWithin(state * classes, failRow, failRow + classes)
    for (const [c, child] of children[state]!) {
      fail[child] = goto[failRow + c]!
      goto[state * classes + c] = child
      queue.push(child)
    }
  }

  // In place, into the form the hot loop reads.
  for (let i = 0; i < goto.length; i++) {
    const target = goto[i]!
    goto[i] = own[target] === -1 ? target * classes : ~(target * classes)
  }
  return { classOf, classes, next: goto, ends: Int32Array.from(own) }
}

/** Bytes that end a window, looked up together. */
const BLOCK = 2
/** Shifts are bytes. */
const MAX_WINDOW = 255
/** Texts × window beyond which the skip search is slower than the automaton (sshd's 31 texts: 217). */
const MAX_SKIP_BLOCKS = 512
/** How many reads of a line the compares of the skip search may cost before the automaton takes over. */
const COMPARE_PASSES = 4
