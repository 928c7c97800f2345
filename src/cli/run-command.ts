import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { DEFAULT_CONTROL_PORT } from '../api/api-settings.js'
import type { FsyncPolicy } from '../log/embedded-log.js'
import { builtinConfigDir } from '../package-root.js'
import { TOKEN_ENV } from './client-command.js'
import { historyLinesDaysOf, historyLinesOption } from './history-lines-option.js'
import { maxStreamsOf, maxStreamsOption } from './max-streams-option.js'
import { syslogOf, withSyslog, type SyslogFlags } from './syslog-options.js'
import { UsageError } from './usage-error.js'

interface RunFlags extends SyslogFlags {
  config?: string
  fail2ban?: string
  dataDir: string
  logFile?: string
  controlPort: string
  controlBind: string
  controlToken?: string
  fsync: string
  dryRun?: boolean
  history: string
  historyLines?: string | boolean
  maxStreams?: string
  readToken: string[]
  bouncerKey: string[]
  replayDir: string[]
}

const collect = (value: string, previous: string[]): string[] => [...previous, value]
const listFromEnv = (name: string): string[] => (process.env[name] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '')

/** `banstream run`: every role in one process, until SIGINT or SIGTERM; SIGHUP reloads the configuration. */
export function runCommand(): Command {
  return withSyslog(new Command('run')
    .description('watch logs and ban as fail2ban does, every role in one process over the embedded log')
    .addOption(new Option('--config <dir>', 'banstream configuration directory (jail.conf, jail.d, filter.d); default ./config, else the shipped one').conflicts('fail2ban'))
    .option('--fail2ban <dir>', "read an existing fail2ban tree, e.g. /etc/fail2ban (filters RE2 cannot run are replaced by banstream's of the same name)")
    .option('--data-dir <dir>', 'where the embedded log and state are kept', process.env['BANSTREAM_DATA_DIR'] ?? 'data')
    .option('--log-file <path>', "banstream's log in fail2ban.log's format (default <data-dir>/banstream.log)")
    .option('--control-port <port>', 'control API port (0 = any free port)', String(DEFAULT_CONTROL_PORT))
    .option('--control-bind <address>', 'control API address; beyond loopback a token is required', '127.0.0.1')
    .option('--control-token <token>', `bearer token for reading and operating (bans, unbans, reload) (default: $${TOKEN_ENV})`)
    .option('--read-token <token>', 'a bearer token that may only read (repeatable; also $BANSTREAM_READ_TOKENS, comma-separated)', collect, [])
    .option('--bouncer-key <key>', "a CrowdSec bouncer's X-Api-Key for /v1/decisions (repeatable; also $BANSTREAM_BOUNCER_KEYS)", collect, [])
    .option('--replay-dir <dir>', 'a directory whose log files (and those below it) POST /v1/replay may read (repeatable)', collect, [])
    .option('--fsync <policy>', "when the log is forced to disk: 'always', 'never', or every N milliseconds", '1000')
    .option('--dry-run', "log what each jail action would do instead of doing it (the firewall is left alone)")
    .option('--history <where>', "where the event history is kept: 'embedded' (chDB in the data dir), a ClickHouse URL, or 'none'", process.env['BANSTREAM_HISTORY'] ?? 'embedded')
    .addOption(historyLinesOption())
    .addOption(maxStreamsOption()))
    .action(async (flags: RunFlags) => {
      // Listening before the start: a SIGTERM while starting stops banstream once it is up, not half way.
      const stopRequested = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      const linesDays = historyLinesDaysOf(flags.historyLines)
      const maxStreams = maxStreamsOf(flags.maxStreams)
      const syslog = syslogOf(flags)
      const { RunRole } = await import('../roles/run.js')
      const role = await RunRole.start({
        configDir: configDirOf(flags),
        ...(flags.fail2ban !== undefined ? { fallbackFilterDir: join(builtinConfigDir(), 'filter.d') } : {}),
        dataDir: resolve(flags.dataDir),
        ...(flags.logFile !== undefined ? { logFile: resolve(flags.logFile) } : {}),
        control: {
          port: portOf(flags.controlPort),
          bind: flags.controlBind,
          ...((flags.controlToken ?? process.env[TOKEN_ENV]) ? { token: flags.controlToken ?? process.env[TOKEN_ENV]! } : {}),
          readTokens: [...flags.readToken, ...listFromEnv('BANSTREAM_READ_TOKENS')],
          bouncerKeys: [...flags.bouncerKey, ...listFromEnv('BANSTREAM_BOUNCER_KEYS')],
        },
        fsync: fsyncOf(flags.fsync),
        ...(flags.dryRun ? { dryRun: true } : {}),
        ...historyOf(flags.history),
        ...(linesDays !== undefined ? { historyLinesDays: linesDays } : {}),
        replayDirs: flags.replayDir.map((dir) => resolve(dir)),
        ...(maxStreams !== undefined ? { maxStreams } : {}),
        ...(syslog ? { syslog } : {}),
      })
      process.stderr.write(`banstream: running; control API on ${role.controlUrl ?? 'an unknown address'}\n`)
      const reload = () => {
        role.reload().catch((error: Error) => process.stderr.write(`banstream: reload failed: ${error.message}\n`))
      }
      process.on('SIGHUP', reload)
      await stopRequested
      process.off('SIGHUP', reload)
      await role.stop()
    })
}

/** --fail2ban DIR, --config DIR, else ./config when it holds a jail.conf, else the shipped configuration. */
export function configDirOf(flags: { config?: string; fail2ban?: string }): string {
  if (flags.fail2ban !== undefined) return resolve(flags.fail2ban)
  if (flags.config !== undefined) return resolve(flags.config)
  return existsSync('config/jail.conf') ? resolve('config') : builtinConfigDir()
}

function historyOf(text: string): { history?: 'embedded' | { url: string } } {
  if (text === 'none') return {}
  if (text === 'embedded') return { history: 'embedded' }
  if (/^https?:\/\//.test(text)) return { history: { url: text } }
  throw new UsageError(`--history ${text}: use embedded, none, or a ClickHouse URL (http://host:8123)`)
}

function portOf(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--control-port ${text} is not a port number`)
  return port
}

function fsyncOf(text: string): FsyncPolicy {
  if (text === 'always' || text === 'never') return text
  if (/^\d+$/.test(text) && Number(text) > 0) return { intervalMs: Number(text) }
  throw new UsageError(`--fsync ${text}: use always, never, or a number of milliseconds`)
}
