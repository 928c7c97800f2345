import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import type { BanAddress } from '../../schemas/events/ban-address.js'
import type { LiftBan } from '../../schemas/events/lift-ban.js'
import { eventId } from '../../schemas/events/event-id.js'

/** Event times of the tests: seconds after 2005-08-14 10:00:00 UTC (12:00 CEST, the conformance logs' "now"). */
export const T0 = Date.parse('2005-08-14T10:00:00Z') / 1000

export const at = (secs: number) => new Date((T0 + secs) * 1000).toISOString()

let offset = 0

/** A failure of `ip` in `jail` at T0 + secs, with a fresh input position. */
export function failure(ip: string, secs: number, more: Partial<FailureDetected> = {}): FailureDetected {
  offset += 1
  return {
    type: 'FailureDetected',
    event_id: eventId('failures', 0, offset, more.jail ?? 'sshd'),
    jail: 'sshd',
    ip,
    host: 'mail1',
    matches: [`sshd[1]: Failed password for root from ${ip} (${secs})`],
    occurred_at: at(secs),
    source: '/var/log/auth.log',
    regex_index: 0,
    ...more,
  }
}

export function banAddress(ip: string, secs: number, more: Partial<BanAddress> = {}): BanAddress {
  offset += 1
  return { type: 'BanAddress', event_id: eventId('commands', 0, offset), jail: 'sshd', ip, occurred_at: at(secs), ...more }
}

export function liftBan(ip: string, secs: number, more: Partial<LiftBan> = {}): LiftBan {
  offset += 1
  return { type: 'LiftBan', event_id: eventId('commands', 0, offset), jail: 'sshd', ip, occurred_at: at(secs), ...more }
}
