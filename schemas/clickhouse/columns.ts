import { Kind, OptionalKind, type TObject, type TSchema } from '@sinclair/typebox'

/** One column of a ClickHouse table: the event field of the same name, typed for ClickHouse. */
export interface Column {
  readonly name: string
  /** The ClickHouse type, e.g. `LowCardinality(String)`. */
  readonly type: string
  /** The field's schema description, kept as the column comment. */
  readonly comment?: string
}

/** The time type of every `*_at` field: millisecond precision, stored and shown in UTC. */
export const TIME_TYPE = "DateTime64(3, 'UTC')"

/**
 * Text fields whose values come from a small set (jail, host and backend names):
 * LowCardinality stores them as dictionary codes, which compresses well and
 * makes GROUP BY on them cheap.
 */
const LOW_CARDINALITY_FIELDS = new Set(['jail', 'host', 'source', 'stream', 'backend', 'action', 'type', 'reason', 'outcome'])

/**
 * The column holding the prefix length of `ip`. An event's `ip` is an address
 * or a CIDR network; the table keeps it as an IPv6 value (IPv4 mapped to
 * ::ffff:a.b.c.d) so that one column and one sort order serve both families
 * and a subnet is a range of the primary key, plus its prefix in IPv6 terms.
 */
export const IP_PREFIX_COLUMN: Column = {
  name: 'ip_prefix',
  type: 'UInt8',
  comment: 'Prefix length of ip in IPv6 terms: 128 for one address; an IPv4 network /n is 96 + n.',
}

/**
 * How a column's value comes from its event's field: `ip` from the address or network text (the
 * column and `ip_prefix`), a time from its RFC 3339 text, any other column as the field is.
 */
export function columnKind(column: Column): 'ip' | 'time' | 'copy' {
  if (column.name === 'ip') return 'ip'
  return column.type === TIME_TYPE || column.type === `Nullable(${TIME_TYPE})` ? 'time' : 'copy'
}

/**
 * The ClickHouse type of a field that is always present. The map is explicit
 * so that a schema change that needs a new column type fails here, loudly,
 * instead of storing text:
 * - `event_id` and every `*_event_id`: UUID (ids are UUID-shaped, see event-id.ts);
 * - `ip`: IPv6 (with `ip_prefix`, see IP_PREFIX_COLUMN);
 * - `format: 'date-time'`: DateTime64(3, 'UTC');
 * - literals and unions of literals: LowCardinality(String) (Enum would refuse
 *   rows of a newer schema that adds a value);
 * - integers: Int32, or UInt32 when the schema's minimum is 0 or more (UInt64
 *   when its maximum is above 2^32 - 1: log offsets);
 * - booleans: Bool; arrays of strings: Array(String); other strings: String.
 */
function baseType(name: string, schema: TSchema): string {
  if (name === 'event_id' || name.endsWith('_event_id')) return 'UUID'
  if (name === 'ip') return 'IPv6'
  if (schema[Kind] === 'Union') {
    const members = (schema.anyOf as TSchema[]).filter((m) => m[Kind] !== 'Null')
    if (members.length === 1) return baseType(name, members[0]!)
    if (members.every((m) => m[Kind] === 'Literal' && typeof m.const === 'string')) return 'LowCardinality(String)'
    throw new Error(`no ClickHouse type for the union field ${name}`)
  }
  switch (schema[Kind]) {
    case 'Literal':
      if (typeof schema.const !== 'string') throw new Error(`no ClickHouse type for the literal field ${name}`)
      return 'LowCardinality(String)'
    case 'String':
      if (schema.format === 'date-time') return TIME_TYPE
      return LOW_CARDINALITY_FIELDS.has(name) ? 'LowCardinality(String)' : 'String'
    case 'Integer':
      if (typeof schema.minimum !== 'number' || schema.minimum < 0) return 'Int32'
      return typeof schema.maximum === 'number' && schema.maximum > 0xffff_ffff ? 'UInt64' : 'UInt32'
    case 'Boolean':
      return 'Bool'
    case 'Array':
      if ((schema.items as TSchema)[Kind] === 'String') return 'Array(String)'
      throw new Error(`no ClickHouse type for the array field ${name}`)
    default:
      throw new Error(`no ClickHouse type for the field ${name} (${String(schema[Kind])})`)
  }
}

function isNullable(schema: TSchema): boolean {
  return schema[Kind] === 'Union' && (schema.anyOf as TSchema[]).some((m) => m[Kind] === 'Null')
}

/**
 * Wraps a type for a field that may be absent or null. Arrays and booleans
 * cannot be Nullable in a useful way: an absent array is stored empty and an
 * absent boolean false, which is what the schemas say absence means.
 */
function optionalType(type: string): string {
  if (type.startsWith('Array(') || type === 'Bool') return type
  if (type.startsWith('LowCardinality(')) return `LowCardinality(Nullable(${type.slice('LowCardinality('.length, -1)}))`
  return `Nullable(${type})`
}

function columnOf(name: string, schema: TSchema, optional: boolean): Column {
  const type = baseType(name, schema)
  const description = typeof schema.description === 'string' ? schema.description : undefined
  return {
    name,
    type: optional || isNullable(schema) ? optionalType(type) : type,
    ...(description === undefined ? {} : { comment: description }),
  }
}

/**
 * The columns of a table that stores the events of `schema`: one per field,
 * named as the field, in the schema's order (`ip_prefix` right after `ip`).
 * A union of event schemas (Decision) gives the union of their fields; a
 * field some variants lack is nullable (or empty, or false; see optionalType).
 */
export function columnsOf(schema: TSchema): Column[] {
  const variants: TObject[] = schema[Kind] === 'Union' ? (schema.anyOf as TObject[]) : [schema as TObject]
  const columns = new Map<string, Column>()
  for (const variant of variants) {
    if (variant[Kind] !== 'Object') throw new Error('columnsOf takes an object schema or a union of them')
    for (const [name, field] of Object.entries(variant.properties)) {
      const inEvery = variants.every((v) => name in v.properties && v.properties[name]![OptionalKind] !== 'Optional')
      const column = columnOf(name, field, !inEvery)
      const known = columns.get(name)
      if (known && known.type !== column.type) {
        throw new Error(`the field ${name} has two ClickHouse types: ${known.type} and ${column.type}`)
      }
      if (!known) columns.set(name, column)
      if (!known && name === 'ip') columns.set(IP_PREFIX_COLUMN.name, IP_PREFIX_COLUMN)
    }
  }
  return [...columns.values()]
}
