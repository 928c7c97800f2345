import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { buildApi, type ApiToken } from '../api/build-api.js'
import { resolveJailPolicies } from '../ignore/resolve-policies.js'
import type { Log, LogProblem } from '../log/log.js'
import type { Store } from '../store/store.js'
import { BanBook } from './ban-book.js'
import { FleetControl, type FleetJail } from './fleet-control.js'
import { loadRunJails } from './run-jails.js'

export interface ApiRoleOptions {
  /** The fleet's log (Kafka); its topics exist (`banstream topics create`). */
  readonly log: Log
  /** The configuration the detect workers run: the jails, their ignoreip and findtime. */
  readonly configDir: string
  /** Filters to use where the tree's own filter needs a construct RE2 lacks (as detect is given them). */
  readonly fallbackFilterDir?: string
  /** The fleet's event history, which the store role fills and migrates. */
  readonly store: Store
  /** Where the API listens; port 0 picks a free one. Beyond loopback `tokens` are required. */
  readonly listen: { readonly host: string; readonly port: number }
  readonly tokens?: readonly ApiToken[]
  /** CrowdSec bouncers' X-Api-Key values. */
  readonly bouncerKeys?: readonly string[]
  /** Where the API keeps its own state: the bouncers' last pull times. */
  readonly dataDir?: string
  /** Directories POST /v1/replay may read log files from; the log's `lines` topic is always replayable. */
  readonly replayDirs?: readonly string[]
  /** How long POST /v1/bans and DELETE /v1/bans/{ip} wait for their decision (default 15 000 ms). */
  readonly answerWithinMs?: number
  /** Wall clock in milliseconds (default Date.now). */
  readonly now?: () => number
  readonly note: (level: 'info' | 'warn' | 'error', message: string) => void
}

export interface ApiRole {
  /** Where the API listens, e.g. http://127.0.0.1:7373. */
  readonly url: string
  /** Reads the configuration again (what POST /v1/reload does). */
  reload(): Promise<void>
  stop(): Promise<void>
}

/**
 * `banstream api`: the REST API of a fleet. The bans in force are folded from
 * `decisions` before the API listens, so it answers (/readyz included) only
 * once it has caught up; manual bans and unbans go through `commands` to the
 * detect workers (see FleetControl); the history routes query the store;
 * POST /v1/replay runs candidate jails over the `lines` topic or allowed files.
 * Several can run side by side: each folds `decisions` on its own.
 */
export async function startApi(options: ApiRoleOptions): Promise<ApiRole> {
  const { log, note } = options
  const now = options.now ?? Date.now
  const report = (problem: LogProblem) => note('warn', `log: ${problem.kind}${problem.topic ? ` in ${problem.topic}` : ''}: ${problem.reason}`)
  let jails = await readJails(options, now)
  // The detect workers lift bans when they end; a second expire stage here would only race them.
  const book = await BanBook.start({ log, now, report, expire: false })
  const control = new FleetControl({
    log, book, now,
    store: options.store,
    jails: () => jails,
    reload: async () => {
      jails = await readJails(options, now)
    },
    ...(options.answerWithinMs !== undefined ? { answerWithinMs: options.answerWithinMs } : {}),
  })
  let app: FastifyInstance
  try {
    app = buildApi({
      control,
      store: options.store,
      tokens: options.tokens,
      bind: options.listen.host,
      ...(options.bouncerKeys ? { bouncerKeys: options.bouncerKeys } : {}),
      ...(options.dataDir !== undefined ? { bouncerPullsFile: join(options.dataDir, 'bouncer-pulls.json') } : {}),
      now,
      metrics: new Registry(),
      replay: {
        configDir: options.configDir,
        ...(options.fallbackFilterDir !== undefined ? { fallbackFilterDir: options.fallbackFilterDir } : {}),
        dirs: options.replayDirs ?? [],
        log,
      },
    })
    await app.listen({ host: options.listen.host, port: options.listen.port })
  } catch (error) {
    control.close()
    await book.stop()
    throw error
  }
  return {
    url: urlOf(app),
    reload: () => control.reload(),
    async stop() {
      await app.close()
      control.close()
      await book.stop()
    },
  }
}

/** The enabled jails as detect reads them (a jail detect skips is not offered here either). */
async function readJails(options: ApiRoleOptions, now: () => number): Promise<FleetJail[]> {
  const { jails, skipped } = loadRunJails(options.configDir, () => now() / 1000,
    options.fallbackFilterDir ? { fallbackFilterDir: options.fallbackFilterDir } : {})
  for (const { reason } of skipped) options.note('error', `${reason}; the jail is skipped`)
  const policies = await resolveJailPolicies(jails.map((j) => j.policy), { warn: (message) => options.note('warn', message) })
  return jails.map((j, i) => ({ name: j.config.name, policy: policies[i]!, file_list: j.journal ? [] : j.files.map((f) => f.pattern) }))
}

function urlOf(app: FastifyInstance): string {
  const address = app.server.address()
  if (!address || typeof address === 'string') return String(address)
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}
