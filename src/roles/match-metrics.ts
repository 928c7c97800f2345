import { Counter, type Registry } from 'prom-client'
import type { JailMatchCounts, MatchCounters } from '../../streams/match.js'

/**
 * The match stage's counters (MatchCounters) as Prometheus counters, on the registry of the role
 * that serves /metrics, read at each scrape: the stage only adds to plain numbers on its hot path.
 * Labels are jails and reasons, never hosts or addresses, which attackers choose.
 */
export function registerMatchMetrics(registry: Registry, counters: MatchCounters): void {
  const perJail = (name: string, help: string, value: (c: Readonly<JailMatchCounts>) => number) => new Counter({
    name, help, labelNames: ['jail'] as const, registers: [registry],
    collect() {
      this.reset()
      for (const [jail, c] of counters.jails()) this.inc({ jail }, value(c))
    },
  })
  perJail('banstream_match_lines_total', 'Lines of the streams each jail reads.', (c) => c.lines)
  perJail('banstream_match_failures_total', "Failures (and, for a jail with resetonsuccess, successes) each jail's filter found and handed on.", (c) => c.matched)
  new Counter({
    name: 'banstream_match_dropped_failures_total',
    help: 'Failures not handed on, by reason: a host that is no IP address (usedns), or a time a date cannot hold.',
    labelNames: ['jail', 'reason'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [jail, c] of counters.jails()) {
        this.inc({ jail, reason: 'unparseable_host' }, c.unparseable_host)
        this.inc({ jail, reason: 'invalid_time' }, c.invalid_time)
      }
    },
  })
  const total = (name: string, help: string, value: () => number) => new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset()
      this.inc(value())
    },
  })
  total('banstream_match_unrouted_lines_total', 'Lines of streams no jail reads.', () => counters.unrouted_lines)
  total('banstream_match_line_errors_total', 'Lines the filter engine failed on, counted and skipped.', () => counters.line_errors)
  total('banstream_match_streams_forgotten_total',
    'Filter states of (host, stream) dropped to make room for a new stream: at the bound, streams come and go faster than it holds.',
    () => counters.streams_forgotten)
}
