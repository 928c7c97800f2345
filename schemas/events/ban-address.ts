import { Type, type Static } from '@sinclair/typebox'

/**
 * An operator's command to ban an address in a jail (fail2ban-client set <jail>
 * banip). The decide stage turns it into a BanIssued, or refuses it (ignoreip,
 * already banned) and says why.
 */
export const BanAddress = Type.Object({
  type: Type.Literal('BanAddress'),
  event_id: Type.String({ description: 'Deterministic from the command position; the dedup key.' }),
  jail: Type.String({ minLength: 1 }),
  ip: Type.String({ minLength: 2, maxLength: 64, description: 'The address or CIDR network to ban, banned as given.' }),
  occurred_at: Type.String({ format: 'date-time', description: 'When the command was given; the ban starts then.' }),
  ban_time_secs: Type.Optional(Type.Integer({ minimum: -1, description: 'Ban length in seconds, -1 = permanent; default: the jail bantime with its increment.' })),
  force: Type.Optional(Type.Boolean({ description: 'Ban even an address the jail ignores (ignoreip).' })),
  target: Type.Optional(Type.String({ description: 'The only host whose actuator applies this ban; absent = every host.' })),
  requested_by: Type.Optional(Type.String({ description: 'Who gave the command, for the audit trail.' })),
}, { $id: 'banstream.BanAddress.v1', additionalProperties: false, description: 'Ban an address now.' })
export type BanAddress = Static<typeof BanAddress>
