import { Type, type Static } from '@sinclair/typebox'

/**
 * A jail decided to ban an address (or a network) until `expires_at`.
 * Emitted by streams/decide.ts; applied by the actuators.
 */
export const BanIssued = Type.Object({
  type: Type.Literal('BanIssued'),
  event_id: Type.String({ description: 'Deterministic from the input that caused the ban; the dedup key.' }),
  cause_event_id: Type.String({ description: 'The event that caused this ban: the last counted FailureDetected, or the BanAddress command.' }),
  jail: Type.String({ minLength: 1 }),
  ip: Type.String({ description: 'What to ban: an IPv4 or IPv6 address, or a CIDR network (IPv6 addresses are counted and banned per network, /64 unless the jail says otherwise).' }),
  fid: Type.Optional(Type.String({ description: 'The failure id failures were counted under (<F-ID>), when it was not the address.' })),
  user: Type.Optional(Type.String({ description: "The user name the first counted failure captured (<F-USER>), as fail2ban's ban ticket keeps it; actions get it as <F-USER>." })),
  failures: Type.Integer({ minimum: 0, description: 'Failures counted in the window that reached maxretry; 0 for a manual ban.' }),
  ban_time_secs: Type.Integer({ minimum: -1, description: 'Length of the ban in seconds from occurred_at; -1 = permanent. Includes the bantime.increment growth.' }),
  ban_count: Type.Integer({ minimum: 1, description: 'How many times this address has been banned in this jail (across all jails with bantime.overalljails), this ban included; drives bantime.increment.' }),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the ban ends (occurred_at + ban_time_secs); null for a permanent ban.' }),
  occurred_at: Type.String({ format: 'date-time', description: 'Event time the ban starts from: the time of the last counted failure, or of the command.' }),
  reason: Type.Union([Type.Literal('threshold'), Type.Literal('manual'), Type.Literal('prolonged')], {
    description: "'threshold': maxretry failures within findtime; 'manual': an operator's BanAddress; 'prolonged': an address already banned reached maxretry again and its ban now ends later.",
  }),
  targets: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "The hosts whose actuators apply this ban (the jail's bantarget: the hosts whose logs showed the failures, named hosts, or a manual ban's target); absent = every host." })),
  matches: Type.Array(Type.String(), { description: 'The log lines that led to the ban (at most maxmatches).' }),
}, { $id: 'banstream.BanIssued.v1', additionalProperties: false, description: 'A jail banned an address.' })
export type BanIssued = Static<typeof BanIssued>
