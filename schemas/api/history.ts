import { Type, type Static } from '@sinclair/typebox'
import { Actuation } from '../events/actuation.js'
import { Decision } from '../events/decision.js'
import { FailureDetected } from '../events/failure-detected.js'
import { ActiveBan, AddressText, JailName } from './control.js'

/**
 * Requests and responses of the history API (`/v1/ips`, `/v1/events`,
 * `/v1/stats`, `/v1/actuators`): questions about what happened, answered from
 * the store. Events come back in the shape they have on their topic.
 */

export const TimeText = Type.String({
  format: 'date-time', maxLength: 40,
  description: 'An RFC 3339 time with offset, e.g. `2026-11-22T09:00:00Z`.',
})

const From = Type.Optional({ ...TimeText, description: 'Start of the range (inclusive), RFC 3339.' })
const To = Type.Optional({ ...TimeText, description: 'End of the range (exclusive), RFC 3339; default now.' })
const HostName = Type.String({ minLength: 1, maxLength: 255, description: 'A host name as the events carry it.' })
const UserName = Type.String({ minLength: 1, maxLength: 255, description: 'A user name tried by the address, as the filter captured it.' })

export const IpParams = Type.Object({
  ip: { ...AddressText, description: 'An IPv4 or IPv6 address, or a CIDR network for the history of every address in it.' },
}, { additionalProperties: false })
export type IpParams = Static<typeof IpParams>

const Count = Type.Integer({ minimum: 0 })
const Time = Type.String({ format: 'date-time' })

/** GET /v1/ips/{ip}: everything the store knows about one address (or network). */
export const IpHistory = Type.Object({
  ip: Type.String({ description: 'The address or network asked about, in canonical spelling.' }),
  first_seen: Type.Union([Time, Type.Null()], { description: 'The first failure, ban or actuation of the address; null when the store has none.' }),
  last_seen: Type.Union([Time, Type.Null()], { description: 'The last failure, ban or actuation of the address.' }),
  failures: Type.Object({
    total: Count,
    by_jail: Type.Array(Type.Object({ jail: Type.String(), failures: Count, first_seen: Time, last_seen: Time }, { additionalProperties: false })),
    by_host: Type.Array(Type.Object({ host: Type.String(), failures: Count }, { additionalProperties: false }),
      { description: 'The source hosts whose logs had the failures.' }),
    users: Type.Array(Type.Object({ user: Type.String(), failures: Count }, { additionalProperties: false }),
      { description: 'The user names tried, most tried first (at most 100).' }),
  }, { additionalProperties: false }),
  decisions: Type.Array(Decision, { description: 'Bans and unbans of the address, or of a network holding it, newest first (at most 1000).' }),
  actuations: Type.Array(Type.Object({
    host: Type.String(),
    applied: Count,
    removed: Count,
    failed: Count,
    last_outcome: Type.String(),
    last_at: Time,
    last_error: Type.Union([Type.String(), Type.Null()]),
  }, { additionalProperties: false }), { description: 'What each host did with the decisions about the address.' }),
  active_bans: Type.Array(ActiveBan, { description: 'The bans in force now that hold the address.' }),
}, { $id: 'banstream.api.IpHistory.v1', additionalProperties: false })
export type IpHistory = Static<typeof IpHistory>

export const EventKind = Type.Union([Type.Literal('failures'), Type.Literal('decisions'), Type.Literal('actuations')])
export type EventKind = Static<typeof EventKind>

export const MAX_PAGE = 10_000

export const EventsQuery = Type.Object({
  kind: Type.Optional({ ...EventKind, description: 'Which events: failures (default), decisions (bans and unbans) or actuations.' }),
  from: From,
  to: To,
  jail: Type.Optional(JailName),
  host: Type.Optional({ ...HostName, description: 'failures: the source host; actuations: the host that acted. Decisions have no host.' }),
  ip: Type.Optional({ ...AddressText, description: 'An address, or a CIDR network for every address in it.' }),
  user: Type.Optional({ ...UserName, description: 'Failures only: the user name tried.' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, description: `Events per page (default 100, at most ${MAX_PAGE}); with NDJSON, the total (default all).` })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The `next_cursor` of the previous page.' })),
  order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')], { description: 'By event time: newest first (desc, default) or oldest first.' })),
}, { additionalProperties: false })
export type EventsQuery = Static<typeof EventsQuery>

