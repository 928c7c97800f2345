import { Type, type Static } from '@sinclair/typebox'

/**
 * A ban ended. Emitted by streams/expire.ts when a ban's time is up, and by
 * streams/decide.ts for an operator's LiftBan; removed by the actuators.
 */
export const BanLifted = Type.Object({
  type: Type.Literal('BanLifted'),
  event_id: Type.String({ description: 'Deterministic from the ban it lifts and the reason; the dedup key.' }),
  ban_event_id: Type.String({ description: 'The BanIssued this lifts (the latest one for the address, after any prolonging).' }),
  jail: Type.String({ minLength: 1 }),
  ip: Type.String({ description: 'The banned address or network, as in the BanIssued.' }),
  occurred_at: Type.String({ format: 'date-time', description: 'When the ban ended: its expiry time, or the time of the command.' }),
  reason: Type.Union([Type.Literal('expired'), Type.Literal('manual')], {
    description: "'expired': the ban time is up; 'manual': an operator's LiftBan (which also forgets the address's earlier bans, as fail2ban's unban does).",
  }),
}, { $id: 'banstream.BanLifted.v1', additionalProperties: false, description: 'A ban ended.' })
export type BanLifted = Static<typeof BanLifted>
