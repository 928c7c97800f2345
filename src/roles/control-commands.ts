import { randomUUID } from 'node:crypto'
import type { BanAddress } from '../../schemas/events/ban-address.js'
import { eventId } from '../../schemas/events/event-id.js'
import type { LiftBan } from '../../schemas/events/lift-ban.js'

/** What the control API asks: a ban of `ip` in `jail` at `nowMs`, with a fresh id (each call is a new command). */
export function banCommand(jail: string, ip: string, nowMs: number, force: boolean | undefined): BanAddress {
  return {
    type: 'BanAddress',
    event_id: eventId('BanAddress', randomUUID()),
    jail,
    ip,
    occurred_at: new Date(nowMs).toISOString(),
    ...(force ? { force: true } : {}),
    requested_by: 'control-api',
  }
}

/** What the control API asks: the end of the ban of `ip` in `jail`, at `nowMs`. */
export function liftCommand(jail: string, ip: string, nowMs: number): LiftBan {
  return {
    type: 'LiftBan',
    event_id: eventId('LiftBan', randomUUID()),
    jail,
    ip,
    occurred_at: new Date(nowMs).toISOString(),
    requested_by: 'control-api',
  }
}
