import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { eventRow, IP_TEXT_SQL, storableEventJson, storedRange } from '../../schemas/clickhouse/rows.js'
import { DEFAULT_RETENTION, eventTable, eventTableDdl } from '../../schemas/clickhouse/tables.js'
import type { Actuation } from '../../schemas/events/actuation.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import { eventId } from '../../schemas/events/event-id.js'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { migrateStore } from '../../src/store/migrate.js'
import { StoreError, type Store } from '../../src/store/store.js'

export function failure(n: number, over: Partial<FailureDetected> = {}): FailureDetected {
  return {
    type: 'FailureDetected',
    event_id: eventId('failures-test', n),
    jail: 'sshd',
    ip: '192.0.2.1',
    host: 'mx1',
    matches: [`line ${n}`],
    occurred_at: new Date(Date.UTC(2026, 10, 22, 9, 0, n)).toISOString(),
    source: '/var/log/auth.log',
    regex_index: 0,
    ...over,
  }
}

const failuresTable = eventTable('failures')

/** Injection attempts: each must reach ClickHouse as a value, never as SQL. */
const HOSTILE = [
  "' OR 1=1 --",
  "x'); DROP TABLE failures; --",
  'a\\\' OR \'1\'=\'1',
  '}{ip:String} OR 1=1',
  'line\nbreak\ttab\\n',
  '\\',
  "'",
  '\u0000nul',
  'ünïcödé ✓',
  '',
]

/**
 * The store contract, run against each driver: `open` gives a store over an
 * empty database (the driver's own), `close` releases what open started.
 */
