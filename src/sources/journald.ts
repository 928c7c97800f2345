import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'
import { formatJournalEntry, JOURNAL_FIELDS, journalMatchArgs, type JournalLine } from './journal-entry.js'
import { LineSplitter } from './line-splitter.js'
import type { PositionStore } from './position-store.js'
import { stderrLog, type LineBatch, type Source, type SourceCounters, type SourceLog } from './source.js'

/** Follows the systemd journal through `journalctl --follow -o json`, as fail2ban's systemd backend reads it. */
export interface JournaldConfig {
  /** fail2ban's `journalmatch`, e.g. `_SYSTEMD_UNIT=sshd.service + _COMM=sshd`. Without it every entry is read. */
  journalmatch?: string
  /**
   * Where to begin without a saved cursor: 'tail' (entries from now on, the
   * default), 'head' (the whole journal). `since_ms` overrides both: fail2ban
   * begins `findtime` before now.
   */
  start_at?: 'head' | 'tail'
  /** Milliseconds since the epoch to begin at when there is no saved cursor. */
  since_ms?: number
  /** Journal files to read instead of the system journal (journalctl --file; fail2ban's journalfiles). */
  files?: string[]
  /** A journal directory to read instead of the system journal (journalctl --directory; fail2ban's journalpath). */
  directory?: string
  /** The journalctl to run. Default 'journalctl' on the PATH. */
  journalctl_path?: string
  /** The stream of every batch. Default 'journald'. */
  stream?: string
  /** Keeps the cursor of the last handed-over entry, so a restart resumes after it. */
  position_store?: PositionStore
  /** The cursor's key in the position store. Default 'journald'. */
  position_key?: string
  /** Longer JSON entries are cut, counted as `oversized_entries` and, no longer JSON, skipped. Default 1 MiB. */
  max_entry_bytes?: number
  /** Wait before running journalctl again after it exited. Default 5000. */
  restart_delay_ms?: number
  log?: SourceLog
  /** Wall clock in milliseconds; injectable for tests. */
  now?: () => number
}

/** The resume token of a journald batch. */
export interface JournalPosition {
  cursor: string
}

type Journalctl = ChildProcessByStdio<null, Readable, Readable>

export class JournaldSource implements Source {
  private readonly log: SourceLog
  private readonly now: () => number
  private readonly key: string
  private readonly count = {
    entries: 0,
    batches: 0,
    bad_entries: 0,
    oversized_entries: 0,
    restarts: 0,
  }
  private emit: ((batch: LineBatch) => Promise<void>) | undefined
  /** Entries written before this are backlog (read at start), not live. */
  private startedAt = Infinity
  private cursor: string | undefined
  private child: Journalctl | undefined
  private running: Promise<void> | undefined
  private restartTimer: NodeJS.Timeout | undefined
  private stopped = false
  private idle = false

  constructor(private readonly config: JournaldConfig) {
    this.log = config.log ?? stderrLog
    this.now = config.now ?? Date.now
    this.key = config.position_key ?? 'journald'
    // Fails at construction, before anything runs, on a journalmatch with an unterminated quote.
    journalMatchArgs(config.journalmatch ?? '')
  }

  counters(): SourceCounters {
    return { ...this.count }
  }

  /** Whether journalctl could not be run at all, so the source reads nothing. */
  isIdle(): boolean {
    return this.idle
  }

  async start(emit: (batch: LineBatch) => Promise<void>): Promise<void> {
    this.emit = emit
    this.startedAt = this.now()
    const saved = (await this.config.position_store?.load(this.key)) as Partial<JournalPosition> | undefined
    if (typeof saved?.cursor === 'string') this.cursor = saved.cursor
    if (!this.config.journalmatch?.trim()) {
      this.log('info', 'journald: no journalmatch set, every journal entry is read (slow on a busy host)')
    }
    await this.launch()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.child?.kill('SIGTERM')
    await this.running
  }

