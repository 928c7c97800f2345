/** What the match stage saw of one jail's input. */
export interface JailMatchCounts {
  /** Lines of the streams the jail reads. */
  lines: number
  /** Failures emitted (successes included, for a jail told of them). */
  matched: number
  /**
   * Matches of helper regexes (`<F-NOFAIL>`), and successes of a jail not told of them: they only
   * feed multi-line state, never an event.
   */
  helpers: number
  /** Failures whose host was a name or other text, not an IP address: never emitted, since only an address may reach a firewall. */
  unparseable_host: number
  /** Failures whose host was a name, handed on to be resolved (usedns = yes|warn). */
  host_names: number
  /** Multi-line failures still waiting for the line that names their address. */
  pending: number
  /** Failures whose time is outside what a date-time can hold. */
  invalid_time: number
}

/**
 * The match stage's counters, owned by whoever wires the stage and read by
 * its metrics; the stage only adds to them.
 */
export class MatchCounters {
  /** Lines of streams that no jail reads. */
  unrouted_lines = 0
  /** Lines the filter engine failed on: counted and skipped, so one bad line never stops the stage. */
  line_errors = 0
  /** (host, stream) filter states dropped to make room for a new stream (MatchOptions.maxStreams). */
  streams_forgotten = 0
  private readonly perJail = new Map<string, JailMatchCounts>()

  jail(name: string): JailMatchCounts {
    let counts = this.perJail.get(name)
    if (!counts) {
      counts = { lines: 0, matched: 0, helpers: 0, unparseable_host: 0, host_names: 0, pending: 0, invalid_time: 0 }
      this.perJail.set(name, counts)
    }
    return counts
  }

  /** Each jail's counts, by jail name. */
  jails(): IterableIterator<[string, Readonly<JailMatchCounts>]> {
    return this.perJail.entries()
  }

  /** Every counter by a flat name: `unrouted_lines`, `jail.<name>.<counter>`. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {
      unrouted_lines: this.unrouted_lines, line_errors: this.line_errors, streams_forgotten: this.streams_forgotten,
    }
    for (const [name, counts] of this.perJail) {
      for (const [key, value] of Object.entries(counts)) out[`jail.${name}.${key}`] = value
    }
    return out
  }
}
