import { Decision } from '../../schemas/events/decision.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { Topics } from '../../schemas/topics.js'
import type { Fail2banLog } from '../../sinks/fail2ban-log.js'
import type { Log, LogProblem, Subscription } from '../log/log.js'

export interface DecisionLogWorkerOptions {
  readonly log: Log
  readonly fail2banLog: Fail2banLog
  /** The jail's actions as jail.conf names them: what would run for a decision. */
  readonly actionsOf: (jail: string) => readonly string[]
  readonly report: (problem: LogProblem) => void
}

/**
 * Writes every decision to banstream's fail2ban-format log (`[sshd] Ban
 * 192.0.2.1`, `[sshd] Unban 192.0.2.1`), which the recidive jail reads, and
 * the actions that would run: actions are a dry-run until the actuators land.
 * Committed after the lines are written, so a crash may repeat a line but
 * never drop one.
 */
export class DecisionLogWorker {
  private constructor(private subscription?: Subscription) {}

  static start(options: DecisionLogWorkerOptions): DecisionLogWorker {
    const { fail2banLog } = options
    return new DecisionLogWorker(options.log.subscribe({ topic: Topics.decisions.name, group: 'fail2ban-log' }, async (records) => {
      for (const record of records) {
        const decoded = decodeEvent(Decision, record.value)
        if (!decoded.ok) {
          options.report({ kind: 'corrupt-record', topic: record.topic, partition: record.partition, position: record.offset, reason: decoded.errors.join('; ') })
          continue
        }
        const decision = decoded.value
        const verb = decision.type === 'BanIssued' ? 'ban' : 'unban'
        await (decision.type === 'BanIssued' ? fail2banLog.ban(decision) : fail2banLog.unban(decision))
        for (const action of options.actionsOf(decision.jail)) {
          await fail2banLog.log('fail2ban.actions', 'INFO', `[${decision.jail}] dry-run: ${action} would ${verb} ${decision.ip}`)
        }
      }
    }))
  }

  async stop(): Promise<void> {
    await this.subscription?.close()
    this.subscription = undefined
  }
}
