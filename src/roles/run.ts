import { hostname } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { DEFAULT_RETENTION } from '../../schemas/clickhouse/tables.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { Topics } from '../../schemas/topics.js'
import { liveFailureTime, type DecideInput, type DecideOutput } from '../../streams/decide.js'
import type { JailPolicy } from '../../streams/decide-policy.js'
import { ClickHouseSink } from '../../sinks/clickhouse/clickhouse-sink.js'
import { Fail2banLog } from '../../sinks/fail2ban-log.js'
import { buildApi } from '../api/build-api.js'
import { DEFAULT_CONTROL_PORT } from '../api/api-settings.js'
import { HostResolver } from '../ignore/host-resolver.js'
import { ignoreCommandsOf, ignoredByCommand } from '../ignore/ignore-command.js'
import { resolveJailPolicies } from '../ignore/resolve-policies.js'
import { EmbeddedLog, type FsyncPolicy } from '../log/embedded-log.js'
import type { ClickHouseStoreOptions } from '../store/clickhouse-store.js'
import { lineRows } from '../store/line-rows.js'
import { migrateStore } from '../store/migrate.js'
import type { Store } from '../store/store.js'
import { lineBatchRecord } from '../log/line-batch-record.js'
import type { LogProblem } from '../log/log.js'
import type { LineBatch, Source } from '../sources/source.js'
import { SyslogServer, type SyslogServerConfig } from '../sources/syslog-server.js'
import { BanBook } from './ban-book.js'
import { DecideWorker } from './decide-worker.js'
import { ActuationMetrics } from './actuation-metrics.js'
import { ActuateWorker, reconcileFirewalls } from './actuate-worker.js'
import { prepareJailActions, type JailActions, type JailActionsOptions } from './jail-actions.js'
import { jailSources, streamPositionKey } from './jail-sources.js'
import { LinesPositionStore } from './lines-position-store.js'
import { registerMatchMetrics } from './match-metrics.js'
import { MatchWorker } from './match-worker.js'
import { RunControl } from './run-control.js'
import { loadRunJails, type RunJail } from './run-jails.js'
import { registerSyslogMetrics } from './syslog-metrics.js'

export interface RunOptions {
  /** A fail2ban configuration tree: jail.conf, jail.d, filter.d, ... */
  readonly configDir: string
  /** Filters to use where the tree's own filter needs a construct RE2 lacks (for an existing /etc/fail2ban). */
  readonly fallbackFilterDir?: string
  /** Holds the embedded log, the saved state and the source positions. */
  readonly dataDir: string
  /** banstream's log in fail2ban.log's format (default <dataDir>/banstream.log). */
  readonly logFile?: string
  /**
   * The API (control and history); port 0 picks a free one. Default 127.0.0.1:7373. `token` is an
   * operate token (bans, unbans, reload); `readTokens` may only read; `bouncerKeys` are CrowdSec
   * bouncers' X-Api-Key values.
   */
  readonly control?: {
    readonly port?: number
    readonly bind?: string
    readonly token?: string
    readonly readTokens?: readonly string[]
    readonly bouncerKeys?: readonly string[]
  }
  readonly fsync?: FsyncPolicy
  /** How often the decide state is saved (default 5000 ms). */
  readonly snapshotIntervalMs?: number
  /** Log every jail action instead of running it. */
  readonly dryRun?: boolean
  /** How often the firewall is made equal to the bans in force (default 60000 ms); also done at start and reload. */
  readonly reconcileIntervalMs?: number
  /** This host's name in actuations (default os.hostname()). */
  readonly host?: string
  /** For tests: where nft runs (a network namespace) and which table it keeps. */
  readonly nftables?: JailActionsOptions['nftables']
  /**
   * Where the event history is kept: 'embedded' (chDB under <dataDir>/clickhouse), a ClickHouse
   * server, or none. Default none here; the CLI defaults to 'embedded'. chDB allows one data dir per
   * process, so only one embedded role may keep history in a process.
   */
  readonly history?: 'embedded' | ClickHouseStoreOptions
  /** Also keep the raw log lines in the history for this many days, so replay can read them back; absent: lines are not kept. */
  readonly historyLinesDays?: number
  /** See MatchOptions.maxStreams. */
  readonly maxStreams?: number
  /** A syslog server to start beside the jails' own sources; `backend = syslog` jails read what it receives. Kept across reloads. */
  readonly syslog?: Omit<SyslogServerConfig, 'log' | 'now'>
  /** Directories POST /v1/replay may read log files from; the embedded log's lines are always replayable. */
  readonly replayDirs?: readonly string[]
  /** Wall clock in milliseconds (default Date.now). */
  readonly now?: () => number
  /** Where notes for the operator go (default: stderr). */
  readonly note?: (level: 'info' | 'warn' | 'error', message: string) => void
}

