import type { Registry } from 'prom-client'
import { Fail2banLog } from '../../sinks/fail2ban-log.js'
import type { Log, LogProblem } from '../log/log.js'
import { ActuationMetrics } from './actuation-metrics.js'
import { ActuateWorker, reconcileFirewalls } from './actuate-worker.js'
import { BanBook } from './ban-book.js'
import { prepareJailActions } from './jail-actions.js'
import { loadRunJails } from './run-jails.js'

export interface ActuateOptions {
  readonly log: Log
  /** This host's name: decisions targeted at other hosts are left alone. */
  readonly host: string
  /** The jails' actions (jail.conf) this host applies. */
  readonly configDir: string
  /** This host's log in fail2ban.log's format (Ban / Unban lines). */
  readonly logFile: string
  readonly dryRun?: boolean
  readonly reconcileIntervalMs?: number
  /** Where the actuation counters go (banstream_actuations_total, banstream_actuator_set_full_total). */
  readonly metrics?: Registry
  readonly now?: () => number
  readonly note: (level: 'info' | 'warn' | 'error', message: string) => void
}

/**
 * `banstream actuate`: one per host. Follows `decisions` and applies those
 * targeting this host; at start the bans in force are folded from the topic
 * (no old consumer offsets needed) and the firewall made equal to them, with
 * their remaining time, so a long outage or a reboot is repaired; nftables
 * timeouts end bans on this host's own clock even while the fleet is down.
 */
export async function startActuate(options: ActuateOptions): Promise<{ stop(): Promise<void> }> {
  const now = options.now ?? Date.now
  const report = (p: LogProblem) => options.note('warn', `log: ${p.kind}${p.topic ? ` in ${p.topic}` : ''}: ${p.reason}`)
  const { jails, skipped } = loadRunJails(options.configDir, () => now() / 1000)
  for (const { reason } of skipped) options.note('error', `${reason}; its actions are not applied`)
  const actions = await prepareJailActions(jails, { note: options.note, webhook: { host: options.host }, ...(options.dryRun ? { dryRun: true } : {}) })
  const book = await BanBook.start({ log: options.log, now, report, expire: false })
  const fail2banLog = new Fail2banLog({ path: options.logFile, now })
  const reconcile = () => reconcileFirewalls(book.bans(), actions, options.host, options.note)
  await reconcile()
  const worker = ActuateWorker.start({ log: options.log, host: options.host, fail2banLog, actions: () => actions, now, report,
    ...(options.metrics ? { metrics: new ActuationMetrics(options.metrics) } : {}) })
  const timer = setInterval(() => void reconcile(), options.reconcileIntervalMs ?? 60_000)
  timer.unref()
  return {
    stop: async () => {
      clearInterval(timer)
      await worker.stop()
      await book.stop()
      await fail2banLog.close()
    },
  }
}