export const EventPage = Type.Object({
  events: Type.Array(Type.Union([FailureDetected, Decision, Actuation])),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }),
}, { $id: 'banstream.api.EventPage.v1', additionalProperties: false })
export type EventPage = Static<typeof EventPage>

export const TopBy = Type.Union([
  Type.Literal('ip'), Type.Literal('subnet24'), Type.Literal('subnet64'), Type.Literal('user'), Type.Literal('jail'), Type.Literal('host'),
])
export type TopBy = Static<typeof TopBy>

export const TopQuery = Type.Object({
  by: Type.Optional({ ...TopBy, description: 'Rank addresses (default), IPv4 /24 or IPv6 /64 networks, users tried, jails or source hosts.' }),
  from: Type.Optional({ ...TimeText, description: 'Start of the range (inclusive); default 7 days before `to`.' }),
  to: To,
  jail: Type.Optional(JailName),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'How many (default 10).' })),
}, { additionalProperties: false })
export type TopQuery = Static<typeof TopQuery>

export const TopList = Type.Object({
  by: Type.String(),
  from: Time,
  to: Time,
  top: Type.Array(Type.Object({
    key: Type.String({ description: 'The address, network (`192.0.2.0/24`), user, jail or host.' }),
    failures: Count,
    ips: Type.Integer({ minimum: 0, description: 'Distinct addresses among the failures.' }),
    first_seen: Time,
    last_seen: Time,
  }, { additionalProperties: false }), { description: 'Most failures first.' }),
}, { $id: 'banstream.api.TopList.v1', additionalProperties: false })
export type TopList = Static<typeof TopList>

export const INTERVAL_PATTERN = '^[1-9][0-9]{0,3}[mhd]$'

export const TimeseriesQuery = Type.Object({
  interval: Type.Optional(Type.String({ pattern: INTERVAL_PATTERN, description: 'Bucket width: `<n>m`, `<n>h` or `<n>d` (default `1h`).' })),
  by: Type.Optional(Type.Union([Type.Literal('jail'), Type.Literal('host')], { description: 'One series per jail or per source host; omitted: one series of all failures.' })),
  from: Type.Optional({ ...TimeText, description: 'Start of the range (inclusive); default 24 hours before `to`.' }),
  to: To,
  jail: Type.Optional(JailName),
}, { additionalProperties: false })
export type TimeseriesQuery = Static<typeof TimeseriesQuery>

export const Timeseries = Type.Object({
  interval_secs: Type.Integer({ minimum: 60 }),
  by: Type.Union([Type.String(), Type.Null()]),
  from: Time,
  to: Time,
  series: Type.Array(Type.Object({
    key: Type.Union([Type.String(), Type.Null()], { description: 'The jail or host; null for the total.' }),
    points: Type.Array(Type.Object({ at: Time, failures: Count }, { additionalProperties: false }),
      { description: 'Buckets with failures, oldest first; a bucket that is missing had none.' }),
  }, { additionalProperties: false })),
}, { $id: 'banstream.api.Timeseries.v1', additionalProperties: false })
export type Timeseries = Static<typeof Timeseries>

export const ActuatorList = Type.Object({
  actuators: Type.Array(Type.Object({
    host: Type.String(),
    last_actuation_at: Time,
    lag_secs: Type.Number({ description: 'Seconds since the host last reported an actuation.' }),
    actuations: Count,
    failed: Type.Integer({ minimum: 0, description: 'Actuations that failed.' }),
    last_error: Type.Union([Type.String(), Type.Null()], { description: 'The error of the last failed actuation.' }),
  }, { additionalProperties: false })),
}, { $id: 'banstream.api.ActuatorList.v1', additionalProperties: false })
export type ActuatorList = Static<typeof ActuatorList>

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unready')]),
  store: Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('none')],
    { description: "'none': this API keeps no history." }),
}, { additionalProperties: false })
export type Readiness = Static<typeof Readiness>
