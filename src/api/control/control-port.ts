import type { BanOutcome, JailStatus } from '../../../schemas/api/control.js'

export type { JailStatus } from '../../../schemas/api/control.js'

/** An active ban as the port reports it. */
export interface BannedEntry {
  jail: string
  ip: string
  expires_at: string | null
  /**
   * The BanIssued event in force (the latest, after any prolonging): the
   * CrowdSec decision id derives from it, so it stays one decision across
   * restarts. Optional for older ports; without it the id derives from jail,
   * address and expiry.
   */
  event_id?: string
  /** When that ban started (its occurred_at). */
  banned_at?: string
}

/** A ban that ended, as the port reports it. */
export interface LiftedEntry {
  jail: string
  ip: string
  /** The BanIssued it lifted: the CrowdSec decision id derives from it. */
  ban_event_id: string
  lifted_at: string
}

/**
 * What the control API drives: the running jails, implemented by the run role.
 * Implementations must: take addresses in canonical spelling (the API
 * canonicalizes them); answer `undefined` from status() for an unknown jail;
 * treat unbanning an address that is not banned as a no-op (0 counted), as
 * fail2ban-client does; never count one ban twice in unban()'s result.
 */
export interface ControlPort {
  jails(): Promise<string[]>
  status(jail: string): Promise<JailStatus | undefined>
  banned(): Promise<BannedEntry[]>
  /** Bans lifted (ended or unbanned) since `ms`, epoch milliseconds; may hold more, never fewer. */
  liftedSince(ms: number): Promise<LiftedEntry[]>
  ban(jail: string, ips: string[], opts: { force?: boolean }): Promise<{ ip: string; result: BanOutcome }[]>
  /** `jail` undefined: every jail. `ips` 'all': every ban. Returns how many bans ended. */
  unban(jail: string | undefined, ips: string[] | 'all'): Promise<number>
  reload(): Promise<void>
}
