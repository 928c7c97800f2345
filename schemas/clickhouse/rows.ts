import { isUtf8 } from 'node:buffer'
import { parseAddress } from '../events/address.js'
import type { Column } from './columns.js'
import { IP_PREFIX_COLUMN, TIME_TYPE } from './columns.js'

/** A row as inserted (JSONEachRow): column name to JSON value. */
export type Row = Record<string, unknown>

/** Thrown when an event cannot become a row (its `ip` is no address); the event is bad input, not a store fault. */
export class UnstorableEventError extends Error {
  readonly code = 'BANSTREAM_ERR_UNSTORABLE_EVENT'
  constructor(message: string) {
    super(message)
    this.name = 'UnstorableEventError'
  }
}

/**
 * The text ClickHouse reads for a DateTime64(3, 'UTC') value, from an RFC 3339
 * time with any offset: `2026-11-22 09:00:00.123`. Query parameters of that
 * type take the same text (ClickHouse does not read the `T`/`Z` form there).
 */
export function clickHouseTime(rfc3339: string): string {
  const canonical = CANONICAL_UTC.exec(rfc3339)
  if (canonical && isCalendarDay(canonical[1]!)) return `${canonical[1]} ${rfc3339.slice(11, 23)}`
  const ms = Date.parse(rfc3339)
  if (Number.isNaN(ms)) throw new UnstorableEventError(`not a time: ${JSON.stringify(rfc3339)}`)
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`
}

/** A time as toISOString writes it (what our stages emit), with an hour, minute and second in range. */
const CANONICAL_UTC = /^(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/

/**
 * Whether a YYYY-MM-DD is a day of the calendar (Date.parse takes 2026-02-30
 * as March 2), remembered per day: a batch's events share a few days.
 */
const calendarDays = new Map<string, boolean>()

function isCalendarDay(day: string): boolean {
  let known = calendarDays.get(day)
  if (known === undefined) {
    const ms = Date.parse(`${day}T00:00:00Z`)
    known = !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(day)
    if (calendarDays.size >= 4096) calendarDays.clear()
    calendarDays.set(day, known)
  }
  return known
}

/** The 16 bytes and IPv6 prefix of an address or network as the table keeps it (IPv4 mapped). */
function stored16(ip: string): { bytes: Uint8Array; prefix: number } {
  const address = parseAddress(ip)
  if (!address) throw new UnstorableEventError(`not an address or network: ${JSON.stringify(ip)}`)
  if (address.family === 6) return { bytes: address.bytes, prefix: address.prefix }
  const bytes = new Uint8Array(16)
  bytes[10] = 0xff
  bytes[11] = 0xff
  bytes.set(address.bytes, 12)
  return { bytes, prefix: 96 + address.prefix }
}

function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16))
  return groups.join(':')
}

export type StoredAddress = Readonly<{ ip: string; ip_prefix: number }>

/**
 * The stored forms of the addresses seen last: attackers recur (a few hundred
 * make most failures), and parsing and printing an address costs as much as
 * the rest of a row. Emptied when full, which keeps it bounded (about 20 MiB)
 * and cheap.
 */
const recentAddresses = new Map<string, StoredAddress>()
const RECENT_ADDRESSES_MAX = 131_072

/**
 * An address or network as the table keeps it: IPv6 text (IPv4 mapped to
 * ::ffff:a.b.c.d) and the prefix length in IPv6 terms.
 */
export function storedAddress(ip: string): StoredAddress {
  const known = recentAddresses.get(ip)
  if (known) return known
  const { bytes, prefix } = stored16(ip)
  const stored = Object.freeze({ ip: ipv6Text(bytes), ip_prefix: prefix })
  if (recentAddresses.size >= RECENT_ADDRESSES_MAX) recentAddresses.clear()
  recentAddresses.set(ip, stored)
  return stored
}

/**
 * The first and last stored `ip` of a network (or of one address), for
 * `ip BETWEEN {from:IPv6} AND {to:IPv6}`: a range of the sorting key, so a
 * subnet query reads only the granules of that subnet.
 */
export function storedRange(cidr: string): { from: string; to: string } {
  const { bytes, prefix } = stored16(cidr)
  const last = Uint8Array.from(bytes)
  for (let bit = prefix; bit < 128; bit++) last[bit >> 3] = last[bit >> 3]! | (0x80 >> (bit & 7))
  return { from: ipv6Text(bytes), to: ipv6Text(last) }
}

/**
 * SQL for the event's text form of a stored address: `192.0.2.1`,
 * `192.0.2.0/24`, `2001:db8::/64`, from the `ip` and `ip_prefix` columns.
 */
export const IP_TEXT_SQL = "if(ip_prefix >= 96 AND startsWith(toString(ip), '::ffff:') AND position(toString(ip), '.') > 0, " +
  "concat(substring(toString(ip), 8), if(ip_prefix = 128, '', concat('/', toString(ip_prefix - 96)))), " +
  "concat(toString(ip), if(ip_prefix = 128, '', concat('/', toString(ip_prefix)))))"

/**
 * The row of an event for a table with these columns: fields copied by name,
 * times in ClickHouse's text form, `ip` split into address and prefix. Fields
 * the event lacks are left out, so the column default applies (NULL, empty, false).
 */
export function eventRow(event: Readonly<Record<string, unknown>>, columns: readonly Column[]): Row {
  const row: Row = {}
  for (const { name, kind } of rowPlan(columns)) {
    const value = event[name]
    if (value === undefined || value === null) continue
    if (kind === 'ip') {
      const stored = storedAddress(String(value))
      row['ip'] = stored.ip
      row[IP_PREFIX_COLUMN.name] = stored.ip_prefix
    } else {
      row[name] = kind === 'time' ? clickHouseTime(String(value)) : value
    }
  }
  return row
}

/**
 * The row of an event as JSON, spliced from the event's own JSON text (`json`,
 * which decoded to `event`, validated against the table's schema) rather than
 * built and serialized anew: every field is copied as its bytes, and only `ip`
 * (then followed by `ip_prefix`) and the times are replaced by their stored
 * forms. Serializing a row costs as much as decoding the event (the matched
 * log lines are most of it), so the sink saves that. Null when the text is not
 * in the compact form JSON.stringify writes (a replaced field not found once
 * as `"name":value`), or holds a line break or bytes that are not UTF-8;
 * eventRow serves those.
 */
export function eventRowJson(json: Buffer, event: Readonly<Record<string, unknown>>, columns: readonly Column[]): Buffer | null {
  if (json.includes(NEWLINE) || !isUtf8(json)) return null
  const edits: Edit[] = []
  let length = json.length
  for (const { name, kind, key } of rowPlan(columns)) {
    const value = event[name]
    if (kind === 'copy' || value === undefined || value === null) continue
    if (typeof value !== 'string') return null
    const at = json.indexOf(key)
    if (at < 0 || json.indexOf(key, at + key.length) >= 0) return null
    const end = stringEnd(json, at + key.length, value)
    if (end < 0) return null
    let text: string
    if (kind === 'ip') {
      const stored = storedAddress(value)
      text = `"ip":"${stored.ip}","${IP_PREFIX_COLUMN.name}":${stored.ip_prefix}`
    } else {
      text = `"${name}":"${clickHouseTime(value)}"`
    }
    length += text.length - (end - at)
    edits.push({ at, end, text })
  }
  if (edits.length > 1) edits.sort((a, b) => a.at - b.at)
  const row = Buffer.allocUnsafe(length)
  let from = 0
  let to = 0
  for (const { at, end, text } of edits) {
    to += json.copy(row, to, from, at)
    to += row.write(text, to, 'latin1')
    from = end
  }
  json.copy(row, to, from)
  return row
}

/** A replaced field: the bytes `at`..`end` of the event's JSON give way to `text` (ASCII). */
interface Edit { at: number; end: number; text: string }

/**
 * Where the JSON string `value` ends in `json` when it is written there from
 * `at` as JSON.stringify writes it, or -1. Only a value of printable ASCII
 * without quote or backslash is compared (its JSON is itself in quotes, byte
 * for byte), which every address and time is; any other declines the splice.
 */
function stringEnd(json: Buffer, at: number, value: string): number {
  if (json[at] !== QUOTE || json[at + value.length + 1] !== QUOTE) return -1
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH || json[at + 1 + i] !== c) return -1
  }
  return at + value.length + 2
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const NEWLINE = 0x0a

interface PlannedColumn {
  readonly name: string
  readonly kind: 'ip' | 'time' | 'copy'
  /** `"name":` as JSON.stringify writes the key, for eventRowJson to find. */
  readonly key: Buffer
}

/** How eventRow fills each column of a table, worked out once per column list rather than per row. */
const plans = new WeakMap<readonly Column[], readonly PlannedColumn[]>()

function rowPlan(columns: readonly Column[]): readonly PlannedColumn[] {
  let plan = plans.get(columns)
  if (!plan) {
    plan = columns.filter((c) => c.name !== IP_PREFIX_COLUMN.name).map((c) => ({
      name: c.name,
      kind: c.name === 'ip' ? 'ip' : c.type === TIME_TYPE || c.type === `Nullable(${TIME_TYPE})` ? 'time' : 'copy',
      key: Buffer.from(`${JSON.stringify(c.name)}:`),
    }))
    plans.set(columns, plan)
  }
  return plan
}
