/**
 * A min-heap of ban ends, for finding the next ban to end without scanning
 * every ban. Entries are never removed early: whoever pops one checks it still
 * names the current ban (a prolonged or lifted ban leaves a stale entry).
 */
export interface Due {
  readonly ends: number
  readonly jail: string
  readonly ip: string
  readonly event_id: string
}

export class ExpiryQueue {
  private readonly heap: Due[] = []

  get size(): number {
    return this.heap.length
  }

  push(due: Due): void {
    const heap = this.heap
    heap.push(due)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.ends <= heap[i]!.ends) break
      ;[heap[parent], heap[i]] = [heap[i]!, heap[parent]!]
      i = parent
    }
  }

  peek(): Due | undefined {
    return this.heap[0]
  }

  pop(): Due | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (heap.length > 0 && last) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let min = i
        if (l < heap.length && heap[l]!.ends < heap[min]!.ends) min = l
        if (r < heap.length && heap[r]!.ends < heap[min]!.ends) min = r
        if (min === i) break
        ;[heap[min], heap[i]] = [heap[i]!, heap[min]!]
        i = min
      }
    }
    return top
  }
}
