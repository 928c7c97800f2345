import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse } from '../../../schemas/api/control.js'
import { EventPage, EventsQuery, type EventKind } from '../../../schemas/api/history.js'
import { storedRange } from '../../../schemas/clickhouse/rows.js'
import type { QueryParams, Row, Store } from '../../store/store.js'
import { ControlError } from '../control/control-error.js'
import { coerceQuery } from '../query-coercion.js'
import { decodeCursor, encodeCursor, type EventCursor } from './event-cursor.js'
import { eventColumnsSql, rowEvent } from './event-rows.js'
import { requireStore } from './history-store.js'
import { OPEN_END_MS, timeRange } from './time-range.js'

const DEFAULT_PAGE = 100
/** Rows fetched per store query while streaming NDJSON: bounds memory, whatever the export's size. */
const EXPORT_PAGE = 5000
const NDJSON = 'application/x-ndjson'

/** A filtered, ordered read of one event table; `page` runs it from a cursor. */
interface EventScan {
  readonly order: 'asc' | 'desc'
  page(after: EventCursor | undefined, limit: number): Promise<{ events: Record<string, unknown>[]; last: EventCursor | undefined }>
}

function refuse(field: string, message: string): ControlError {
  return new ControlError(400, 'BANSTREAM_ERR_INVALID_REQUEST', `querystring/${field}: ${message}`, `querystring/${field}`)
}

/** Builds the scan of a validated query; every value reaches the SQL as a bound parameter. */
function eventScan(store: Store, query: EventsQuery, kind: EventKind): EventScan {
  if (query.user !== undefined && kind !== 'failures') throw refuse('user', `only failures have a user, not ${kind}`)
  if (query.host !== undefined && kind === 'decisions') throw refuse('host', 'decisions have no host; filter actuations by host')
  const { fromMs, toMs } = timeRange(query, OPEN_END_MS)
  const order = query.order ?? 'desc'
  const where = ['occurred_at >= fromUnixTimestamp64Milli({from_ms:Int64})', 'occurred_at < fromUnixTimestamp64Milli({to_ms:Int64})']
  const params: Record<string, string | number> = { from_ms: fromMs, to_ms: toMs }
  if (query.jail !== undefined) { where.push('jail = {jail:String}'); params['jail'] = query.jail }
  if (query.host !== undefined) { where.push('host = {host:String}'); params['host'] = query.host }
  if (query.user !== undefined) { where.push('user = {user:String}'); params['user'] = query.user }
  if (query.ip !== undefined) {
    const range = storedRange(query.ip)
    where.push('ip BETWEEN {ip_lo:IPv6} AND {ip_hi:IPv6}')
    params['ip_lo'] = range.from
    params['ip_hi'] = range.to
  }
  const direction = order === 'asc' ? 'ASC' : 'DESC'
  const columns = eventColumnsSql(kind)
  const cursorOf = (row: Row): EventCursor => ({ ms: Number(row['__occurred_at']), eventId: String(row['event_id']), order })
  /** Up to `count` rows after the cursor, in order, copies of a redelivered event included. */
  const rowsAfter = (after: EventCursor | undefined, count: number): Promise<Row[]> => {
    const conditions = [...where]
    const bound: QueryParams = { ...params, limit: count }
    if (after) {
      conditions.push(`(occurred_at, event_id) ${order === 'asc' ? '>' : '<'} (fromUnixTimestamp64Milli({after_ms:Int64}), toUUID({after_id:String}))`)
      Object.assign(bound, { after_ms: after.ms, after_id: after.eventId })
    }
    return store.query<Row>(`SELECT ${columns}
      FROM ${kind} WHERE ${conditions.join(' AND ')}
      ORDER BY occurred_at ${direction}, event_id ${direction} LIMIT {limit:UInt32}`, bound)
  }
  return {
    order,
    /*
     * The copies of a redelivered event (on disk until their parts merge) are
     * dropped here rather than by FINAL: they share occurred_at and event_id,
     * the sort order, so they come out side by side, and a cursor past one
     * copy is past them all. FINAL merged every part's rows of the range to
     * find them (a day of 10 M failures, by jail and host: 840 ms against 170).
     * A page short of distinct events for its copies reads on.
     */
    async page(after, limit) {
      const want = limit + 1
      const kept: Row[] = []
      let cursor = after
      for (;;) {
        const asked = want - kept.length
        const rows = await rowsAfter(cursor, asked)
        for (const row of rows) if (kept.at(-1)?.['event_id'] !== row['event_id']) kept.push(row)
        const tail = rows.at(-1)
        if (kept.length >= want || tail === undefined || rows.length < asked) break
        cursor = cursorOf(tail)
      }
      const more = kept.length > limit
      const page = more ? kept.slice(0, limit) : kept
      const tail = page.at(-1)
      return { events: page.map(rowEvent), last: more && tail ? cursorOf(tail) : undefined }
    },
  }
}

type Page = Awaited<ReturnType<EventScan['page']>>

/**
 * The events of a scan as NDJSON lines, from its first page (read before the
 * answer starts, so that a failing store still gets a coded error) on, a page
 * at a time.
 */
async function* ndjson(scan: EventScan, first: Page, total: number): AsyncGenerator<string> {
  let page = first
  let left = total
  for (;;) {
    if (page.events.length > 0) yield page.events.map((e) => `${JSON.stringify(e)}\n`).join('')
    left -= page.events.length
    if (!page.last || left <= 0) return
    page = await scan.page(page.last, Math.min(EXPORT_PAGE, left))
  }
}

/**
 * GET /v1/events: failures, decisions or actuations, filtered, newest first,
 * a page at a time (`next_cursor`); with `Accept: application/x-ndjson`, one
 * event per line for exports, streamed until the end or `limit`.
 */
export const eventsRoutes: FastifyPluginAsync<{ store: Store | undefined }> = async (app, { store }) => {
  app.get<{ Querystring: EventsQuery }>('/v1/events', {
    preValidation: coerceQuery(EventsQuery),
    schema: {
      tags: ['history'], querystring: EventsQuery,
      response: { 200: EventPage, '4xx': ErrorResponse, '5xx': ErrorResponse },
    },
  }, async (request, reply) => {
    const query = request.query
    const scan = eventScan(requireStore(store), query, query.kind ?? 'failures')
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, scan.order)
    if (request.headers.accept?.includes(NDJSON)) {
      const total = query.limit ?? Number.POSITIVE_INFINITY
      const first = await scan.page(after, Math.min(EXPORT_PAGE, total))
      return reply.type(NDJSON).send(Readable.from(ndjson(scan, first, total)))
    }
    const { events, last } = await scan.page(after, query.limit ?? DEFAULT_PAGE)
    return { events, next_cursor: last ? encodeCursor(last) : null } as EventPage
  })
}
