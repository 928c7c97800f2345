import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Registry } from 'prom-client'
import { Topics } from '../../schemas/topics.js'
import { lineBatchRecord } from '../log/line-batch-record.js'
import type { Log } from '../log/log.js'
import { JsonFilePositionStore } from '../sources/position-store.js'
import type { LineBatch, Source } from '../sources/source.js'
import { SyslogServer, type SyslogServerConfig } from '../sources/syslog-server.js'
import { jailSources } from './jail-sources.js'
import { loadRunJails } from './run-jails.js'
import { registerSyslogMetrics } from './syslog-metrics.js'

export interface ForwardOptions {
  readonly log: Log
  /** The jails whose logs this host forwards (their logpaths and journalmatches). */
  readonly configDir: string
  /** Where the sources keep their positions. */
  readonly dataDir: string
  /** The source host name in every batch (default os.hostname()). */
  readonly host?: string
  /** A syslog server to forward too; its batches keep the host each message names. */
  readonly syslog?: Omit<SyslogServerConfig, 'log' | 'now'>
  /** Where the syslog server's counters are served. */
  readonly metrics?: Registry
  readonly now?: () => number
  readonly note: (level: 'info' | 'warn' | 'error', message: string) => void
}

/**
 * `banstream forward`: a host's log sources → the `lines` topic, one record
 * per batch of one stream, keyed by the host (for syslog, the host its
 * messages name). A batch is appended before the source moves on
 * (backpressure when the log is slow) and its position is kept after the
 * append, so a restart resends at most the batch in flight.
 */
export async function startForward(options: ForwardOptions): Promise<{ stop(): Promise<void> }> {
  const now = options.now ?? Date.now
  const { jails, skipped } = loadRunJails(options.configDir, () => now() / 1000)
  for (const { reason } of skipped) options.note('error', `${reason}; its logs are not forwarded`)
  const host = options.host ?? hostname()
  const sources: Source[] = jailSources(jails, {
    positions: new JsonFilePositionStore(join(options.dataDir, 'forward-positions.json')),
    log: options.note,
    now,
  })
  const append = async (batch: LineBatch) => {
    await options.log.append(Topics.lines.name, [lineBatchRecord(batch)])
  }
  for (const source of sources) await source.start((batch) => append({ ...batch, host }))
  if (options.syslog) {
    const syslog = new SyslogServer({ ...options.syslog, log: options.note, now })
    if (options.metrics) registerSyslogMetrics(options.metrics, syslog)
    await syslog.start(append)
    sources.push(syslog)
  }
  return { stop: async () => { await Promise.all(sources.map((s) => s.stop())) } }
}