const TOPICS = [Topics.lines.name, Topics.failures.name, Topics.decisions.name, Topics.commands.name, Topics.actuations.name]

/**
 * `banstream run`: every role in one process over the embedded log. Sources
 * append to `lines`; match turns lines into `failures`; decide turns
 * failures and commands into `decisions`; the ban book lifts bans when they
 * end; decisions are written to banstream's fail2ban-format log with the
 * actions that would run (dry-run until the actuators land). Every stage
 * resumes from the log after a crash.
 */
export class RunRole {
  private jails: RunJail[] = []
  private actions: JailActions = { of: () => [], backends: new Map() }
  private reconcileTimer: NodeJS.Timeout | undefined
  private sources: Source[] = []
  /** The jails' decide policies, by name: what bans are told against (their bantime, increments). */
  private policies = new Map<string, JailPolicy>()
  private syslog: SyslogServer | undefined
  private api: FastifyInstance | undefined
  private reloading: Promise<void> = Promise.resolve()
  private history: { store: Store; sink: ClickHouseSink } | undefined
  /** What the API's /metrics serves: its own request counters, the match stage's and the actuations'. */
  private readonly metrics = new Registry()

  private constructor(
    private readonly options: RunOptions,
    readonly log: EmbeddedLog,
    private readonly fail2banLog: Fail2banLog,
    private readonly positions: LinesPositionStore,
    readonly book: BanBook,
    readonly control: RunControl,
    private readonly parts: { decide?: DecideWorker; match?: MatchWorker; actuate?: ActuateWorker },
  ) {}

  static async start(options: RunOptions): Promise<RunRole> {
    const note = options.note ?? ((level, message) => process.stderr.write(`${level}: ${message}\n`))
    const now = options.now ?? Date.now
    const report = (problem: LogProblem) => note('warn', `log: ${problem.kind}${problem.topic ? ` in ${problem.topic}` : ''}: ${problem.reason}`)
    const log = await EmbeddedLog.open({ dataDir: options.dataDir, report, now, ...(options.fsync ? { fsync: options.fsync } : {}) })
    for (const topic of TOPICS) await log.createTopic(topic, 1)

    const fail2banLog = new Fail2banLog({ path: options.logFile ?? join(options.dataDir, 'banstream.log'), now })
    const positions = await LinesPositionStore.open(join(options.dataDir, 'positions.json'), log, streamPositionKey,
      (error) => note('warn', `saving source positions: ${error.message}`))
    const book = await BanBook.start({ log, now, report })
    const parts: { decide?: DecideWorker; match?: MatchWorker; actuate?: ActuateWorker } = {}
    let role: RunRole | undefined
    const control = new RunControl({
      log, book, now,
      counts: { currentlyFailed: (j) => parts.decide?.currentlyFailed(j) ?? 0, failuresCounted: (j) => parts.decide?.failuresCounted(j) ?? 0 },
      jails: () => role?.jails ?? [],
      reload: () => role!.reload(),
    })
    role = new RunRole({ ...options, note, now }, log, fail2banLog, positions, book, control, parts)
    const { jails, decideOptions, ignoreCommands } = await role.readConfig()
    role.jails = jails
    role.policies = new Map(decideOptions.jails.map((p) => [p.name, p]))
    role.actions = await role.prepareActions(jails)
    parts.decide = await DecideWorker.start({
      log, now, report,
      decide: decideOptions,
      snapshotPath: join(options.dataDir, 'state', 'decide.json'),
      ...(options.snapshotIntervalMs !== undefined ? { snapshotIntervalMs: options.snapshotIntervalMs } : {}),
      ignored: (failure) => ignoredByCommand(ignoreCommands, failure),
      onOutputs: (input, outputs, ignored) => role!.decided(input, outputs, ignored),
    })
    parts.match = MatchWorker.start({
      log, jails: jails.map((j) => j.match), resolver: new HostResolver(), warn: (message) => note('warn', message), report,
      ...(options.maxStreams !== undefined ? { maxStreams: options.maxStreams } : {}),
    })
    registerMatchMetrics(role.metrics, parts.match.counters)
    parts.actuate = ActuateWorker.start({ log, host: role.host, everyTarget: true, fail2banLog, actions: () => role!.actions, now, report, metrics: new ActuationMetrics(role.metrics) })
    await role.reconcile()
    role.reconcileTimer = setInterval(() => void role!.reconcile(), options.reconcileIntervalMs ?? 60_000)
    role.reconcileTimer.unref()
    role.history = await role.startHistory()
    await role.startSources()
    await role.startSyslog()
    await role.listen()
    return role
  }

