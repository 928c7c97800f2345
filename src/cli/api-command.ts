import { join, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { DEFAULT_CONTROL_PORT } from '../api/api-settings.js'
import type { ApiToken } from '../api/build-api.js'
import { parseListenAddress } from '../api/listen-address.js'
import { builtinConfigDir } from '../package-root.js'
import { TOKEN_ENV } from './client-command.js'
import { kafkaLog, withKafka } from './kafka-options.js'
import { configDirOf } from './run-command.js'
import { UsageError } from './usage-error.js'

interface ApiFlags {
  kafka?: string
  clickhouse?: string
  clickhouseUser?: string
  clickhousePassword?: string
  config?: string
  fail2ban?: string
  listen: string
  controlToken?: string
  readToken: string[]
  bouncerKey: string[]
  replayDir: string[]
  dataDir: string
}

const collect = (value: string, previous: string[]): string[] => [...previous, value]
const listFromEnv = (name: string): string[] => (process.env[name] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '')

/** `banstream api`: the fleet's REST API, until SIGINT or SIGTERM; SIGHUP reloads the configuration. */
export function apiCommand(): Command {
  return withKafka(new Command('api'))
    .description("the fleet's REST API: bans in force and manual bans over Kafka, the history from ClickHouse, CrowdSec's bouncer routes")
    .option('--clickhouse <url>', 'the ClickHouse server the store role fills (default: $BANSTREAM_CLICKHOUSE_URL)')
    .option('--clickhouse-user <name>', 'ClickHouse user (default: $BANSTREAM_CLICKHOUSE_USER)')
    .option('--clickhouse-password <password>', 'ClickHouse password (default: $BANSTREAM_CLICKHOUSE_PASSWORD)')
    .addOption(new Option('--config <dir>', 'the configuration the detect workers run (jails, ignoreip); default ./config, else the shipped one').conflicts('fail2ban'))
    .option('--fail2ban <dir>', 'read an existing fail2ban tree, as detect does')
    .option('--listen <host:port>', 'where the API listens; beyond loopback a token is required (default: $BANSTREAM_API_LISTEN)',
      process.env['BANSTREAM_API_LISTEN'] ?? `127.0.0.1:${DEFAULT_CONTROL_PORT}`)
    .option('--control-token <token>', `bearer token for reading and operating (bans, unbans, reload) (default: $${TOKEN_ENV})`)
    .option('--data-dir <dir>', "where the API keeps CrowdSec bouncers' last pull times, so a restart misses no unban", process.env['BANSTREAM_DATA_DIR'] ?? 'data')
    .option('--read-token <token>', 'a bearer token that may only read (repeatable; also $BANSTREAM_READ_TOKENS, comma-separated)', collect, [])
    .option('--replay-dir <dir>', 'a directory whose log files (and those below it) POST /v1/replay may read (repeatable)', collect, [])
    .option('--bouncer-key <key>', "a CrowdSec bouncer's X-Api-Key for /v1/decisions (repeatable; also $BANSTREAM_BOUNCER_KEYS)", collect, [])
    .action(async (flags: ApiFlags) => {
      const url = flags.clickhouse ?? process.env['BANSTREAM_CLICKHOUSE_URL']
      if (!url || !/^https?:\/\//.test(url)) throw new UsageError('--clickhouse http(s)://host:8123 (or $BANSTREAM_CLICKHOUSE_URL) is needed')
      const listen = parseListenAddress(flags.listen)
      if (!listen) throw new UsageError(`--listen ${flags.listen}: use host:port, [v6-address]:port or :port`)
      const username = flags.clickhouseUser ?? process.env['BANSTREAM_CLICKHOUSE_USER']
      const password = flags.clickhousePassword ?? process.env['BANSTREAM_CLICKHOUSE_PASSWORD']
      const stopRequested = new Promise<void>((done) => {
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      const note = (level: 'info' | 'warn' | 'error', message: string) => process.stderr.write(`${level}: ${message}\n`)
      const { ClickHouseStore } = await import('../store/clickhouse-store.js')
      const { startApi } = await import('../roles/api.js')
      const store = new ClickHouseStore({ url, ...(username ? { username } : {}), ...(password ? { password } : {}) })
      const log = await kafkaLog(flags, 'banstream-api')
      const closeAll = async () => {
        await log.close()
        await store.close()
      }
      const api = await startApi({
        log, store, note, listen,
        configDir: configDirOf(flags),
        ...(flags.fail2ban !== undefined ? { fallbackFilterDir: join(builtinConfigDir(), 'filter.d') } : {}),
        tokens: tokensOf(flags),
        bouncerKeys: [...flags.bouncerKey, ...listFromEnv('BANSTREAM_BOUNCER_KEYS')],
        replayDirs: flags.replayDir.map((dir) => resolve(dir)),
        dataDir: resolve(flags.dataDir),
      }).catch(async (error: unknown) => {
        // A refused token setting or a taken port: the connections would keep the process from exiting.
        await closeAll()
        throw error
      })
      process.stderr.write(`banstream: the fleet API listens on ${api.url}\n`)
      const reload = () => {
        api.reload().catch((error: Error) => process.stderr.write(`banstream: reload failed: ${error.message}\n`))
      }
      process.on('SIGHUP', reload)
      await stopRequested
      process.off('SIGHUP', reload)
      await api.stop()
      await closeAll()
    })
}

function tokensOf(flags: ApiFlags): ApiToken[] {
  const operate = flags.controlToken ?? process.env[TOKEN_ENV]
  return [
    ...(operate ? [{ token: operate, role: 'operate' as const }] : []),
    ...[...flags.readToken, ...listFromEnv('BANSTREAM_READ_TOKENS')].map((token) => ({ token, role: 'read' as const })),
  ]
}
