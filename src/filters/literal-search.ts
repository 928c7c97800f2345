/**
 * Which of a few hundred texts a byte string holds, in one pass over its bytes: Aho–Corasick's
 * automaton with every failure link followed ahead of time, so a byte costs one table load.
 *
 * An RE2.Set of the escaped texts scans a line as fast (~2.5 ns a byte), but tells which texts it
 * holds only in a second kind of scan, which cannot stop at the first text and costs more than twice
 * as much: a PrefilterSet needs both answers for every line that holds one.
 *
 * No text may hold another (the longer finds nothing the shorter does not): then no text ends inside
 * another's end, and a state ends at most one text.
 */
export class LiteralSearch {
  /** Byte → its class: the bytes no text holds share class 0. */
  private readonly classOf: Uint8Array
  /**
   * (state × classes + class) → the next state × classes, bitwise-inverted (negative) when that state
   * ends a text: the hot loop multiplies nothing and tests one sign.
   */
  private readonly next: Int32Array
  /** State → the text it ends, -1 where none. */
  private readonly ends: Int32Array
  private readonly classes: number

  constructor(texts: readonly string[]) {
    const patterns = texts.map((t) => Buffer.from(t, 'utf8'))
    if (patterns.some((p) => p.length === 0)) throw new Error('LiteralSearch: an empty text is in every string')
    patterns.forEach((p, i) => patterns.forEach((q, j) => {
      if (i !== j && p.includes(q)) throw new Error(`LiteralSearch: ${JSON.stringify(texts[i])} holds ${JSON.stringify(texts[j])}`)
    }))
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
    this.classOf = classOf
    this.classes = classes
    this.next = goto
    this.ends = Int32Array.from(own)
  }

  /** The indexes of the texts `bytes` holds, each once, in the order their first occurrences end; undefined when it holds none. */
  find(bytes: Uint8Array): number[] | undefined {
    const { classOf, next, ends, classes } = this
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
