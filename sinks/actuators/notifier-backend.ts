import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome, ActuatorBackend, StepResult } from './actuator-backend.js'
import { SerialQueue } from './backend-kit.js'

/**
 * A backend that tells someone about decisions (a webhook, a mail) rather than
 * holding them: nothing to set up, nothing to reconcile, and each decision
 * told on its own, in order, so a ban is told before its unban.
 */
export abstract class NotifierBackend implements ActuatorBackend {
  abstract readonly name: string
  readonly detached = true
  private readonly queue = new SerialQueue()

  /** Nothing to create: the receiver is only reached when there is something to tell. */
  setup(): Promise<StepResult> {
    return Promise.resolve({ ok: true })
  }

  actuate(decisions: readonly Decision[]): Promise<ActuationOutcome[]> {
    return this.queue.run(async () => {
      const outcomes: ActuationOutcome[] = []
      for (const d of decisions) outcomes.push(await this.notify(d))
      return outcomes
    })
  }

  /** Tells one decision; never throws, a failure is its outcome. */
  protected abstract notify(d: Decision): Promise<ActuationOutcome>
}
