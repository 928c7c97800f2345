/**
 * The last `capacity` ids seen, oldest forgotten first: enough to recognise a
 * redelivered event, which arrives soon after the original.
 */
export class RecentIds {
  private readonly ids = new Set<string>()

  constructor(private readonly capacity: number, initial: readonly string[] = []) {
    for (const id of initial) this.add(id)
  }

  has(id: string): boolean {
    return this.ids.has(id)
  }

  add(id: string): void {
    this.ids.add(id)
    // A Set iterates in insertion order, so its first entry is the oldest.
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!)
  }

  list(): string[] {
    return [...this.ids]
  }
}
