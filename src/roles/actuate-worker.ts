import type { Actuation } from '../../schemas/events/actuation.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { Decision } from '../../schemas/events/decision.js'
import { eventId } from '../../schemas/events/event-id.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { Topics } from '../../schemas/topics.js'
import type { ActuationOutcome } from '../../sinks/actuators/actuator-backend.js'
import type { Fail2banLog } from '../../sinks/fail2ban-log.js'
import type { Log, LogProblem, Subscription } from '../log/log.js'
import type { ActuationMetrics } from './actuation-metrics.js'
import { targets } from '../../streams/ban-target.js'
import type { JailActions } from './jail-actions.js'

export interface ActuateWorkerOptions {
  readonly log: Log
  /** This host: decisions targeted at other hosts only are not applied here. */
  readonly host: string
  /** Apply every decision whatever hosts it targets: `banstream run` is the only actuator of its decisions. */
  readonly everyTarget?: boolean
  readonly fail2banLog: Fail2banLog
  /** The current jails' actions and the backends that carry them out. */
  readonly actions: () => JailActions
  readonly now?: () => number
  readonly report: (problem: LogProblem) => void
  /** Counts each recorded actuation (and full sets) for /metrics. */
  readonly metrics?: ActuationMetrics
}

/**
 * The actuator inside `banstream run`: applies every decision that targets
 * this host through the jail's actions (each to the backend that carries it
 * out; actions without one are a dry-run that logs what would run), writes fail2ban.log's Ban and Unban
 * lines, and reports each outcome as an Actuation on `actuations`.
 * Committed after the enforcing backends' actuations are appended: a crash
 * repeats a decision, which every such backend applies idempotently;
 * notifications are told beside the next decisions and recorded when done.
 */
export class ActuateWorker {
  private subscription: Subscription | undefined
  private readonly now: () => number
  /** Notifications under way (detached backends), each recording its actuations when done. */
  private readonly telling = new Set<Promise<void>>()

  private constructor(private readonly options: ActuateWorkerOptions) {
    this.now = options.now ?? Date.now
  }

  static start(options: ActuateWorkerOptions): ActuateWorker {
    const worker = new ActuateWorker(options)
    // Large batches: a backend applies a batch in one transaction, so a burst of bans costs a few
    // firewall runs instead of one per 500 decisions.
    const batch = { maxBatchRecords: 10_000, maxBatchBytes: 8 * 1024 * 1024 }
    worker.subscription = options.log.subscribe({ topic: Topics.decisions.name, group: `actuate-${options.host}`, ...batch }, async (records) => {
      const decisions: Decision[] = []
      for (const record of records) {
        const decoded = decodeEvent(Decision, record.value)
        if (decoded.ok) decisions.push(decoded.value)
        else options.report({ kind: 'corrupt-record', topic: record.topic, partition: record.partition, position: record.offset, reason: decoded.errors.join('; ') })
      }
      await worker.actuate(options.everyTarget ? decisions : decisions.filter((d) => d.type !== 'BanIssued' || targets(d.targets, options.host)))
    })
    return worker
  }

  /** Stops taking decisions, then waits for the notifications still being told. */
  async stop(): Promise<void> {
    await this.subscription?.close()
    this.subscription = undefined
    await Promise.all(this.telling)
  }

