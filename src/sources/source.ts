/**
 * What every log source (file tail, syslog server, journald) hands the
 * forwarder: batches of raw lines, still bytes, one stream per batch.
 *
 * Implementations must: await `emit` before reading further (that promise is
 * the backpressure, and its resolution means the batch is safely handed over,
 * so a source may checkpoint its position after it); never stop on bad input
 * but count it in `counters()` and go on; keep lines free of line terminators.
 */
export interface LineBatch {
  /** What jails select on: the file path, 'journald', or 'syslog' (or a configured name). */
  stream: string
  /** Where the lines come from: the syslog HOSTNAME, the journal's _HOSTNAME, os.hostname() for files. */
  host: string
  /** The lines, without terminators, as UTF-8 bytes where the source could transcode (invalid bytes are kept). */
  lines: Buffer[]
  /** Opaque resume token of the position right after the last line (file: path, inode, offset; journald: cursor). */
  position?: unknown
  /**
   * Event time of each line in milliseconds since the epoch, where the source
   * knows it better than the line's text does (the journal's timestamps).
   */
  times?: number[]
  /** Wall-clock milliseconds when the source read the batch. */
  received_at: number
  /**
   * True when every line was already in its file when banstream started: a
   * backlog read at start rather than a line tailed live (the decide stage
   * ignores backlog failures older than findtime, as fail2ban does).
   */
  backlog?: boolean
}

/** Counts of what a source read and of the bad input it skipped or cut, by name. */
export type SourceCounters = Readonly<Record<string, number>>

export interface Source {
  /** Begins reading; resolves once the source is set up (listening, watching, spawned or idle). */
  start(emit: (batch: LineBatch) => Promise<void>): Promise<void>
  /** Stops reading, waits for the batch in flight, releases files, sockets and processes. */
  stop(): Promise<void>
  counters(): SourceCounters
}

/** Where a source reports notes an operator should see (a missing path, a rotation, a dead journalctl). */
export type SourceLog = (level: 'info' | 'warn' | 'error', message: string) => void

export const stderrLog: SourceLog = (level, message) => {
  console.error(`${level}: ${message}`)
}