  /** The event history, when the role keeps one. */
  get historyStore(): Store | undefined {
    return this.history?.store
  }

  /** Where the control API listens, e.g. http://127.0.0.1:7373. */
  get controlUrl(): string | undefined {
    const address = this.api?.server.address()
    if (!address || typeof address === 'string') return undefined
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${host}:${address.port}`
  }

  /** Reads the configuration again and restarts the sources with it; counts, windows and bans carry over. */
  reload(): Promise<void> {
    const run = this.reloading.then(async () => {
      const { jails, decideOptions } = await this.readConfig()
      await this.stopSources()
      this.jails = jails
      this.policies = new Map(decideOptions.jails.map((p) => [p.name, p]))
      this.actions = await this.prepareActions(jails)
      await this.reconcile()
      this.parts.match!.reconfigure(jails.map((j) => j.match))
      await this.parts.decide!.reconfigure(decideOptions)
      await this.startSources()
      await this.fail2banLog.log('fail2ban.server', 'INFO', 'Reload finished.')
    })
    this.reloading = run.catch(() => undefined)
    return run
  }

  async stop(): Promise<void> {
    clearInterval(this.reconcileTimer)
    await this.api?.close()
    await this.syslog?.stop()
    await this.stopSources()
    await this.positions.flush()
    await this.parts.match?.stop()
    await this.parts.decide?.stop()
    await this.parts.actuate?.stop()
    await this.history?.sink.close()
    await this.history?.store.close()
    await this.book.stop()
    await this.fail2banLog.close()
    await this.log.close()
  }

  private async readConfig() {
    const note = this.options.note!
    const fallback = this.options.fallbackFilterDir
    const { jails, skipped, substituted } = loadRunJails(this.options.configDir, () => this.options.now!() / 1000, fallback ? { fallbackFilterDir: fallback } : {})
    for (const { reason } of skipped) note('error', `${reason}; the jail is skipped`)
    for (const { reason } of substituted) note('warn', reason)
    if (jails.length === 0) note('warn', `no jail is enabled in ${this.options.configDir}: nothing is watched`)
    if (!this.options.syslog) {
      for (const jail of jails) if (jail.syslog) note('warn', `jail '${jail.config.name}' has backend = syslog, but no syslog server is started (--syslog-udp, --syslog-tcp): it reads nothing`)
    } else if (!jails.some((j) => j.syslog)) note('warn', 'the syslog server receives lines, but no jail has backend = syslog: none of them is read')
    const policies = await resolveJailPolicies(jails.map((j) => j.policy), { warn: (message) => note('warn', message) })
    const ignoreCommands = ignoreCommandsOf(jails.map((j) => j.config), { warn: (message) => note('warn', message) })
    return { jails, decideOptions: { jails: policies, live: true }, ignoreCommands }
  }

  /** The event history: every failure, decision and actuation stored, for the API's queries. */
  private async startHistory(): Promise<{ store: Store; sink: ClickHouseSink } | undefined> {
    const history = this.options.history
    if (history === undefined) return undefined
    // Loaded only here: chDB alone maps some 150 MiB into the process.
    const store = history === 'embedded'
      ? (await import('../store/chdb-store.js')).ChdbStore.open(join(this.options.dataDir, 'clickhouse'))
      : new (await import('../store/clickhouse-store.js')).ClickHouseStore(history)
    const linesDays = this.options.historyLinesDays
    const note = this.options.note!
    await migrateStore(store, { ...DEFAULT_RETENTION, ...(linesDays !== undefined ? { lines_days: linesDays } : {}) }, {
      soleWriter: history === 'embedded', note: (message) => note(history === 'embedded' ? 'info' : 'warn', `history: ${message}`),
    })
    const sink = ClickHouseSink.start({
      // Only this process's own stages write to its embedded log.
      log: this.log, store, trusted: true, onProblem: (p) => note('warn', `history: ${p.kind}${p.topic ? ` in ${p.topic}` : ''}: ${p.reason}`),
      ...(linesDays !== undefined ? { lines: lineRows } : {}),
    })
    return { store, sink }
  }

  private get host(): string {
    return this.options.host ?? hostname()
  }

  private prepareActions(jails: readonly RunJail[]): Promise<JailActions> {
    return prepareJailActions(jails, {
      note: this.options.note!,
      ...(this.options.dryRun ? { dryRun: true } : {}),
      ...(this.options.nftables ? { nftables: this.options.nftables } : {}),
      webhook: { host: this.host },
    })
  }

  /** Makes the firewall hold exactly the bans in force: a flush by another tool or a reboot is repaired. */
  private reconcile(): Promise<void> {
    return reconcileFirewalls(this.book.bans(), this.actions, undefined, this.options.note!)
  }

  private decided(input: DecideInput, outputs: readonly DecideOutput[], ignored: boolean): void {
    this.control.decided(input, outputs)
    const log = this.fail2banLog
    const write = (done: Promise<void>) => done.catch((error: Error) => this.options.note!('error', `writing ${this.options.logFile ?? 'banstream.log'}: ${error.message}`))
    if (input.type === 'FailureDetected' && !input.success) {
      if (ignored) void write(log.log('fail2ban.filter', 'INFO', `[${input.jail}] Ignore ${input.ip} by command`))
      // fail2ban drops an ignored address and a line read at start older than findtime before its Found line.
      else if (!outputs.some((o) => o.type === 'DecideNotice' && (o.kind === 'ignored' || o.kind === 'too-old'))) {
        const counted = liveFailureTime(Date.parse(input.occurred_at) / 1000, this.options.now!() / 1000, input.backlog === true)
        void write(log.found(input, counted * 1000))
      }
    }
    for (const output of outputs) {
      if (output.type === 'BanIssued') log.expectBan(output.jail, output.ip, this.increased(output) ? output : undefined)
      if (output.type !== 'DecideNotice') continue
      if (output.kind === 'already-banned') void write(log.alreadyBanned(output.jail, output.ip))
      else if (output.kind === 'ignored') void write(log.log('fail2ban.filter', 'INFO', `[${output.jail}] Ignore ${output.ip} by ip`))
      else if (['unknown-jail', 'invalid-address', 'invalid-time'].includes(output.kind)) {
        void write(log.log('fail2ban.filter', 'WARNING', `[${output.jail}] ${output.detail}`))
      }
    }
  }

  /** Whether bantime.increment gave the ban another length than the jail's bantime: fail2ban logs Increase Ban then. */
  private increased(ban: BanIssued): boolean {
    const policy = this.policies.get(ban.jail)
    return ban.reason === 'threshold' && policy !== undefined && policy.increment !== null && ban.ban_time_secs !== policy.ban_time_secs
  }

  private async startSources(): Promise<void> {
    const note = this.options.note!
    this.sources = jailSources(this.jails, { positions: this.positions, log: (level, message) => note(level, message), now: this.options.now! })
    for (const source of this.sources) await source.start((batch) => this.forward(batch))
  }

  private async stopSources(): Promise<void> {
    const sources = this.sources
    this.sources = []
    await Promise.all(sources.map((s) => s.stop()))
  }

  private async startSyslog(): Promise<void> {
    if (!this.options.syslog) return
    const note = this.options.note!
    this.syslog = new SyslogServer({ ...this.options.syslog, log: (level, message) => note(level, message), now: this.options.now! })
    registerSyslogMetrics(this.metrics, this.syslog)
    await this.syslog.start((batch) => this.forward(batch))
    const { udp, tcp } = this.syslog.addresses()
    note('info', `syslog: receiving${udp ? ` udp ${udp.address}:${udp.port}` : ''}${tcp ? ` tcp ${tcp.address}:${tcp.port}` : ''}`)
  }

  /** Where the syslog server listens, once started (the ports chosen for port 0). */
  get syslogAddresses(): ReturnType<SyslogServer['addresses']> {
    return this.syslog?.addresses() ?? {}
  }

  private async forward(batch: LineBatch): Promise<void> {
    const [where] = await this.log.append(Topics.lines.name, [lineBatchRecord(batch)])
    this.positions.noteAppended(batch, where!.partition, where!.offset)
  }

  private async listen(): Promise<void> {
    const control = this.options.control ?? {}
    const bind = control.bind ?? '127.0.0.1'
    const tokens = [
      ...(control.token ? [{ token: control.token, role: 'operate' as const }] : []),
      ...(control.readTokens ?? []).map((token) => ({ token, role: 'read' as const })),
    ]
    this.api = buildApi({
      control: this.control,
      ...(this.history ? { store: this.history.store } : {}),
      tokens: tokens.length > 0 ? tokens : undefined,
      bind,
      ...(control.bouncerKeys ? { bouncerKeys: control.bouncerKeys } : {}),
      bouncerPullsFile: join(this.options.dataDir, 'bouncer-pulls.json'),
      now: this.options.now!,
      metrics: this.metrics,
      replay: {
        configDir: this.options.configDir,
        ...(this.options.fallbackFilterDir !== undefined ? { fallbackFilterDir: this.options.fallbackFilterDir } : {}),
        dirs: this.options.replayDirs ?? [],
        log: this.log,
      },
    })
    await this.api.listen({ host: bind, port: control.port ?? DEFAULT_CONTROL_PORT })
  }
}