  private async actuate(decisions: readonly Decision[]): Promise<void> {
    const { fail2banLog, host } = this.options
    const actions = this.options.actions()
    const actuations: Actuation[] = []
    const at = () => new Date(this.now()).toISOString()
    const actuation = (d: Decision, backend: string, action: string, outcome: Actuation['outcome'], error?: string): Actuation => ({
      type: 'Actuation',
      event_id: eventId('Actuation', d.event_id, host, action),
      decision_event_id: d.event_id,
      host, jail: d.jail, ip: d.ip, backend, action, outcome,
      ...(error !== undefined && { error }),
      occurred_at: at(),
    })

    const batches = new Map<string, Decision[]>()
    // Not awaited one by one: lines made while a write is in flight share the next one, so a batch
    // costs a write or two instead of one per decision.
    const lines: Promise<void>[] = []
    for (const d of decisions) {
      lines.push(d.type === 'BanIssued' ? fail2banLog.ban(d) : fail2banLog.unban(d))
      for (const action of actions.of(d.jail)) {
        if (actions.backends.has(action.backend)) {
          const batch = batches.get(action.backend) ?? []
          batches.set(action.backend, batch)
          batch.push(d)
          continue
        }
        lines.push(fail2banLog.log('fail2ban.actions', 'INFO', `[${d.jail}] dry-run: ${action.text} would ${d.type === 'BanIssued' ? 'ban' : 'unban'} ${d.ip}`))
        actuations.push(actuation(d, 'dry-run', action.text, 'dry-run'))
      }
    }
    await Promise.all(lines)
    const run = async (key: string, batch: readonly Decision[]): Promise<Actuation[]> => {
      const backend = actions.backends.get(key)!
      const outcomes = await backend.actuate(batch)
      const logged: Promise<void>[] = []
      const done = outcomes.map((outcome, i) => {
        const d = batch[i]!
        const action = actions.of(d.jail).find((a) => a.backend === key)!.text
        logged.push(this.logOutcome(d, action, outcome))
        return actuation(d, backend.name, action, outcome.outcome, outcome.error)
      })
      await Promise.all(logged)
      return done
    }
    // Backends run side by side; notifications are not waited for (ActuatorBackend.detached).
    const detached = [...batches].filter(([key]) => actions.backends.get(key)!.detached)
    for (const [key, batch] of detached) {
      const told = run(key, batch).then((done) => this.record(done)).catch((error: Error) =>
        this.options.report({ kind: 'handler-failed', topic: Topics.actuations.name, reason: `recording ${key}'s outcomes: ${error.message}` }))
      this.telling.add(told)
      void told.finally(() => this.telling.delete(told))
    }
    const enforced = [...batches].filter(([key]) => !actions.backends.get(key)!.detached)
    for (const done of await Promise.all(enforced.map(([key, batch]) => run(key, batch)))) actuations.push(...done)
    await this.record(actuations)
  }

  private async record(actuations: readonly Actuation[]): Promise<void> {
    if (actuations.length === 0) return
    await this.options.log.append(Topics.actuations.name, actuations.map((a) => ({ key: Buffer.from(a.host), value: Buffer.from(JSON.stringify(a)) })))
    this.options.metrics?.count(actuations)
  }

  private logOutcome(d: Decision, action: string, outcome: ActuationOutcome): Promise<void> {
    const log = this.options.fail2banLog
    if (outcome.outcome === 'failed') {
      return log.log('fail2ban.actions', 'ERROR', `Failed to execute ${d.type === 'BanIssued' ? 'ban' : 'unban'} jail '${d.jail}' action '${action}': ${outcome.error ?? 'unknown error'}`)
    }
    if (outcome.warning !== undefined) return log.log('fail2ban.actions', 'WARNING', `[${d.jail}] ${d.ip}: ${outcome.warning}`)
    return Promise.resolve()
  }
}

/**
 * Makes each backend that keeps state (the firewalls) hold exactly the bans
 * in force that target this host (undefined: all of them, as in `banstream run`) and a jail it serves: entries missing (a
 * flush by another tool, a reboot) are added with their remaining time,
 * stale ones removed.
 */
export async function reconcileFirewalls(bans: readonly BanIssued[], actions: JailActions, host: string | undefined, note: (level: 'info' | 'error', message: string) => void): Promise<void> {
  const mine = host === undefined ? bans : bans.filter((b) => targets(b.targets, host))
  for (const [key, backend] of actions.backends) {
    if (!backend.reconcile) continue
    const result = await backend.reconcile(mine.filter((b) => actions.of(b.jail).some((a) => a.backend === key)))
    if (!result.ok) note('error', `${key}: reconciling failed: ${result.error}`)
    else if (result.added + result.removed > 0) note('info', `${key}: reconciled (${result.added} added, ${result.removed} removed)`)
  }
}
