import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../config/errors.js'
import { loadJailFilter, loadJails, type JailConfig, type JailReadOptions } from '../config/jail-config.js'
import { jailPolicyOptions, type JailPolicySettings } from '../config/jail-policy.js'
import { compileFilter, type UseDns } from '../filters/compiled-filter.js'
import { UnsupportedConstructError } from '../filters/unsupported-construct-error.js'
import { parseLogPaths, type LogPath } from '../sources/logpath.js'
import { SYSLOG_STREAM } from '../sources/syslog-server.js'
import type { MatchJail } from '../../streams/match.js'

/** An enabled jail, ready to run: what match, decide and the sources need of it. */
export interface RunJail {
  readonly config: JailConfig
  readonly match: MatchJail
  readonly policy: JailPolicySettings
  /** Files to follow, for file backends. */
  readonly files: readonly LogPath[]
  /** fail2ban's `logencoding`. */
  readonly encoding: string
  /** True for `backend = syslog`: the jail reads what the syslog server receives (SYSLOG_STREAM). */
  readonly syslog?: boolean
  /** Set for `backend = systemd`: the journal is read with this journalmatch (undefined: every entry). */
  readonly journal?: { readonly journalmatch?: string; readonly stream: string }
  /** The jail's actions as jail.conf names them, e.g. `nftables[name=sshd, port="ssh", protocol=tcp]`. */
  readonly actions: readonly string[]
  /** The configuration tree the jail was read from (its action.d files). */
  readonly configDir: string
}

export interface RunJailsResult {
  readonly jails: RunJail[]
  /** Enabled jails that cannot run, each with the reason (fail2ban skips such a jail and starts the others). */
  readonly skipped: { jail: string; reason: string }[]
  /** Jails whose own filter RE2 cannot run, running banstream's built-in filter of the same name instead. */
  readonly substituted: { jail: string; reason: string }[]
}

const USE_DNS: Record<string, UseDns> = { yes: 'yes', warn: 'warn', no: 'no', raw: 'raw' }

/**
 * Reads the enabled jails of a fail2ban configuration tree and compiles what
 * each needs. A jail whose filter, options or paths are wrong is skipped with
 * its reason, as fail2ban skips it, so one mistake does not stop the others.
 * With `fallbackFilterDir` (an existing /etc/fail2ban), a filter that RE2
 * cannot run is replaced by the built-in filter of the same name there.
 */
export function loadRunJails(configDir: string, now: () => number, opts: { fallbackFilterDir?: string } & JailReadOptions = {}): RunJailsResult {
  const jails: RunJail[] = []
  const skipped: { jail: string; reason: string }[] = []
  const substituted: { jail: string; reason: string }[] = []
  for (const config of loadJails(configDir, opts)) {
    if (!config.enabled) continue
    try {
      jails.push(runJail(configDir, config, now))
    } catch (error) {
      if (!(error instanceof ConfigError || error instanceof UnsupportedConstructError || error instanceof RunJailError)) throw error
      const fallback = error instanceof UnsupportedConstructError && opts.fallbackFilterDir !== undefined && config.filter
        && existsSync(join(opts.fallbackFilterDir, `${config.filter.name}.conf`))
      if (!fallback) {
        skipped.push({ jail: config.name, reason: error.message })
        continue
      }
      jails.push(runJail(configDir, config, now, opts.fallbackFilterDir))
      substituted.push({ jail: config.name, reason: `${error.message}; banstream's built-in ${config.filter!.name} filter is used instead` })
    }
  }
  return { jails, skipped, substituted }
}

/** An enabled jail that cannot run as configured. */
export class RunJailError extends Error {
  constructor(jail: string, message: string) {
    super(`jail '${jail}': ${message}`)
    this.name = 'RunJailError'
  }
}

function runJail(configDir: string, config: JailConfig, now: () => number, filterDir?: string): RunJail {
  const definition = loadJailFilter(configDir, config, filterDir)
  if (!definition) throw new RunJailError(config.name, 'has no filter')
  const options = config.options
  const useDns = USE_DNS[(options['usedns'] ?? 'warn').trim().toLowerCase()]
  if (!useDns) throw new RunJailError(config.name, `usedns = ${options['usedns']} is not one of yes, warn, no, raw`)
  const timezone = options['logtimezone']?.trim()
  const filter = compileFilter(definition, { useDns, now, ...(timezone ? { timezone } : {}) })
  const policy = jailPolicyOptions(config)
  const backend = (options['backend'] ?? 'auto').trim().toLowerCase()
  const actions = config.actions.map(referenceText)
  const encoding = options['logencoding']?.trim() || 'auto'
  if (backend.startsWith('systemd')) {
    const stream = `journald:${config.name}`
    const journalmatch = definition.journalmatch?.trim()
    return {
      config, configDir, policy, files: [], encoding, actions,
      match: { name: config.name, filter, streams: [stream], successes: policy.reset_on_success },
      journal: { stream, ...(journalmatch ? { journalmatch } : {}) },
    }
  }
  if (backend === 'syslog') {
    return {
      config, configDir, policy, files: [], encoding, actions, syslog: true,
      match: { name: config.name, filter, streams: [SYSLOG_STREAM], successes: policy.reset_on_success },
    }
  }
  if (!['auto', 'polling', 'pyinotify', 'gamin'].includes(backend)) {
    throw new RunJailError(config.name, `backend = ${backend} is not one of auto, polling, pyinotify, systemd, syslog`)
  }
  const files = config.logpath.flatMap((line) => parseLogPaths(line))
  if (files.length === 0) throw new RunJailError(config.name, 'has no logpath')
  return { config, configDir, policy, files, encoding, actions, match: { name: config.name, filter, logpath: files.map((f) => f.pattern), successes: policy.reset_on_success } }
}

function referenceText(ref: { name: string; args: Record<string, string> }): string {
  const args = Object.entries(ref.args).map(([k, v]) => `${k}=${/[\s,\]"]/.test(v) ? JSON.stringify(v) : v}`)
  return args.length === 0 ? ref.name : `${ref.name}[${args.join(', ')}]`
}