export function storeContract(driver: string, open: () => Promise<Store>, close: () => Promise<void>): void {
  describe(`store contract: ${driver}`, () => {
    let store: Store
    before(async () => {
      store = await open()
      await migrateStore(store)
    })
    after(close)

    it('creates its tables, and creating them again changes nothing', async () => {
      await migrateStore(store)
      const names = (await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name'))
        .map((r) => r.name)
      assert.deepEqual(names, ['actuations', 'decisions', 'failures', 'lines'])
    })

    it('drops the failure aggregates and their views from a store made before they were retired, keeping the failures', async () => {
      await store.insert('failures', [eventRow(failure(95, { ip: '198.51.100.95' }), failuresTable.columns)])
      await store.command(`CREATE TABLE failures_hourly (hour DateTime('UTC'), jail LowCardinality(String), host LowCardinality(String),
        failures AggregateFunction(uniqExact, UUID)) ENGINE = AggregatingMergeTree ORDER BY (hour, jail, host)`)
      await store.command(`CREATE MATERIALIZED VIEW failures_hourly_mv TO failures_hourly AS
        SELECT toStartOfHour(occurred_at) AS hour, jail, host, uniqExactState(event_id) AS failures FROM failures GROUP BY hour, jail, host`)
      await migrateStore(store)
      const names = (await store.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'failures_%'"))
      assert.deepEqual(names, [])
      await store.insert('failures', [eventRow(failure(96, { ip: '198.51.100.95' }), failuresTable.columns)])
      const [kept] = await store.query<{ n: number }>("SELECT count() AS n FROM failures WHERE ip = toIPv6('198.51.100.95')")
      assert.equal(kept!.n, 2)
    })

    it('adds to a table made by an earlier schema the columns its event has gained since', async () => {
      await store.command('ALTER TABLE decisions DROP COLUMN targets')
      await migrateStore(store)
      const columns = (await store.query<{ name: string; type: string }>(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'decisions' AND name = 'targets'",
      ))
      assert.deepEqual(columns, [{ name: 'targets', type: 'Array(String)' }])
    })

    it('copies a failures table an earlier schema partitioned by month into weekly partitions only as the sole writer, keeping its rows', async () => {
      const partitionKey = async () => (await store.query<{ partition_key: string }>(
        "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = 'failures'"))[0]?.partition_key
      await store.command('DROP TABLE failures')
      await store.command(eventTableDdl({ ...failuresTable, partitionBy: 'toYYYYMM(occurred_at)', settings: [] }, DEFAULT_RETENTION))
      const rows = [failure(80, { ip: '198.51.100.180' }), failure(81, { ip: '198.51.100.180', occurred_at: '2026-10-30T23:59:59.000Z' })]
        .map((f) => eventRow(f, failuresTable.columns))
      await store.insert('failures', rows)
      await store.insert('failures', [rows[1]!])
      const notes: string[] = []
      await migrateStore(store, DEFAULT_RETENTION, { note: (message) => notes.push(message) })
      assert.equal(await partitionKey(), 'toYYYYMM(occurred_at)')
      // What a repartition that crashed before its exchange leaves.
      await store.command(eventTableDdl(failuresTable, DEFAULT_RETENTION, 'failures_repartitioned'))
      assert.equal(notes.length, 1)
      assert.match(notes[0]!, /failures table is partitioned by toYYYYMM\(occurred_at\).*stop every writer.*banstream store --repartition/)

      await migrateStore(store, DEFAULT_RETENTION, { soleWriter: true, note: (message) => notes.push(message) })
      assert.equal(await partitionKey(), 'toMonday(occurred_at)')
      assert.match(notes[1]!, /repartitioning the failures table by toMonday\(occurred_at\)/)
      const [kept] = await store.query<{ n: number; weeks: number }>(
        "SELECT count() AS n, uniqExact(toMonday(occurred_at)) AS weeks FROM failures FINAL WHERE ip = toIPv6('198.51.100.180')")
      assert.deepEqual(kept, { n: 2, weeks: 2 })
      const names = (await store.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'failures%'"))
      assert.deepEqual(names.map((r) => r.name), ['failures'])
    })

    it('gives a store made before the lines table that table, with the retention\'s TTL, keeping its rows', async () => {
      await store.insert('failures', [eventRow(failure(90, { ip: '198.51.100.90' }), failuresTable.columns)])
      await store.command('DROP TABLE lines')
      await migrateStore(store, { ...DEFAULT_RETENTION, lines_days: 3 })
      const [lines] = await store.query<{ engine_full: string }>("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'lines'")
      assert.match(lines!.engine_full, /TTL toDateTime\(received_at\) \+ toIntervalDay\(3\)/)
      const [kept] = await store.query<{ n: number }>("SELECT count() AS n FROM failures WHERE ip = toIPv6('198.51.100.90')")
      assert.equal(kept!.n, 1)
    })

    it('returns inserted failures by address, with the address in its event form', async () => {
      await store.insert('failures', [failure(1, { ip: '198.51.100.7', user: 'root' }), failure(2, { ip: '198.51.100.7' })].map((f) => eventRow(f, failuresTable.columns)))
      const rows = await store.query<{ ip: string; ip_text: string; user: string | null; occurred_at: string; matches: string[] }>(
        `SELECT ip, ${IP_TEXT_SQL} AS ip_text, user, occurred_at, matches FROM failures FINAL WHERE ip = {ip:IPv6} ORDER BY occurred_at`,
        { ip: '198.51.100.7' })
      assert.deepEqual(rows, [
        { ip: '::ffff:198.51.100.7', ip_text: '198.51.100.7', user: 'root', occurred_at: '2026-11-22 09:00:01.000', matches: ['line 1'] },
        { ip: '::ffff:198.51.100.7', ip_text: '198.51.100.7', user: null, occurred_at: '2026-11-22 09:00:02.000', matches: ['line 2'] },
      ])
    })

    it('keeps networks with their prefix and finds addresses inside a subnet by range', async () => {
      await store.insert('failures', [
        failure(10, { ip: '203.0.113.5' }), failure(11, { ip: '203.0.113.250' }), failure(12, { ip: '203.0.114.1' }),
        failure(13, { ip: '2001:db8:1:2::/64' }), failure(14, { ip: '2001:db8:1:3::9' }),
      ].map((f) => eventRow(f, failuresTable.columns)))
      const inSubnet = async (cidr: string) => (await store.query<{ ip_text: string }>(
        `SELECT ${IP_TEXT_SQL} AS ip_text FROM failures FINAL WHERE ip BETWEEN {from:IPv6} AND {to:IPv6} ORDER BY ip`, storedRange(cidr)))
        .map((r) => r.ip_text)
      assert.deepEqual(await inSubnet('203.0.113.0/24'), ['203.0.113.5', '203.0.113.250'])
      assert.deepEqual(await inSubnet('2001:db8:1::/48'), ['2001:db8:1:2::/64', '2001:db8:1:3::9'])
    })

    it('binds hostile strings as values: they come back unchanged and match nothing', async () => {
      for (const text of HOSTILE) {
        const [echo] = await store.query<{ s: string }>('SELECT {s:String} AS s', { s: text })
        assert.equal(echo?.s, text)
        const rows = await store.query('SELECT event_id FROM failures WHERE jail = {jail:String} OR host = {jail:String}', { jail: text })
        assert.deepEqual(rows, [], JSON.stringify(text))
      }
      const [count] = await store.query<{ n: number }>('SELECT count() AS n FROM failures')
      assert.ok((count?.n ?? 0) > 0, 'failures survived')
    })

    it('stores hostile strings in rows unchanged', async () => {
      await store.insert('failures', HOSTILE.map((text, i) => eventRow(failure(40 + i, { ip: '198.51.100.40', user: text, matches: [text, "it's"] }), failuresTable.columns)))
      const rows = await store.query<{ user: string; matches: string[] }>(
        "SELECT user, matches FROM failures WHERE ip = toIPv6('198.51.100.40') ORDER BY occurred_at")
      assert.deepEqual(rows, HOSTILE.map((text) => ({ user: text, matches: [text, "it's"] })))
    })

    it('inserts rows given as JSON, and refuses the whole call when one row is bad', async () => {
      const json = (n: number) => Buffer.from(JSON.stringify(eventRow(failure(n, { ip: '198.51.100.60', user: HOSTILE[n % HOSTILE.length] }), failuresTable.columns)))
      await store.insertJson('failures', [json(60), json(61)])
      await assert.rejects(store.insertJson('failures', [json(62), Buffer.from('{"event_id":"not-a-uuid"}')]), StoreError)
      const rows = await store.query<{ user: string }>("SELECT user FROM failures WHERE ip = toIPv6('198.51.100.60') ORDER BY occurred_at")
      assert.deepEqual(rows, [{ user: HOSTILE[60 % HOSTILE.length] }, { user: HOSTILE[61 % HOSTILE.length] }])
    })

    it('stores events given as their JSON in the rows insert stores for them, whatever form their address and times take', async () => {
      const decisionsTable = eventTable('decisions')
      const ban: BanIssued = {
        type: 'BanIssued', event_id: eventId('events-ban', 1), cause_event_id: failure(1).event_id, jail: 'sshd', ip: '192.0.2.0/24',
        failures: 5, ban_time_secs: 600, ban_count: 1, expires_at: '2026-11-22T10:10:00+01:00', occurred_at: '2026-11-22T09:00:00.000Z',
        reason: 'threshold', matches: ['a'],
      }
      const events: { table: 'failures' | 'decisions'; event: Record<string, unknown> }[] = [
        ...[
          failure(70, { ip: '198.51.100.70', user: HOSTILE[0]! }),
          failure(71, { ip: '3fff:71::/48', user: HOSTILE[4]! }),
          failure(72, { ip: '::ffff:198.51.100.72', occurred_at: '2026-11-22T10:00:00.5+01:00' }),
          failure(73, { ip: '198.51.100.0/24', occurred_at: '2026-11-31t09:00:00z' }),
          failure(74, { ip: '3FFF:0:0:74::1', fid: 'x' }),
        ].map((event) => ({ table: 'failures' as const, event: { ...event, success: true } })),
        { table: 'decisions', event: { ...ban } },
        { table: 'decisions', event: { ...ban, event_id: eventId('events-ban', 2), ip: '3fff:72::/64', expires_at: null, ban_time_secs: -1 } },
      ]
      const columns = { failures: failuresTable.columns, decisions: decisionsTable.columns }
      // Each copy its own event id: rows of one sorting key would be merged into one.
      for (const [n, { table, event }] of events.entries()) {
        await store.insert(table, [eventRow({ ...event, jail: 'by-insert' }, columns[table])])
        const json = Buffer.from(JSON.stringify({ ...event, jail: 'by-events', event_id: eventId('by-events', n) }))
        await store.insertEvents(table, [storableEventJson(json, JSON.parse(json.toString('utf8')) as Record<string, unknown>, columns[table])])
      }
      for (const table of ['failures', 'decisions'] as const) {
        const stored = async (jail: string) => store.query(`SELECT * EXCEPT (jail, event_id) FROM ${table} WHERE jail = {jail:String} ORDER BY occurred_at, ip`, { jail })
        const byEvents = await stored('by-events')
        assert.equal(byEvents.length, events.filter((e) => e.table === table).length)
        assert.deepEqual(byEvents, await stored('by-insert'))
      }
    })

    it('refuses the whole call when one event gives a key twice, which ClickHouse does not read as JSON.parse does', async () => {
      const json = (n: number) => Buffer.from(JSON.stringify(failure(n, { ip: '198.51.100.80' })))
      const twice = Buffer.from(JSON.stringify(failure(82, { ip: '198.51.100.80' })).replace('{', '{"ip":"198.51.100.81",'))
      await assert.rejects(store.insertEvents('failures', [json(80), twice]), StoreError)
      const [stored] = await store.query<{ n: number }>("SELECT count() AS n FROM failures WHERE ip IN (toIPv6('198.51.100.80'), toIPv6('198.51.100.81'))")
      assert.equal(stored!.n, 0)
    })

    it('binds arrays, nulls, numbers and booleans', async () => {
      const [row] = await store.query<Record<string, unknown>>(
        'SELECT {a:Array(String)} AS a, {n:Nullable(String)} AS n, {i:UInt32} AS i, {b:Bool} AS b, {ids:Array(UUID)} AS ids',
        { a: [...HOSTILE, "it's"], n: null, i: 42, b: true, ids: [failure(1).event_id] })
      assert.deepEqual(row, { a: [...HOSTILE, "it's"], n: null, i: 42, b: true, ids: [failure(1).event_id] })
    })

    it('refuses a value that is not of the declared type instead of reading part of it', async () => {
      await assert.rejects(store.query('SELECT {n:UInt8} AS n', { n: '1; DROP TABLE failures' }),
        (e: unknown) => e instanceof StoreError && e.clickhouseCode === 457)
    })

    it('keeps a redelivered failure once', async () => {
      const batch = [failure(20, { ip: '192.0.2.77', jail: 'postfix' }), failure(21, { ip: '192.0.2.77', jail: 'postfix' })]
        .map((f) => eventRow(f, failuresTable.columns))
      await store.insert('failures', batch)
      await store.insert('failures', batch)
      await store.insert('failures', [batch[1]!])
      const [table] = await store.query<{ n: number }>("SELECT count() AS n FROM failures FINAL WHERE jail = 'postfix'")
      assert.equal(table?.n, 2)
    })

    it('stores bans, unbans and actuations in their tables', async () => {
      const ban: BanIssued = {
        type: 'BanIssued', event_id: eventId('ban', 1), cause_event_id: failure(2).event_id, jail: 'sshd', ip: '2001:db8::/64',
        failures: 5, ban_time_secs: 600, ban_count: 1, expires_at: '2026-11-22T09:10:00.000Z', occurred_at: '2026-11-22T09:00:00.000Z',
        reason: 'threshold', matches: ['a', 'b'],
      }
      const lift: BanLifted = {
        type: 'BanLifted', event_id: eventId('lift', 1), ban_event_id: ban.event_id, jail: 'sshd', ip: '2001:db8::/64',
        occurred_at: '2026-11-22T09:10:00.000Z', reason: 'expired',
      }
      const acted: Actuation = {
        type: 'Actuation', event_id: eventId('act', 1), decision_event_id: ban.event_id, host: 'mx1', jail: 'sshd', ip: '2001:db8::/64',
        backend: 'nftables', action: 'nftables[name=sshd]', outcome: 'failed', error: "nft: can't", occurred_at: '2026-11-22T09:00:01+01:00',
      }
      await store.insert('decisions', [eventRow(ban, eventTable('decisions').columns), eventRow(lift, eventTable('decisions').columns)])
      await store.insert('actuations', [eventRow(acted, eventTable('actuations').columns)])
      const decisions = await store.query(
        `SELECT type, ${IP_TEXT_SQL} AS ip_text, reason, expires_at, ban_event_id, failures, matches FROM decisions FINAL
         WHERE ip BETWEEN {from:IPv6} AND {to:IPv6} ORDER BY occurred_at`, storedRange('2001:db8::/32'))
      assert.deepEqual(decisions, [
        { type: 'BanIssued', ip_text: '2001:db8::/64', reason: 'threshold', expires_at: '2026-11-22 09:10:00.000', ban_event_id: null, failures: 5, matches: ['a', 'b'] },
        { type: 'BanLifted', ip_text: '2001:db8::/64', reason: 'expired', expires_at: null, ban_event_id: ban.event_id, failures: null, matches: [] },
      ])
      const actuations = await store.query('SELECT host, outcome, error, occurred_at FROM actuations FINAL WHERE host = {host:String}', { host: 'mx1' })
      assert.deepEqual(actuations, [{ host: 'mx1', outcome: 'failed', error: "nft: can't", occurred_at: '2026-11-22 08:00:01.000' }])
    })

    it('reports ClickHouse error codes: syntax error, unknown table', async () => {
      await assert.rejects(store.query('SELEC 1'), (e: unknown) => e instanceof StoreError && e.clickhouseCode === 62)
      await assert.rejects(store.query('SELECT * FROM no_such_table'), (e: unknown) => e instanceof StoreError && e.clickhouseCode === 60)
      await assert.rejects(store.insert('failures', [{ event_id: 'not-a-uuid', ip: '::1' }]), (e: unknown) => e instanceof StoreError)
    })

    it('refuses a table name that is not an identifier', async () => {
      await assert.rejects(store.insert('failures; DROP TABLE failures', [{}]), StoreError)
    })

    it('sets the TTL of existing tables to the retention, and removes it for 0 days', async () => {
      const ttlOf = async (table: string) => (await store.query<{ engine_full: string }>(
        'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}', { t: table }))[0]?.engine_full ?? ''
      await migrateStore(store, { ...DEFAULT_RETENTION, failures_days: 7, actuations_days: 0 })
      assert.match(await ttlOf('failures'), /TTL toDateTime\(occurred_at\) \+ toIntervalDay\(7\)/)
      assert.doesNotMatch(await ttlOf('actuations'), / TTL /)
      await migrateStore(store)
      assert.match(await ttlOf('failures'), /toIntervalDay\(90\)/)
      assert.match(await ttlOf('actuations'), /toIntervalDay\(90\)/)
    })
  })
}
