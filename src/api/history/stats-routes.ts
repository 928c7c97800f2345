import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse } from '../../../schemas/api/control.js'
import { Timeseries, TimeseriesQuery, TopList, TopQuery, type TopBy } from '../../../schemas/api/history.js'
import { IP_TEXT_SQL, storedRange } from '../../../schemas/clickhouse/rows.js'
import type { QueryParams, Store } from '../../store/store.js'
import { ControlError } from '../control/control-error.js'
import { coerceQuery } from '../query-coercion.js'
import { requireStore } from './history-store.js'
import { isoTime, timeRange } from './time-range.js'

const DAY_MS = 86_400_000
const IPV4_MAPPED = storedRange('0.0.0.0/0')

/**
 * How each ranking groups failures: the grouping expression and the rows it
 * applies to. Only these fixed texts reach the SQL; `by` chooses among them.
 */
const RANKINGS: Readonly<Record<TopBy, { key: string; groupBy: string; where?: string }>> = {
  ip: { key: IP_TEXT_SQL, groupBy: 'ip, ip_prefix' },
  subnet24: { key: "concat(substring(cutIPv6(ip, 0, 1), 8), '/24')", groupBy: 'key', where: 'ip BETWEEN {v4_lo:IPv6} AND {v4_hi:IPv6}' },
  subnet64: { key: "concat(cutIPv6(ip, 8, 0), '/64')", groupBy: 'key', where: 'ip NOT BETWEEN {v4_lo:IPv6} AND {v4_hi:IPv6}' },
  user: { key: 'assumeNotNull(user)', groupBy: 'key', where: 'user IS NOT NULL' },
  jail: { key: 'toString(jail)', groupBy: 'key' },
  host: { key: 'toString(host)', groupBy: 'key' },
}

/*
 * Counts are uniqExact(event_id) over the raw table rather than count() over
 * FINAL: a redelivered failure not yet merged away counts once either way,
 * and the aggregate reads no more than the filtered columns.
 */
function rangeFilter(query: { jail?: string }): { where: string[]; params: Record<string, string | number> } {
  const where = ['occurred_at >= fromUnixTimestamp64Milli({from_ms:Int64})', 'occurred_at < fromUnixTimestamp64Milli({to_ms:Int64})', 'NOT success']
  const params: Record<string, string | number> = {}
  if (query.jail !== undefined) { where.push('jail = {jail:String}'); params['jail'] = query.jail }
  return { where, params }
}

interface TopRow { key: string; failures: number; ips: number; first_ms: number; last_ms: number }

async function top(store: Store, query: TopQuery, nowMs: number): Promise<TopList> {
  const by = query.by ?? 'ip'
  const { fromMs, toMs } = timeRange(query, nowMs, 7 * DAY_MS)
  const ranking = RANKINGS[by]
  const { where, params } = rangeFilter(query)
  if (ranking.where) where.push(ranking.where)
  const bound: QueryParams = { ...params, from_ms: fromMs, to_ms: toMs, limit: query.limit ?? 10, v4_lo: IPV4_MAPPED.from, v4_hi: IPV4_MAPPED.to }
  const rows = await store.query<TopRow>(`SELECT ${ranking.key} AS key, uniqExact(event_id) AS failures, uniqExact(ip) AS ips,
      toUnixTimestamp64Milli(min(occurred_at)) AS first_ms, toUnixTimestamp64Milli(max(occurred_at)) AS last_ms
    FROM failures WHERE ${where.join(' AND ')}
    GROUP BY ${ranking.groupBy} ORDER BY failures DESC, key LIMIT {limit:UInt32}`, bound)
  return {
    by, from: isoTime(fromMs), to: isoTime(toMs),
    top: rows.map((r) => ({ key: r.key, failures: r.failures, ips: r.ips, first_seen: isoTime(r.first_ms), last_seen: isoTime(r.last_ms) })),
  }
}

const UNIT_SECS: Readonly<Record<string, number>> = { m: 60, h: 3600, d: 86_400 }
const MAX_BUCKETS = 10_000

async function timeseries(store: Store, query: TimeseriesQuery, nowMs: number): Promise<Timeseries> {
  const interval = query.interval ?? '1h'
  const intervalSecs = Number(interval.slice(0, -1)) * UNIT_SECS[interval.slice(-1)]!
  const { fromMs, toMs } = timeRange(query, nowMs, DAY_MS)
  if ((toMs - fromMs) / (intervalSecs * 1000) > MAX_BUCKETS) {
    throw new ControlError(400, 'BANSTREAM_ERR_INVALID_REQUEST',
      `querystring/interval: more than ${MAX_BUCKETS} buckets over the range; widen the interval or narrow the range`, 'querystring/interval')
  }
  const by = query.by ?? null
  const key = by === null ? 'NULL' : `toString(${by === 'jail' ? 'jail' : 'host'})`
  const { where, params } = rangeFilter(query)
  const rows = await store.query<{ at_ms: number; key: string | null; failures: number }>(`SELECT
      intDiv(toUnixTimestamp64Milli(occurred_at), {bucket_ms:Int64}) * {bucket_ms:Int64} AS at_ms, ${key} AS key, uniqExact(event_id) AS failures
    FROM failures WHERE ${where.join(' AND ')}
    GROUP BY at_ms, key ORDER BY key, at_ms`, { ...params, from_ms: fromMs, to_ms: toMs, bucket_ms: intervalSecs * 1000 })
  const series = new Map<string | null, { at: string; failures: number }[]>()
  for (const row of rows) {
    const points = series.get(row.key) ?? []
    points.push({ at: isoTime(row.at_ms), failures: row.failures })
    series.set(row.key, points)
  }
  return {
    interval_secs: intervalSecs, by, from: isoTime(fromMs), to: isoTime(toMs),
    series: [...series].map(([k, points]) => ({ key: k, points })),
  }
}

/** GET /v1/stats/top and GET /v1/stats/timeseries: who attacks most, and when. */
export const statsRoutes: FastifyPluginAsync<{ store: Store | undefined; now: () => number }> = async (app, { store, now }) => {
  const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse }
  app.get<{ Querystring: TopQuery }>('/v1/stats/top', {
    preValidation: coerceQuery(TopQuery),
    schema: { tags: ['history'], querystring: TopQuery, response: { 200: TopList, ...errors } },
  }, async (request) => top(requireStore(store), request.query, now()))

  app.get<{ Querystring: TimeseriesQuery }>('/v1/stats/timeseries', {
    schema: { tags: ['history'], querystring: TimeseriesQuery, response: { 200: Timeseries, ...errors } },
  }, async (request) => timeseries(requireStore(store), request.query, now()))
}
