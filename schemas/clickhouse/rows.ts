import { isUtf8 } from 'node:buffer'
import { canonicalAddress, isCanonicalIpv4, parseAddress } from '../events/address.js'
import { columnKind, IP_PREFIX_COLUMN, type Column } from './columns.js'

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
  if (isCanonicalTime(rfc3339)) return `${rfc3339.slice(0, 10)} ${rfc3339.slice(11, 23)}`
  const ms = Date.parse(rfc3339)
  if (Number.isNaN(ms)) throw new UnstorableEventError(`not a time: ${JSON.stringify(rfc3339)}`)
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`
}

/** The form of a time as toISOString writes it (what our stages emit), with an hour, minute and second in range. */
const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/

/**
 * The canonical form on the 1st to the 28th of a month, a day of the calendar in any year: one
 * test for most times, where slicing out the month and day cost the store sink as much as the test.
 */
const CANONICAL_UTC_EARLY_IN_MONTH = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/

/** A time as toISOString writes it, on a day of the calendar: taken as it is, without Date.parse. */
function isCanonicalTime(rfc3339: string): boolean {
  return CANONICAL_UTC_EARLY_IN_MONTH.test(rfc3339) || (CANONICAL_UTC.test(rfc3339) && isCalendarDay(rfc3339.slice(0, 10)))
}

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

/** An address or network as events write it (formatAddress) and as the table keeps it. */
interface KnownAddress { readonly canonical: string; readonly stored: StoredAddress }

/**
 * The forms of the addresses seen last: attackers recur (a few hundred make
 * most failures), and parsing and printing an address costs as much as the
 * rest of a row. Emptied when full, which keeps it bounded (about 30 MiB)
 * and cheap.
 */
const recentAddresses = new Map<string, KnownAddress>()
const RECENT_ADDRESSES_MAX = 131_072

function knownAddress(ip: string): KnownAddress {
  const known = recentAddresses.get(ip)
  if (known) return known
  const { bytes, prefix } = stored16(ip)
  const address = { canonical: canonicalAddress(ip)!, stored: Object.freeze({ ip: ipv6Text(bytes), ip_prefix: prefix }) }
  if (recentAddresses.size >= RECENT_ADDRESSES_MAX) recentAddresses.clear()
  recentAddresses.set(ip, address)
  return address
}

/**
 * An address or network as the table keeps it: IPv6 text (IPv4 mapped to
 * ::ffff:a.b.c.d) and the prefix length in IPv6 terms.
 */
export function storedAddress(ip: string): StoredAddress {
  return knownAddress(ip).stored
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
  for (const { name, kind } of rowPlan(columns).all) {
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
 * The event's JSON as eventInsertSql reads it: `json` itself (which decoded to
 * `event`) when its address and times are in their canonical forms, it is
 * UTF-8 and on one line, as every event our stages write is; otherwise the
 * event written anew with them canonical. Either way ClickHouse stores the
 * row eventRow gives. Throws UnstorableEventError when `ip` is no address or a
 * time no time.
 *
 * The bytes are not checked for a key given twice, which JSON.parse reads (the
 * last one wins) and ClickHouse refuses: a writer whose insert is refused
 * writes each event anew (JSON.stringify of its JSON.parse) and tries again.
 */
export function storableEventJson(json: Buffer, event: Readonly<Record<string, unknown>>, columns: readonly Column[]): Buffer {
  let canonical: Record<string, unknown> | undefined
  for (const { name, kind } of rowPlan(columns).converted) {
    const value = event[name]
    if (value === undefined || value === null) continue
    const text = kind === 'ip' ? canonicalIp(String(value)) : canonicalTime(String(value))
    if (text !== value) (canonical ??= { ...event })[name] = text
  }
  if (canonical === undefined && json.indexOf(NEWLINE) < 0 && isUtf8(json)) return json
  return Buffer.from(JSON.stringify(canonical ?? event))
}

function canonicalIp(ip: string): string {
  return isCanonicalIpv4(ip) ? ip : knownAddress(ip).canonical
}

/** A time as toISOString writes it, on a day of the calendar (clickHouseTime's reading of it). */
function canonicalTime(rfc3339: string): string {
  if (isCanonicalTime(rfc3339)) return rfc3339
  const text = `${clickHouseTime(rfc3339).replace(' ', 'T')}Z`
  if (!CANONICAL_UTC.test(text)) throw new UnstorableEventError(`not a time ClickHouse keeps: ${JSON.stringify(rfc3339)}`)
  return text
}

const NEWLINE = 0x0a

/** A column's event field and how its value is stored. */
interface PlannedColumn { readonly name: string; readonly kind: ReturnType<typeof columnKind> }

/**
 * How a table's columns come from an event's fields (`all`, for eventRow) and those whose stored
 * form differs from the field's (`converted`: ip and times, all storableEventJson looks at),
 * worked out once per column list rather than per row.
 */
const plans = new WeakMap<readonly Column[], { all: readonly PlannedColumn[]; converted: readonly PlannedColumn[] }>()

function rowPlan(columns: readonly Column[]): { all: readonly PlannedColumn[]; converted: readonly PlannedColumn[] } {
  let plan = plans.get(columns)
  if (!plan) {
    const all = columns.filter((c) => c.name !== IP_PREFIX_COLUMN.name).map((c) => ({ name: c.name, kind: columnKind(c) }))
    plan = { all, converted: all.filter((c) => c.kind !== 'copy') }
    plans.set(columns, plan)
  }
  return plan
}
