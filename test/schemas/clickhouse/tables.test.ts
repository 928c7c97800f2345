import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Type } from '@sinclair/typebox'
import { columnsOf } from '../../../schemas/clickhouse/columns.js'
import { eventRow, storedAddress, storedRange } from '../../../schemas/clickhouse/rows.js'
import { clickHouseSql, DEFAULT_RETENTION, EVENT_TABLES, eventTableDdl, LINES_TABLE, linesTableDdl, retentionTtls } from '../../../schemas/clickhouse/tables.js'
import { packageRoot } from '../../../src/package-root.js'

describe('ClickHouse DDL from the event schemas', () => {
  it('gives every event field a column of the same name, plus ip_prefix after ip', () => {
    for (const table of EVENT_TABLES) {
      const variants = 'anyOf' in table.schema ? (table.schema.anyOf as { properties: object }[]) : [table.schema as unknown as { properties: object }]
      const fields = new Set(variants.flatMap((v) => Object.keys(v.properties)))
      const names = table.columns.map((c) => c.name)
      assert.deepEqual(new Set(names), new Set([...fields, 'ip_prefix']), table.name)
      assert.equal(names.indexOf('ip_prefix'), names.indexOf('ip') + 1)
    }
  })

  it('maps ids to UUID, ip to IPv6, times to DateTime64 in UTC, and fields some variants lack to Nullable', () => {
    const decisions = EVENT_TABLES.find((t) => t.name === 'decisions')!
    const type = (name: string) => decisions.columns.find((c) => c.name === name)?.type
    assert.equal(type('event_id'), 'UUID')
    assert.equal(type('ban_event_id'), 'Nullable(UUID)')
    assert.equal(type('ip'), 'IPv6')
    assert.equal(type('occurred_at'), "DateTime64(3, 'UTC')")
    assert.equal(type('expires_at'), "Nullable(DateTime64(3, 'UTC'))")
    assert.equal(type('reason'), 'LowCardinality(String)')
    assert.equal(type('matches'), 'Array(String)')
  })

  it('refuses a field it has no ClickHouse type for instead of storing it as text', () => {
    assert.throws(() => columnsOf(Type.Object({ odd: Type.Record(Type.String(), Type.Number()) })), /no ClickHouse type for the field odd/)
  })

  it('matches the checked-in schemas/generated/clickhouse.sql (regenerate: npx tsx schemas/clickhouse/write-generated-sql.ts)', () => {
    assert.equal(readFileSync(`${packageRoot()}/schemas/generated/clickhouse.sql`, 'utf8'), clickHouseSql())
  })

  it('stores IPv4 mapped into IPv6 with the prefix in IPv6 terms', () => {
    assert.deepEqual(storedAddress('192.0.2.1'), { ip: '0:0:0:0:0:ffff:c000:201', ip_prefix: 128 })
    assert.deepEqual(storedAddress('192.0.2.0/24'), { ip: '0:0:0:0:0:ffff:c000:200', ip_prefix: 120 })
    assert.deepEqual(storedAddress('2001:db8::/64'), { ip: '2001:db8:0:0:0:0:0:0', ip_prefix: 64 })
    assert.deepEqual(storedRange('192.0.2.0/24'), { from: '0:0:0:0:0:ffff:c000:200', to: '0:0:0:0:0:ffff:c000:2ff' })
  })

  it('turns an event into a row with UTC times and no absent fields', () => {
    const failures = EVENT_TABLES.find((t) => t.name === 'failures')!
    const row = eventRow({ type: 'FailureDetected', event_id: 'x', ip: '::ffff:192.0.2.9', occurred_at: '2026-11-22T10:00:00.5+01:00', matches: [] }, failures.columns)
    assert.deepEqual(row, { type: 'FailureDetected', event_id: 'x', ip: '0:0:0:0:0:ffff:c000:209', ip_prefix: 128, occurred_at: '2026-11-22 09:00:00.500', matches: [] })
  })

  it('partitions failures by week, merged to one part an hour after the week ends, and bans and actuations by month', () => {
    const ddl = (name: string) => eventTableDdl(EVENT_TABLES.find((t) => t.name === name)!, DEFAULT_RETENTION)
    assert.match(ddl('failures'), /\nPARTITION BY toMonday\(occurred_at\)\n/)
    assert.match(ddl('failures'), /\nSETTINGS min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1\n/)
    assert.match(ddl('decisions'), /\nPARTITION BY toYYYYMM\(occurred_at\)\n/)
    assert.doesNotMatch(ddl('decisions'), /SETTINGS/)
    assert.match(ddl('actuations'), /\nPARTITION BY toYYYYMM\(occurred_at\)\n/)
  })

  it('keeps raw lines 7 days by default and for the retention\'s lines_days otherwise, dropping whole days', () => {
    assert.match(linesTableDdl(DEFAULT_RETENTION), /\nTTL toDateTime\(received_at\) \+ INTERVAL 7 DAY\n/)
    assert.match(linesTableDdl({ ...DEFAULT_RETENTION, lines_days: 2 }), /\nTTL toDateTime\(received_at\) \+ INTERVAL 2 DAY\n/)
    assert.match(linesTableDdl(DEFAULT_RETENTION), /ttl_only_drop_parts = 1/)
    assert.deepEqual(retentionTtls({ ...DEFAULT_RETENTION, lines_days: 3 }).find((t) => t.table === 'lines'), { table: 'lines', ttl: 'toDateTime(received_at) + INTERVAL 3 DAY' })
  })

  it('derives the lines columns from StoredLine, offsets as UInt64', () => {
    const type = (name: string) => LINES_TABLE.columns.find((c) => c.name === name)?.type
    assert.deepEqual(LINES_TABLE.columns.map((c) => c.name), ['stream', 'host', 'received_at', 'partition', 'offset', 'line_index', 'line', 'occurred_at', 'backlog'])
    assert.equal(type('offset'), 'UInt64')
    assert.equal(type('stream'), 'LowCardinality(String)')
    assert.equal(type('occurred_at'), "Nullable(DateTime64(3, 'UTC'))")
  })
})