  /** journalctl's arguments: follow as JSON from the saved cursor, or from `since_ms` / `start_at`. */
  args(): string[] {
    const args = ['--follow', '--output=json', '--all', '--no-pager', `--output-fields=${JOURNAL_FIELDS.join(',')}`]
    for (const file of this.config.files ?? []) args.push(`--file=${file}`)
    if (this.config.directory !== undefined) args.push(`--directory=${this.config.directory}`)
    if (this.cursor !== undefined) args.push(`--after-cursor=${this.cursor}`, '--no-tail')
    else if (this.config.since_ms !== undefined) args.push(`--since=@${Math.floor(this.config.since_ms / 1000)}`, '--no-tail')
    else if (this.config.start_at === 'head') args.push('--no-tail')
    else args.push('--lines=0')
    const matches = journalMatchArgs(this.config.journalmatch ?? '')
    // After '--' a match can never be taken for an option of journalctl.
    if (matches.length > 0) args.push('--', ...matches)
    return args
  }

  private async launch(): Promise<void> {
    if (this.stopped) return
    const command = this.config.journalctl_path ?? 'journalctl'
    const child = spawn(command, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    const started = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined))
      child.once('error', resolve)
    })
    if (started) {
      this.child = undefined
      this.idle = true
      const missing = (started as NodeJS.ErrnoException).code === 'ENOENT'
      this.log(
        'error',
        missing
          ? `journald: ${command} not found (is systemd installed here?); the journald source stays idle`
          : `journald: cannot run ${command}: ${started.message}; the journald source stays idle`,
      )
      return
    }
    child.on('error', (error) => this.log('error', `journald: ${error.message}`))
    this.running = this.consume(child)
  }

  private async consume(child: Journalctl): Promise<void> {
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000)
    })
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
    const splitter = new LineSplitter(this.config.max_entry_bytes ?? 1 << 20, () => this.count.oversized_entries++)
    try {
      for await (const chunk of child.stdout) {
        const entries = splitter.push(chunk as Buffer).flatMap((json) => this.parse(json))
        await this.hand(entries)
      }
    } catch (error) {
      this.log('error', `journald: ${(error as Error).message}`)
      child.kill('SIGTERM')
    }
    const code = await exited
    this.child = undefined
    if (this.stopped) return
    this.count.restarts++
    this.log('warn', `journald: journalctl exited (${code ?? 'signal'})${stderr.trim() ? `: ${stderr.trim()}` : ''}; running it again`)
    this.restartTimer = setTimeout(() => void this.launch(), this.config.restart_delay_ms ?? 5000)
  }

  private parse(json: Buffer): JournalLine[] {
    let entry: unknown
    try {
      entry = JSON.parse(json.toString('utf8'))
    } catch {
      this.count.bad_entries++
      return []
    }
    const formatted = typeof entry === 'object' && entry !== null ? formatJournalEntry(entry as Record<string, unknown>) : undefined
    if (!formatted) {
      this.count.bad_entries++
      return []
    }
    return [formatted]
  }

  /** Emits one batch per run of entries from one host, then keeps the cursor of its last entry. */
  private async hand(entries: JournalLine[]): Promise<void> {
    let from = 0
    while (from < entries.length) {
      const host = entries[from]!.host
      let to = from + 1
      while (to < entries.length && entries[to]!.host === host) to++
      const run = entries.slice(from, to)
      const cursor = run.at(-1)!.cursor
      await this.emit!({
        stream: this.config.stream ?? 'journald',
        host,
        lines: run.map((entry) => entry.line),
        times: run.map((entry) => entry.time_ms),
        ...(cursor !== undefined && { position: { cursor } satisfies JournalPosition }),
        received_at: this.now(),
        ...(run.every((entry) => entry.time_ms < this.startedAt) && { backlog: true }),
      })
      this.count.entries += run.length
      this.count.batches++
      if (cursor !== undefined) {
        this.cursor = cursor
        await this.config.position_store?.save(this.key, { cursor } satisfies JournalPosition)
      }
      from = to
    }
  }
}
