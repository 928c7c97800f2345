import type { TObject } from '@sinclair/typebox'
import type { EventKind } from '../../../schemas/api/history.js'
import { TIME_TYPE } from '../../../schemas/clickhouse/columns.js'
import { IP_TEXT_SQL } from '../../../schemas/clickhouse/rows.js'
import { eventTable } from '../../../schemas/clickhouse/tables.js'
import { Actuation } from '../../../schemas/events/actuation.js'
import { BanIssued } from '../../../schemas/events/ban-issued.js'
import { BanLifted } from '../../../schemas/events/ban-lifted.js'
import { FailureDetected } from '../../../schemas/events/failure-detected.js'
import type { Row } from '../../store/store.js'
import { isoTime } from './time-range.js'

const SCHEMAS: Readonly<Record<string, TObject>> = {
  FailureDetected, BanIssued, BanLifted, Actuation,
}

function isTime(type: string): boolean {
  return type === TIME_TYPE || type === `Nullable(${TIME_TYPE})`
}

/**
 * Prefix of the aliases of computed columns. ClickHouse lets a SELECT alias
 * shadow the column of the same name everywhere in the query, WHERE and
 * ORDER BY included, so `... AS ip` would turn `ip BETWEEN` into a text test.
 */
const COMPUTED = '__'

/**
 * The SELECT list that reads an event table's rows back as events: the
 * address in its event spelling and times as epoch milliseconds (turned into
 * RFC 3339 by rowEvent, which ClickHouse's own formatting would not give).
 * `__occurred_at` holds the event time in milliseconds.
 */
export function eventColumnsSql(kind: EventKind): string {
  return eventTable(kind).columns
    .filter((c) => c.name !== 'ip_prefix')
    .map((c) => (c.name === 'ip' ? `${IP_TEXT_SQL} AS ${COMPUTED}ip`
      : isTime(c.type) ? `toUnixTimestamp64Milli(${c.name}) AS ${COMPUTED}${c.name}` : c.name))
    .join(', ')
}

const TIME_FIELDS = new Set(['failures', 'decisions', 'actuations'].flatMap((kind) =>
  eventTable(kind as EventKind).columns.filter((c) => isTime(c.type)).map((c) => c.name)))

/**
 * An event as it was on its topic, from a row of eventColumnsSql: only the
 * fields of its type's schema (a BanLifted row has the BanIssued columns
 * empty), NULL columns (and empty optional arrays) left out except
 * `expires_at` of a ban, where null means permanent.
 */
export function rowEvent(row: Row): Record<string, unknown> {
  const schema = SCHEMAS[String(row['type'])]
  const event: Record<string, unknown> = {}
  for (const field of Object.keys(schema?.properties ?? row)) {
    const value = field in row ? row[field] : row[`${COMPUTED}${field}`]
    if (value === undefined) continue
    // An optional array the event lacked is stored empty: leave it out again.
    if (Array.isArray(value) && value.length === 0 && !(schema?.required ?? []).includes(field)) continue
    if (value === null) {
      if (field === 'expires_at') event[field] = null
      continue
    }
    event[field] = TIME_FIELDS.has(field) ? isoTime(Number(value)) : value
  }
  return event
}
