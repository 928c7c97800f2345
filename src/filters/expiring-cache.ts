/**
 * fail2ban's Utils.Cache: at most maxCount entries, each living maxTimeSecs from when it was set;
 * when full, the oldest entries are dropped first (FIFO) until an unexpired one is kept with room
 * for the new entry. Bounded memory for state keyed by attacker-chosen text (connection ids).
 */
export class ExpiringCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>()

  constructor(private readonly maxCount: number, private readonly maxTimeSecs: number, private readonly now: () => number) {}

  get(key: string): V | undefined {
    const e = this.entries.get(key)
    if (e === undefined) return undefined
    if (e.expires > this.now()) return e.value
    this.entries.delete(key)
    return undefined
  }

  set(key: string, value: V): void {
    const t = this.now()
    if (this.entries.size >= this.maxCount) {
      for (const [k, e] of this.entries) {
        this.entries.delete(k)
        if (e.expires > t && this.entries.size < this.maxCount) break
      }
    }
    const existing = this.entries.get(key)
    if (existing) {
      existing.value = value
      existing.expires = t + this.maxTimeSecs
    } else {
      this.entries.set(key, { value, expires: t + this.maxTimeSecs })
    }
  }

  delete(key: string): void {
    this.entries.delete(key)
  }

  get size(): number {
    return this.entries.size
  }
}
