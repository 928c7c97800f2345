import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse } from '../../../schemas/api/control.js'
import { IpHistory, IpParams } from '../../../schemas/api/history.js'
import { storedAddress, storedRange } from '../../../schemas/clickhouse/rows.js'
import { overlaps, parseAddress } from '../../../schemas/events/address.js'
import type { QueryParams, Store } from '../../store/store.js'
import { canonicalize } from '../control/address-format.js'
import type { ControlPort } from '../control/control-port.js'
import { eventColumnsSql, rowEvent } from './event-rows.js'
import { requireStore } from './history-store.js'
import { isoTime } from './time-range.js'

/** Rows whose address lies in the asked range (the sorting key's prefix: a range read). */
const IN_RANGE = 'ip BETWEEN {lo:IPv6} AND {hi:IPv6}'
/**
 * Rows about the asked range or about a wider network holding it: a ban of
 * 2001:db8::/64 is part of the history of 2001:db8::7. `ip <= lo` narrows the
 * read before the per-row test.
 */
const COVERING = `(${IN_RANGE} OR (ip_prefix < {prefix:UInt8} AND ip <= {lo:IPv6} ` +
  "AND isIPAddressInRange({lo_text:String}, concat(toString(ip), '/', toString(ip_prefix)))))"

interface ByJail { jail: string; failures: number; first_ms: number; last_ms: number }
interface Seen { n: number; first_ms: number; last_ms: number }
interface ByActuator {
  host: string; applied: number; removed: number; failed: number; last_outcome: string; last_ms: number; last_error: string | null
}

async function history(store: Store, control: ControlPort, ip: string): Promise<IpHistory> {
  const range = storedRange(ip)
  const params: QueryParams = { lo: range.from, hi: range.to, lo_text: range.from, prefix: storedAddress(ip).ip_prefix }
  const failed = `${IN_RANGE} AND NOT success`
  const [byJail, byHost, users, decisions, actuations, seen, active] = await Promise.all([
    store.query<ByJail>(`SELECT jail, count() AS failures, toUnixTimestamp64Milli(min(occurred_at)) AS first_ms,
        toUnixTimestamp64Milli(max(occurred_at)) AS last_ms
      FROM failures FINAL WHERE ${failed} GROUP BY jail ORDER BY failures DESC, jail`, params),
    store.query<{ host: string; failures: number }>(`SELECT host, count() AS failures
      FROM failures FINAL WHERE ${failed} GROUP BY host ORDER BY failures DESC, host`, params),
    // Aliased apart from the column: a ClickHouse alias would replace `user` in WHERE too.
    store.query<{ tried: string; failures: number }>(`SELECT assumeNotNull(user) AS tried, count() AS failures
      FROM failures FINAL WHERE ${failed} AND user IS NOT NULL GROUP BY tried ORDER BY failures DESC, tried LIMIT 100`, params),
    store.query(`SELECT ${eventColumnsSql('decisions')}
      FROM decisions FINAL WHERE ${COVERING} ORDER BY occurred_at DESC, event_id DESC LIMIT 1000`, params),
    store.query<ByActuator>(`SELECT host, countIf(outcome = 'applied') AS applied, countIf(outcome = 'removed') AS removed,
        countIf(outcome = 'failed') AS failed, argMax(outcome, occurred_at) AS last_outcome,
        toUnixTimestamp64Milli(max(occurred_at)) AS last_ms, argMaxIf(error, occurred_at, outcome = 'failed') AS last_error
      FROM actuations FINAL WHERE ${COVERING} GROUP BY host ORDER BY host`, params),
    store.query<Seen>(`SELECT count() AS n, toUnixTimestamp64Milli(min(occurred_at)) AS first_ms, toUnixTimestamp64Milli(max(occurred_at)) AS last_ms
      FROM failures WHERE ${IN_RANGE}
      UNION ALL SELECT count(), toUnixTimestamp64Milli(min(occurred_at)), toUnixTimestamp64Milli(max(occurred_at)) FROM decisions WHERE ${COVERING}
      UNION ALL SELECT count(), toUnixTimestamp64Milli(min(occurred_at)), toUnixTimestamp64Milli(max(occurred_at)) FROM actuations WHERE ${COVERING}`, params),
    control.banned(),
  ])
  const asked = parseAddress(ip)!
  const seenRows = seen.filter((s) => s.n > 0)
  return {
    ip,
    first_seen: seenRows.length === 0 ? null : isoTime(Math.min(...seenRows.map((s) => s.first_ms))),
    last_seen: seenRows.length === 0 ? null : isoTime(Math.max(...seenRows.map((s) => s.last_ms))),
    failures: {
      total: byJail.reduce((sum, j) => sum + j.failures, 0),
      by_jail: byJail.map((j) => ({ jail: j.jail, failures: j.failures, first_seen: isoTime(j.first_ms), last_seen: isoTime(j.last_ms) })),
      by_host: byHost,
      users: users.map((u) => ({ user: u.tried, failures: u.failures })),
    },
    decisions: decisions.map(rowEvent) as IpHistory['decisions'],
    actuations: actuations.map((a) => ({
      host: a.host, applied: a.applied, removed: a.removed, failed: a.failed,
      last_outcome: a.last_outcome, last_at: isoTime(a.last_ms), last_error: a.last_error === '' ? null : a.last_error,
    })),
    active_bans: active.filter((b) => {
      const banned = parseAddress(b.ip)
      return banned !== null && overlaps(banned, asked)
    }).map((b) => ({ jail: b.jail, ip: b.ip, expires_at: b.expires_at })),
  }
}

/** GET /v1/ips/:ip: the whole history of one address or network. */
export const ipRoutes: FastifyPluginAsync<{ store: Store | undefined; control: ControlPort }> = async (app, { store, control }) => {
  app.get<{ Params: IpParams }>('/v1/ips/:ip', {
    schema: { tags: ['history'], params: IpParams, response: { 200: IpHistory, '4xx': ErrorResponse, '5xx': ErrorResponse } },
  }, async (request): Promise<IpHistory> => history(requireStore(store), control, canonicalize(request.params.ip)))
}
