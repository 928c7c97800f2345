import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { HostResolver } from '../ignore/host-resolver.js'
import { ignoreCommandsOf, ignoredByCommand } from '../ignore/ignore-command.js'
import { resolveJailPolicies } from '../ignore/resolve-policies.js'
import type { Registry } from 'prom-client'
import type { Log, LogProblem } from '../log/log.js'
import { registerMatchMetrics } from './match-metrics.js'
import { MatchWorker } from './match-worker.js'
import { PartitionDecideWorker } from './partition-decide-worker.js'
import { loadRunJails } from './run-jails.js'

export interface DetectOptions {
  /** The fleet's log (Kafka); its topics exist (`banstream topics create`). */
  readonly log: Log
  /** A fail2ban configuration tree: the enabled jails are matched and decided here. */
  readonly configDir: string
  /** Filters to use where the tree's own filter needs a construct RE2 lacks. */
  readonly fallbackFilterDir?: string
  /** true (default) for a running service, as `banstream run`; false decides by event time alone (replaying logs). */
  readonly live?: boolean
  /** See PartitionDecideWorkerOptions.lateness_secs (default 300). */
  readonly lateness_secs?: number
  /** How often commands are looked for (default 1000 ms). */
  readonly commandsPollMs?: number
  /** Wall clock in milliseconds (default Date.now). */
  readonly now?: () => number
  /** See MatchOptions.maxStreams. */
  readonly maxStreams?: number
  /** Where the match stage's counters are registered (`banstream detect --metrics`). */
  readonly metrics?: Registry
  readonly note: (level: 'info' | 'warn' | 'error', message: string) => void
}

export interface Detect {
  /** The `failures` partitions whose decide state this worker holds. */
  decidePartitions(): number[]
  stop(): Promise<void>
}

/**
 * `banstream detect`: one member of the fleet's detect stage. Match reads
 * `lines` in the consumer group `match` and appends `failures` keyed by
 * address; decide holds the `failures` partitions the group `decide` gives it,
 * a state per partition rebuilt from the log when given, and appends
 * `decisions`. Start as many as the partitions allow; they share the work.
 */
export async function startDetect(options: DetectOptions): Promise<Detect> {
  const { log, note } = options
  const now = options.now ?? Date.now
  const report = (problem: LogProblem) => note('warn', `log: ${problem.kind}${problem.topic ? ` in ${problem.topic}` : ''}${problem.partition === undefined ? '' : `/${problem.partition}`}: ${problem.reason}`)
  const { jails, skipped, substituted } = loadRunJails(options.configDir, () => now() / 1000, options.fallbackFilterDir ? { fallbackFilterDir: options.fallbackFilterDir } : {})
  for (const { reason } of skipped) note('error', `${reason}; the jail is skipped`)
  for (const { reason } of substituted) note('warn', reason)
  if (jails.length === 0) note('warn', `no jail is enabled in ${options.configDir}: nothing is detected`)
  const resolver = new HostResolver()
  const warn = (message: string) => note('warn', message)
  const policies = await resolveJailPolicies(jails.map((j) => j.policy), { resolver, warn })
  const ignoreCommands = ignoreCommandsOf(jails.map((j) => j.config), { warn })
  const ignored = (failure: FailureDetected) => ignoredByCommand(ignoreCommands, failure)
  const decide = PartitionDecideWorker.start({
    log, report, now, ignored,
    decide: { jails: policies, live: options.live ?? true },
    ...(options.lateness_secs !== undefined ? { lateness_secs: options.lateness_secs } : {}),
    ...(options.commandsPollMs !== undefined ? { commandsPollMs: options.commandsPollMs } : {}),
  })
  const match = MatchWorker.start({ log, jails: jails.map((j) => j.match), resolver, warn, report, ...(options.maxStreams !== undefined ? { maxStreams: options.maxStreams } : {}) })
  if (options.metrics) registerMatchMetrics(options.metrics, match.counters)
  return {
    decidePartitions: () => decide.partitions(),
    async stop() {
      await match.stop()
      await decide.stop()
    },
  }
}
