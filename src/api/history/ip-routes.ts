import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse } from '../../../schemas/api/control.js'
import { IpHistory, IpParams } from '../../../schemas/api/history.js'
import { storedAddress, storedRange } from '../../../schemas/clickhouse/rows.js'
import { overlaps, parseAddress } from '../../../schemas/events/address.js'
import type { QueryParams, Row, Store } from '../../store/store.js'
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

/** A row of FAILURES_SQL: one (jail, host, user) of the address and its counts. */
interface FailureGroup {
  jail: string; host: string; user: string | null
  failures: number; first_ms: number; last_ms: number
  /** Over every row of the group, successes included: what first and last seen count. */
  seen_first_ms: number; seen_last_ms: number
}
interface Seen { first_ms: number; last_ms: number }
interface ByActuator {
  host: string; applied: number; removed: number; failed: number; last_outcome: string; first_ms: number; last_ms: number; last_error: string | null
}

/*
 * The failures of an address in one read of its key range, grouped by
 * (jail, host, user) and rolled up here by jail, by host and by user.
 * Successes are read (they count as seen) but not counted as failures.
 *
 * A redelivered failure stays on disk twice until its parts merge; FINAL
 * reads it once. It costs a plain read but for the current week's partition,
 * the only one left in several parts (see EVENT_TABLES): cheaper than
 * counting uniqExact(event_id) per group, which hashes every row read
 * (10 M failures over a month: p99 38 against 57 ms).
 */
const FAILURES_SQL = `SELECT jail, host, user, countIf(NOT success) AS failures,
    toUnixTimestamp64Milli(minIf(occurred_at, NOT success)) AS first_ms, toUnixTimestamp64Milli(maxIf(occurred_at, NOT success)) AS last_ms,
    toUnixTimestamp64Milli(min(occurred_at)) AS seen_first_ms, toUnixTimestamp64Milli(max(occurred_at)) AS seen_last_ms
  FROM failures FINAL WHERE ${IN_RANGE}
  GROUP BY jail, host, user`

interface Tally { failures: number; first_ms: number; last_ms: number }

/** The failures of the groups summed per key (none: left out), with the first and last of them. */
function tally(groups: readonly FailureGroup[], key: (g: FailureGroup) => string | null): Map<string, Tally> {
  const tallies = new Map<string, Tally>()
  for (const g of groups) {
    const k = key(g)
    if (k === null || g.failures === 0) continue
    const t = tallies.get(k)
    if (!t) tallies.set(k, { failures: g.failures, first_ms: g.first_ms, last_ms: g.last_ms })
    else {
      t.failures += g.failures
      t.first_ms = Math.min(t.first_ms, g.first_ms)
      t.last_ms = Math.max(t.last_ms, g.last_ms)
    }
  }
  return tallies
}

const MAX_USERS = 100

/** The most failures first, then by name: the order of every list of the answer. */
function byFailures<T extends { failures: number }>(key: (row: T) => string): (a: T, b: T) => number {
  return (a, b) => b.failures - a.failures || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
}

async function history(store: Store, control: ControlPort, ip: string): Promise<IpHistory> {
  const range = storedRange(ip)
  const params: QueryParams = { lo: range.from, hi: range.to, lo_text: range.from, prefix: storedAddress(ip).ip_prefix }
  // The first and last decision and actuation ride along in their own queries (a window over the
  // decisions, min/max per host): one query fewer, and chDB runs a session's queries one at a time.
  const [groups, decisions, actuations, active] = await Promise.all([
    store.query<FailureGroup>(FAILURES_SQL, params),
    store.query<Row & { __first_ms: number; __last_ms: number }>(`SELECT ${eventColumnsSql('decisions')},
        toUnixTimestamp64Milli(min(occurred_at) OVER ()) AS __first_ms, toUnixTimestamp64Milli(max(occurred_at) OVER ()) AS __last_ms
      FROM decisions FINAL WHERE ${COVERING} ORDER BY occurred_at DESC, event_id DESC LIMIT 1000`, params),
    store.query<ByActuator>(`SELECT host, countIf(outcome = 'applied') AS applied, countIf(outcome = 'removed') AS removed,
        countIf(outcome = 'failed') AS failed, argMax(outcome, occurred_at) AS last_outcome,
        toUnixTimestamp64Milli(min(occurred_at)) AS first_ms, toUnixTimestamp64Milli(max(occurred_at)) AS last_ms, argMaxIf(error, occurred_at, outcome = 'failed') AS last_error
      FROM actuations FINAL WHERE ${COVERING} GROUP BY host ORDER BY host`, params),
    control.banned(),
  ])
  const sorted = (tallies: Map<string, Tally>) => [...tallies].map(([key, t]) => ({ key, ...t })).sort(byFailures((t) => t.key))
  const byJail = sorted(tally(groups, (g) => g.jail))
  const byHost = sorted(tally(groups, (g) => g.host))
  const users = sorted(tally(groups, (g) => g.user)).slice(0, MAX_USERS)
  const seenRows: Seen[] = [
    ...groups.map((g) => ({ first_ms: g.seen_first_ms, last_ms: g.seen_last_ms })),
    ...decisions.slice(0, 1).map((d) => ({ first_ms: d.__first_ms, last_ms: d.__last_ms })),
    ...actuations,
  ]
  const asked = parseAddress(ip)!
  return {
    ip,
    first_seen: seenRows.length === 0 ? null : isoTime(Math.min(...seenRows.map((s) => s.first_ms))),
    last_seen: seenRows.length === 0 ? null : isoTime(Math.max(...seenRows.map((s) => s.last_ms))),
    failures: {
      total: byJail.reduce((sum, j) => sum + j.failures, 0),
      by_jail: byJail.map((j) => ({ jail: j.key, failures: j.failures, first_seen: isoTime(j.first_ms), last_seen: isoTime(j.last_ms) })),
      by_host: byHost.map((h) => ({ host: h.key, failures: h.failures })),
      users: users.map((u) => ({ user: u.key, failures: u.failures })),
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
