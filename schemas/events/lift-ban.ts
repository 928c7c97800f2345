import { Type, type Static } from '@sinclair/typebox'

/**
 * An operator's command to end a ban in a jail (fail2ban-client set <jail>
 * unbanip). Like fail2ban's unban it also forgets the address's earlier bans,
 * so bantime.increment starts over for it.
 */
export const LiftBan = Type.Object({
  type: Type.Literal('LiftBan'),
  event_id: Type.String({ description: 'Deterministic from the command position; the dedup key.' }),
  jail: Type.String({ minLength: 1 }),
  ip: Type.String({ minLength: 2, maxLength: 64, description: 'The banned address or network, as it was banned (IPv6 addresses also match their banned network).' }),
  occurred_at: Type.String({ format: 'date-time', description: 'When the command was given.' }),
  requested_by: Type.Optional(Type.String({ description: 'Who gave the command, for the audit trail.' })),
}, { $id: 'banstream.LiftBan.v1', additionalProperties: false, description: 'End a ban now.' })
export type LiftBan = Static<typeof LiftBan>
