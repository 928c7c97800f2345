import { Counter, type Registry } from 'prom-client'
import type { Source } from '../sources/source.js'

/**
 * A syslog server's counters (messages, batches, and what it cut, dropped or refused) as one
 * Prometheus counter by event, read at each scrape. Senders are not labels: they are many, and a
 * refused one is not ours to name.
 */
export function registerSyslogMetrics(registry: Registry, server: Pick<Source, 'counters'>): void {
  new Counter({
    name: 'banstream_syslog_events_total',
    help: 'What the syslog server received and skipped, by event: messages, batches, oversized, bad_frames, dropped (queue full), connection_errors, refused_connections (max_connections), refused_senders (not in --syslog-allow), emit_errors.',
    labelNames: ['event'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [event, value] of Object.entries(server.counters())) this.inc({ event }, value)
    },
  })
}
