import { ControlError } from '../control/control-error.js'

/** What DateTime64(3) holds (1900-01-01 to 2299-12-31): a time outside it is refused rather than clamped. */
const EARLIEST_MS = Date.UTC(1900, 0, 1)
const LATEST_MS = Date.UTC(2300, 0, 1)

/** The latest time the store holds: the end of a range left open. */
export const OPEN_END_MS = LATEST_MS - 1

export interface TimeRange {
  /** Inclusive, epoch milliseconds. */
  readonly fromMs: number
  /** Exclusive, epoch milliseconds. */
  readonly toMs: number
}

function invalidTime(field: string, why: string): ControlError {
  return new ControlError(400, 'BANSTREAM_ERR_INVALID_TIME', `${field}: ${why}`, field)
}

/** Epoch milliseconds of an RFC 3339 time the schema admitted, or a 400 naming the field. */
export function parseTime(text: string, field: string): number {
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw invalidTime(field, 'not a time')
  if (ms < EARLIEST_MS || ms >= LATEST_MS) throw invalidTime(field, 'outside 1900-01-01 .. 2299-12-31')
  return ms
}

/**
 * The range of a query's `from` and `to`: `to` defaults to now, `from` to
 * `defaultSpanMs` before `to` (or the earliest time when undefined).
 */
export function timeRange(query: { from?: string; to?: string }, nowMs: number, defaultSpanMs?: number): TimeRange {
  const toMs = query.to === undefined ? Math.min(nowMs, LATEST_MS - 1) : parseTime(query.to, 'querystring/to')
  const fromMs = query.from !== undefined ? parseTime(query.from, 'querystring/from')
    : defaultSpanMs === undefined ? EARLIEST_MS : Math.max(EARLIEST_MS, toMs - defaultSpanMs)
  if (fromMs >= toMs) throw invalidTime('querystring/from', 'must be before to')
  return { fromMs, toMs }
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString()
}
