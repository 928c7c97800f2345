import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { Decision } from '../../schemas/events/decision.js'

/** What became of one decision on this host (the fields of an Actuation event). */
export interface ActuationOutcome {
  readonly decision_event_id: string
  readonly jail: string
  readonly ip: string
  /**
   * 'applied': the ban is in force; 'removed': the unban is;
   * 'failed': see error; 'skipped': a ban already past its expiry, not added.
   */
  readonly outcome: 'applied' | 'removed' | 'failed' | 'skipped'
  /** Why it failed (the tool's own message) or was skipped. */
  readonly error?: string
  /** A side step that went wrong without undoing the outcome (ending the address's flows). */
  readonly warning?: string
}

/** Whether a whole-backend step (setup, reconcile, flush, teardown) worked. */
export type StepResult = { readonly ok: true } | StepFailure
export interface StepFailure { readonly ok: false; readonly error: string }
export type ReconcileResult = StepResult & { readonly added: number; readonly removed: number }

/**
 * One way of carrying out decisions on this host (a firewall, a command, a
 * notification), for the jails given to it when it was built.
 *
 * Obligations: actuate never throws but returns one outcome per decision, in
 * order; applying a ban twice or lifting an absent one succeeds; only
 * re-serialised addresses and validated names reach a command.
 */
export interface ActuatorBackend {
  /** As Actuation.backend names it: 'nftables', 'ipset', 'exec', … */
  readonly name: string
  /**
   * A notification (mail, webhook) rather than enforcement: the worker does
   * not hold the next decisions back while it is told, so a slow or
   * unreachable receiver never delays a ban; a crash meanwhile may lose it.
   */
  readonly detached?: boolean
  /** Creates what the jails need (tables, sets, chains; actionstart); repeated at will. */
  setup(): Promise<StepResult>
  actuate(decisions: readonly Decision[]): Promise<ActuationOutcome[]>
  /**
   * Makes the backend hold exactly these bans in force (its jails' only):
   * missing ones added with their remaining time, stale ones removed. Backends
   * that keep no state of their own (notifications) have none.
   */
  reconcile?(active: readonly BanIssued[]): Promise<ReconcileResult>
}
