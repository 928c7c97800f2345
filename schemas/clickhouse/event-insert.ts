import { columnKind, IP_PREFIX_COLUMN, TIME_TYPE } from './columns.js'
import { eventTable, sqlLiteral, type EventTableName } from './tables.js'

/**
 * The INSERT that stores events of a topic, as the topic carries them (JSON, one per line), in their
 * table: ClickHouse reads each field as the column of its name and derives the stored forms itself,
 * `ip` and `ip_prefix` from the address or network text and each time from its RFC 3339 text. So a
 * writer hands over the events' own bytes, and no row is built and serialized per event in
 * JavaScript, which cost the sink more than the insert did (storableEventJson says which bytes
 * qualify).
 *
 * The derivations hold for the canonical forms only: an address as formatAddress writes it, a time
 * as toISOString writes it, on a day of the calendar. `from` is the table function that reads the
 * JSON with the structure it is given: `input(...)` on a server, `file(...)` embedded.
 */
export function eventInsertSql(name: EventTableName, from: (structure: string) => string): string {
  const columns = eventTable(name).columns.filter((c) => c.name !== IP_PREFIX_COLUMN.name)
  const targets: string[] = []
  const values: string[] = []
  const structure: string[] = []
  for (const column of columns) {
    switch (columnKind(column)) {
      case 'ip':
        structure.push('ip String')
        targets.push('ip', IP_PREFIX_COLUMN.name)
        // A canonical IPv4 text has no colon and an IPv6 one always has; IPv4 networks count in IPv6 terms.
        values.push("toIPv6(splitByChar('/', ip)[1])",
          "if(position(ip, '/') = 0, 128, toUInt8(splitByChar('/', ip)[2]) + if(position(ip, ':') = 0, 96, 0))")
        break
      case 'time':
        structure.push(`${column.name} ${column.type === TIME_TYPE ? 'String' : 'Nullable(String)'}`)
        targets.push(column.name)
        values.push(column.type === TIME_TYPE
          ? `parseDateTime64BestEffort(${column.name}, 3, 'UTC')`
          : `parseDateTime64BestEffortOrNull(${column.name}, 3, 'UTC')`)
        break
      case 'copy':
        structure.push(`${column.name} ${column.type}`)
        targets.push(column.name)
        values.push(column.name)
    }
  }
  return `INSERT INTO ${name} (${targets.join(', ')}) SELECT ${values.join(', ')} FROM ${from(structure.join(', '))}`
}

/** The events from the body of the request, for a server: `INSERT ... FORMAT JSONEachRow` with the events as its data. */
export function eventInsertFromInput(name: EventTableName): string {
  return `${eventInsertSql(name, (structure) => `input(${sqlLiteral(structure)})`)} FORMAT JSONEachRow`
}

/** The events from a file the embedded engine reads (JSONEachRow), for chDB. */
export function eventInsertFromFile(name: EventTableName, path: string): string {
  return eventInsertSql(name, (structure) => `file(${sqlLiteral(path)}, 'JSONEachRow', ${sqlLiteral(structure)})`)
}
