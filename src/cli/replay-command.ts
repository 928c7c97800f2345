import { readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { resolveJailPolicies } from '../ignore/resolve-policies.js'
import { builtinConfigDir } from '../package-root.js'
import { diffDecisions, diffPeriod, findTimeTolerance, parseDecisionsNdjson, type JailDiff } from '../roles/replay-diff.js'
import { historyChunks } from '../roles/replay-history.js'
import { logChunks } from '../roles/replay-log.js'
import { replay, replayLines, type ReplayInput, type ReplayJailsOptions, type ReplayProgress, type ReplayResult } from '../roles/replay.js'
import { loadRunJails, type RunJail } from '../roles/run-jails.js'
import { expandGlob, hasMagic } from '../sources/glob.js'
import { SYSLOG_STREAM } from '../sources/syslog-server.js'
import type { Store } from '../store/store.js'
import { kafkaLog, withKafka } from './kafka-options.js'
import { configDirOf } from './run-command.js'
import { UsageError } from './usage-error.js'

interface ReplayFlags {
  config?: string
  fail2ban?: string
  jail: string[]
  json?: boolean
  from?: string
  to?: string
  now?: string
  as?: string
  logpathOf?: string
  diff?: boolean
  decisions?: string
  kafka?: string
  clickhouse?: string
  chdb?: string
}

/** Sample lines shown per ban in the text output (JSON has them all). */
const SAMPLE_LINES = 3

const collect = (value: string, previous: string[]): string[] => [...previous, value]

/** `banstream replay`: what the configured (or a candidate) jails would have done over past logs. */
export function replayCommand(): Command {
  return withKafka(new Command('replay')
    .description('run jails over past logs (plain or .gz, globs, the Kafka lines topic, or the lines the history kept, between --from and --to) on event time: failures, the bans they would issue, and with --diff what changes against actual decisions')
    .argument('[file...]', 'log files or globs; none: the lines topic of --kafka, or the lines kept in --clickhouse or --chdb')
    .addOption(new Option('--clickhouse <url>', 'replay the raw lines kept on this ClickHouse server (banstream store --history-lines)').conflicts(['kafka', 'chdb']))
    .addOption(new Option('--chdb <dir>', "replay the raw lines kept in an embedded history (banstream run --history-lines: <data-dir>/clickhouse)").conflicts('kafka'))
    .addOption(new Option('--config <dir>', 'banstream configuration directory (a candidate one to test); default ./config, else the shipped one').conflicts('fail2ban'))
    .option('--fail2ban <dir>', 'an existing fail2ban tree, e.g. /etc/fail2ban')
    .option('--jail <name>', 'replay only this jail (repeatable; default every enabled jail)', collect, [])
    .option('--json', 'the result as JSON')
    .option('--from <iso8601>', 'count failures from this time on')
    .option('--to <iso8601>', 'count failures before this time; bans are lifted up to it')
    .option('--now <iso8601>', 'the time yearless dates are read relative to (default --to, else the newest input file\'s modification time)')
    .addOption(new Option('--as <path>', 'replay the files as if read from this path (a copied log)').conflicts('logpathOf'))
    .option('--logpath-of <jail>', "replay the files as if read from this jail's logpath")
    .option('--diff', 'compare the bans with the actual decisions of --decisions')
    .option('--decisions <file>', 'NDJSON of Decision events, e.g. from GET /v1/events?kind=decisions with Accept: application/x-ndjson'))
    .action(async (patterns: string[], flags: ReplayFlags) => {
      process.exitCode = await runReplay(patterns, flags)
    })
}

async function runReplay(patterns: string[], flags: ReplayFlags): Promise<number> {
  if (flags.diff && flags.decisions === undefined) throw new UsageError('--diff needs --decisions FILE')
  const from = timeOf('--from', flags.from)
  const to = timeOf('--to', flags.to)
  const fromLog = patterns.length === 0
  const history = flags.clickhouse !== undefined || flags.chdb !== undefined
  const source = history ? 'the history' : 'Kafka'
  if (fromLog && (from === undefined || to === undefined)) throw new UsageError(`replay from ${source} needs --from and --to (or give log files)`)
  if (fromLog && (flags.as !== undefined || flags.logpathOf !== undefined)) throw new UsageError(`--as and --logpath-of route files; lines from ${source} carry their own stream`)
  if (!fromLog && flags.kafka !== undefined) throw new UsageError('--kafka replays the lines topic: give no log files with it')
  if (!fromLog && history) throw new UsageError('--clickhouse and --chdb replay the lines the history kept: give no log files with them')
  const paths = fromLog ? [] : await filesOf(patterns)
  const now = timeOf('--now', flags.now) ?? to ?? await newestModification(paths)
  const configDir = configDirOf(flags)
  const loaded = loadRunJails(configDir, () => now, flags.fail2ban !== undefined ? { fallbackFilterDir: join(builtinConfigDir(), 'filter.d') } : {})
  for (const { jail, reason } of [...loaded.skipped, ...loaded.substituted]) process.stderr.write(`banstream: ${reason.startsWith(`jail '${jail}'`) ? reason : `jail '${jail}': ${reason}`}\n`)
  const jails = selectJails(loaded.jails, flags.jail)
  // ignoreself: the replaying host's addresses are not those of the host the logs came from, and would make the output depend on the machine.
  const policies = await resolveJailPolicies(jails.map((j) => j.policy), { self: async () => [], warn: (msg) => process.stderr.write(`banstream: ${msg}\n`) })
  const progress = process.stderr.isTTY ? progressBar() : undefined
  const options: ReplayJailsOptions = {
    jails: jails.map((j) => j.match),
    policies,
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(progress ? { onProgress: progress.update } : {}),
  }
  let result: ReplayResult
  if (history) {
    const store = await historyStore(flags)
    try {
      result = await replayLines(options, historyChunks(store, { from: from!, to: to! }))
    } finally {
      await store.close()
    }
  } else if (fromLog) {
    const log = await kafkaLog(flags, 'banstream-replay')
    let skipped = 0
    try {
      result = await replayLines(options, logChunks(log, { from: from!, to: to!, skipped: () => skipped++ }))
    } finally {
      await log.close()
    }
    if (skipped > 0) process.stderr.write(`banstream: ${skipped} records of the lines topic hold no line batch; skipped\n`)
  } else {
    const as = flags.as !== undefined ? resolve(flags.as) : flags.logpathOf !== undefined ? logpathOf(loaded.jails, flags.logpathOf) : undefined
    const inputs: ReplayInput[] = paths.map((path) => (as !== undefined ? { path, as } : { path }))
    result = await replay({ ...options, inputs })
  }
  progress?.done()
  let diff: JailDiff[] | undefined
  if (flags.decisions !== undefined) {
    const { decisions, skipped } = parseDecisionsNdjson(await readFile(flags.decisions, 'utf8'))
    if (skipped > 0) process.stderr.write(`banstream: ${flags.decisions}: ${skipped} lines are not decisions; skipped\n`)
    diff = diffDecisions(result, decisions, { ...diffPeriod(result, options), toleranceSecs: findTimeTolerance(policies) })
  }
  process.stdout.write(flags.json ? `${JSON.stringify(diff ? { ...result, diff } : result, null, 2)}\n` : formatText(result, diff))
  return 0
}

/** The history to read lines from; each driver loads only when asked for. */
async function historyStore(flags: ReplayFlags): Promise<Store> {
  if (flags.chdb !== undefined) {
    const { ChdbStore } = await import('../store/chdb-store.js')
    return ChdbStore.open(resolve(flags.chdb))
  }
  if (!/^https?:\/\//.test(flags.clickhouse!)) throw new UsageError(`--clickhouse ${flags.clickhouse}: give the server's http(s)://host:8123 address`)
  const username = process.env['BANSTREAM_CLICKHOUSE_USER']
  const password = process.env['BANSTREAM_CLICKHOUSE_PASSWORD']
  const { ClickHouseStore } = await import('../store/clickhouse-store.js')
  return new ClickHouseStore({ url: flags.clickhouse!, ...(username ? { username } : {}), ...(password ? { password } : {}) })
}

function timeOf(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new UsageError(`${flag} ${text} is not a date-time (use ISO 8601, e.g. 2026-11-15T00:00:00Z)`)
  return ms / 1000
}

/** Globs expanded (sorted, so the same arguments replay in the same order), plain paths kept; a pattern matching nothing is an error. */
async function filesOf(patterns: string[]): Promise<string[]> {
  const paths: string[] = []
  for (const pattern of patterns) {
    const absolute = resolve(pattern)
    const found = hasMagic(absolute) ? [...await expandGlob(absolute)].sort() : [absolute]
    if (found.length === 0) throw new UsageError(`${pattern}: no file matches`)
    paths.push(...found)
  }
  return paths
}

async function newestModification(paths: string[]): Promise<number> {
  const times = await Promise.all(paths.map(async (path) => (await stat(path)).mtimeMs))
  return Math.max(...times) / 1000
}

function selectJails(jails: RunJail[], names: string[]): RunJail[] {
  if (names.length === 0) return jails
  for (const name of names) {
    if (!jails.some((j) => j.config.name === name)) throw new UsageError(`--jail ${name}: no enabled jail of that name can run`)
  }
  return jails.filter((j) => names.includes(j.config.name))
}

function logpathOf(jails: RunJail[], name: string): string {
  const jail = jails.find((j) => j.config.name === name)
  if (!jail) throw new UsageError(`--logpath-of ${name}: no enabled jail of that name can run`)
  const path = jail.files[0]?.pattern ?? jail.journal?.stream ?? (jail.syslog ? SYSLOG_STREAM : undefined)
  if (path === undefined) throw new UsageError(`--logpath-of ${name}: the jail reads no file`)
  return path
}

function progressBar(): { update: (p: ReplayProgress) => void; done: () => void } {
  const started = performance.now()
  let shown = 0
  return {
    update(p) {
      const now = performance.now()
      if (now - shown < 200) return
      shown = now
      const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1
      const secs = (now - started) / 1000
      const rate = secs > 0 ? p.lines / secs : 0
      const eta = share > 0 ? secs * (1 - share) / share : 0
      const bar = '#'.repeat(Math.round(share * 30)).padEnd(30, '.')
      process.stderr.write(`\r[${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${p.lines} lines  ${(rate / 1000).toFixed(0)} k lines/s  ETA ${eta.toFixed(0)} s `)
    },
    done() {
      if (shown > 0) process.stderr.write('\r\x1b[K')
    },
  }
}

function formatText(result: ReplayResult, diff: JailDiff[] | undefined): string {
  const out: string[] = []
  const span = result.first_failure_at === null ? 'no failures' : `failures from ${result.first_failure_at} to ${result.last_failure_at}`
  out.push(`replay: ${result.lines} lines (${result.unrouted_lines} read by no jail), ${span}`)
  for (const jail of result.jails) {
    const byRegex = jail.failures_by_regex.map((r) => `#${r.regex_index}: ${r.count}`).join(', ')
    out.push('', `[${jail.jail}] ${jail.lines} lines, ${jail.failures} failures${byRegex ? ` (failregex ${byRegex})` : ''}, ${jail.bans.length} bans, ${jail.unbans.length} unbans`)
    for (const ban of jail.bans) {
      out.push(`  ban   ${ban.time}  ${ban.ip}  ${durationOf(ban.ban_time_secs)}, ${ban.failures} failures${ban.reason === 'threshold' ? '' : ` (${ban.reason})`}`)
      out.push(...samples(ban.matches))
    }
    for (const unban of jail.unbans) out.push(`  unban ${unban.time}  ${unban.ip}`)
  }
  for (const jail of diff ?? []) {
    out.push('', `[${jail.jail}] against actual decisions: ${jail.gained.length} gained, ${jail.lost.length} lost, ${jail.changed.length} changed, ${jail.same} same`)
    for (const ban of jail.gained) {
      out.push(`  + ${ban.time}  ${ban.ip}  ${durationOf(ban.ban_time_secs)}, ${ban.failures} failures`)
      out.push(...samples(ban.matches))
    }
    for (const ban of jail.lost) {
      out.push(`  - ${ban.time}  ${ban.ip}  ${durationOf(ban.ban_time_secs)}, ${ban.failures} failures`)
      out.push(...samples(ban.matches))
    }
    for (const ban of jail.changed) {
      out.push(`  ~ ${ban.time}  ${ban.ip}  ${durationOf(ban.actual_ban_time_secs)} -> ${durationOf(ban.ban_time_secs)}`)
      out.push(...samples(ban.matches))
    }
  }
  return `${out.join('\n')}\n`
}

function samples(lines: readonly string[]): string[] {
  const shown = lines.slice(0, SAMPLE_LINES).map((line) => `        | ${line}`)
  if (lines.length > SAMPLE_LINES) shown.push(`        | ... ${lines.length - SAMPLE_LINES} more`)
  return shown
}

function durationOf(secs: number): string {
  return secs === -1 ? 'permanent' : `${secs} s`
}
