import { Type, type Static } from '@sinclair/typebox'

/**
 * Requests and responses of the control API (`/v1/...`), the HTTP face of
 * fail2ban-client: the route schemas, the OpenAPI document and the client's
 * view of the answers are all these.
 */

/** The JSON Schema format name the API registers for an IPv4/IPv6 address or CIDR network. */
export const ADDRESS_FORMAT = 'banstream-address'

/**
 * Jail names: word characters, dots and dashes, never `.` or `..` alone (a URL
 * path would read those as dot segments and reach another route).
 */
export const JAIL_NAME_PATTERN = '^(?!\\.{1,2}$)[\\w.-]+$'

export const JailName = Type.String({
  pattern: JAIL_NAME_PATTERN, minLength: 1, maxLength: 128,
  description: 'A jail name as in jail.conf: letters, digits, `_`, `.` and `-`.',
})

export const AddressText = Type.String({
  format: ADDRESS_FORMAT, minLength: 2, maxLength: 64,
  description: 'An IPv4 or IPv6 address, or a CIDR network (`192.0.2.0/24`, `2001:db8::/64`).',
})

export const JailParams = Type.Object({ jail: JailName }, { additionalProperties: false })
export type JailParams = Static<typeof JailParams>

export const JailAddressParams = Type.Object({ jail: JailName, ip: AddressText }, { additionalProperties: false })
export type JailAddressParams = Static<typeof JailAddressParams>

export const JailList = Type.Object({
  jails: Type.Array(Type.String(), { description: 'The names of the running jails, in configuration order.' }),
}, { $id: 'banstream.api.JailList.v1', additionalProperties: false })
export type JailList = Static<typeof JailList>

/** One jail's counters, the fields of `fail2ban-client status <jail>`. */
export const JailStatus = Type.Object({
  name: Type.String(),
  filter: Type.Object({
    currently_failed: Type.Integer({ minimum: 0, description: 'Addresses with failures inside findtime and no ban yet.' }),
    total_failed: Type.Integer({ minimum: 0, description: 'Failures counted since the jail started.' }),
    file_list: Type.Array(Type.String(), { description: 'The log files the jail reads.' }),
  }, { additionalProperties: false }),
  actions: Type.Object({
    currently_banned: Type.Integer({ minimum: 0 }),
    total_banned: Type.Integer({ minimum: 0, description: 'Bans issued since the jail started.' }),
    banned_ip_list: Type.Array(Type.String()),
  }, { additionalProperties: false }),
}, { $id: 'banstream.api.JailStatus.v1', additionalProperties: false })
export type JailStatus = Static<typeof JailStatus>

export const ActiveBan = Type.Object({
  jail: Type.String(),
  ip: Type.String(),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the ban ends; null for a permanent ban.' }),
}, { additionalProperties: false })
export type ActiveBan = Static<typeof ActiveBan>

export const BanList = Type.Object({
  bans: Type.Array(ActiveBan, { description: 'Every active ban of every jail.' }),
}, { $id: 'banstream.api.BanList.v1', additionalProperties: false })
export type BanList = Static<typeof BanList>

/** Body of POST /v1/jails/:jail/bans: `fail2ban-client set <jail> banip <ip>...`. */
export const BanRequest = Type.Object({
  ips: Type.Array(AddressText, { minItems: 1, maxItems: 4096, description: 'The addresses or networks to ban, banned as given.' }),
  force: Type.Optional(Type.Boolean({ description: 'Ban even addresses the jail ignores (ignoreip).' })),
}, { $id: 'banstream.api.BanRequest.v1', additionalProperties: false })
export type BanRequest = Static<typeof BanRequest>

/** Body of POST /v1/bans: a manual ban naming its jail in the body. */
export const JailBanRequest = Type.Object({
  jail: JailName,
  ips: BanRequest.properties.ips,
  force: BanRequest.properties.force,
}, { $id: 'banstream.api.JailBanRequest.v1', additionalProperties: false })
export type JailBanRequest = Static<typeof JailBanRequest>

export const AddressParams = Type.Object({ ip: AddressText }, { additionalProperties: false })
export type AddressParams = Static<typeof AddressParams>

export const BanOutcome = Type.Union([Type.Literal('banned'), Type.Literal('already banned'), Type.Literal('ignored')])
export type BanOutcome = Static<typeof BanOutcome>

export const BanResults = Type.Object({
  results: Type.Array(Type.Object({
    ip: Type.String({ description: 'The address in its canonical spelling.' }),
    result: BanOutcome,
  }, { additionalProperties: false }), { description: 'One entry per requested address, in request order.' }),
}, { $id: 'banstream.api.BanResults.v1', additionalProperties: false })
export type BanResults = Static<typeof BanResults>

/** Query of DELETE /v1/bans: without `ip`, every ban of every jail ends (`fail2ban-client unban --all`). */
export const UnbanQuery = Type.Object({
  ip: Type.Optional(Type.Union([AddressText, Type.Array(AddressText, { minItems: 1, maxItems: 4096 })], {
    description: 'Repeatable: end the bans of these addresses in every jail (`fail2ban-client unban <ip>...`).',
  })),
}, { additionalProperties: false })
export type UnbanQuery = Static<typeof UnbanQuery>

export const UnbanResult = Type.Object({
  unbanned: Type.Integer({ minimum: 0, description: 'How many bans ended.' }),
}, { $id: 'banstream.api.UnbanResult.v1', additionalProperties: false })
export type UnbanResult = Static<typeof UnbanResult>

export const ReloadResult = Type.Object({
  status: Type.Literal('OK'),
}, { $id: 'banstream.api.ReloadResult.v1', additionalProperties: false })
export type ReloadResult = Static<typeof ReloadResult>

export const Health = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })
export type Health = Static<typeof Health>

/** Every error answer: a stable `code` (`BANSTREAM_ERR_*`) and, for a rejected request, the field at fault. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'BANSTREAM_ERR_*; stable, for scripts.' }),
  error: Type.String({ description: 'The HTTP status text.' }),
  message: Type.String(),
  field: Type.Optional(Type.String({ description: 'The invalid field, as `<part>/<path>`: `params/jail`, `body/ips/2`, `querystring/ip`.' })),
}, { $id: 'banstream.api.Error.v1', additionalProperties: false })
export type ErrorResponse = Static<typeof ErrorResponse>
