/**
 * Views one bouncer may hold at once: each filter it pulls with is a view of its own, so a bouncer
 * with many filters pushes out its own least recent view, never another bouncer's. Bouncers are the
 * configured keys and tokens, so the whole stays bounded.
 */
export const MAX_VIEWS_PER_BOUNCER = 32

/** A value per bouncer and view, each bouncer's views in the order they were last set. */
export class BouncerViews<T> {
  private readonly byBouncer = new Map<string, Map<string, T>>()

  get(bouncer: string, view: string): T | undefined {
    return this.byBouncer.get(bouncer)?.get(view)
  }

  set(bouncer: string, view: string, value: T): void {
    let views = this.byBouncer.get(bouncer)
    if (views === undefined) this.byBouncer.set(bouncer, (views = new Map()))
    views.delete(view)
    views.set(view, value)
    if (views.size > MAX_VIEWS_PER_BOUNCER) views.delete(views.keys().next().value!)
  }

  /** Every bouncer's views, least recent first. */
  *entries(): Generator<[bouncer: string, view: string, value: T]> {
    for (const [bouncer, views] of this.byBouncer) for (const [view, value] of views) yield [bouncer, view, value]
  }
}
