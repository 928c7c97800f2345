import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it, type TestContext } from 'node:test'
import { EVENT_TABLES, LINES_TABLE } from '../../../schemas/clickhouse/tables.js'
import type { Actuation } from '../../../schemas/events/actuation.js'
import type { BanIssued } from '../../../schemas/events/ban-issued.js'
import { eventId } from '../../../schemas/events/event-id.js'
import type { FailureDetected } from '../../../schemas/events/failure-detected.js'
import { partitionKey, Topics } from '../../../schemas/topics.js'
import { ClickHouseSink, type SinkProblem, type SinkStore, type SinkTimers } from '../../../sinks/clickhouse/clickhouse-sink.js'
import { lineBatchRecord } from '../../../src/log/line-batch-record.js'
import type { Log } from '../../../src/log/log.js'
import { ChdbStore } from '../../../src/store/chdb-store.js'
import { lineRows } from '../../../src/store/line-rows.js'
import { migrateStore } from '../../../src/store/migrate.js'
import { openLog, tempDataDir } from '../../log/log-test-kit.js'

function failure(n: number, over: Partial<FailureDetected> = {}): FailureDetected {
  return {
    type: 'FailureDetected', event_id: eventId('sink-test', n), jail: 'sshd', ip: `192.0.2.${n % 250}`, host: 'mx1',
    matches: [`line ${n}`], occurred_at: new Date(Date.UTC(2026, 10, 22, 9, 0, 0, n)).toISOString(), source: '/var/log/auth.log',
    regex_index: 0, ...over,
  }
}

const ban: BanIssued = {
  type: 'BanIssued', event_id: eventId('sink-ban', 1), cause_event_id: eventId('sink-test', 1), jail: 'sshd', ip: '192.0.2.1',
  failures: 3, ban_time_secs: 600, ban_count: 1, expires_at: '2026-11-22T09:10:00.000Z', occurred_at: '2026-11-22T09:00:00.000Z',
  reason: 'threshold', matches: [],
}

const acted: Actuation = {
  type: 'Actuation', event_id: eventId('sink-act', 1), decision_event_id: ban.event_id, host: 'mx1', jail: 'sshd', ip: '192.0.2.1',
  backend: 'nftables', action: 'nftables', outcome: 'applied', occurred_at: '2026-11-22T09:00:01.000Z',
}

async function append(log: Log, topic: string, events: readonly (object | string)[], key = (e: object | string) => typeof e === 'string' ? null : partitionKey((e as { ip: string }).ip)) {
  await log.append(topic, events.map((e) => {
    const k = key(e)
    return { key: k === null ? null : Buffer.from(k), value: Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)) }
  }))
}

/** Timers that run at once: backoffs and batch delays pass without waiting. */
const instant: SinkTimers = { setTimeout: (fn) => setImmediate(fn), clearTimeout: (h) => clearImmediate(h as NodeJS.Immediate) }

/** Timers that run only when the test says so. */
function manualTimers() {
  const due = new Map<number, () => void>()
  let next = 0
  const timers: SinkTimers = {
    setTimeout: (fn) => { due.set(++next, fn); return next },
    clearTimeout: (h) => { due.delete(h as number) },
  }
  return { timers, pending: () => due.size, fireAll: () => { const fns = [...due.values()]; due.clear(); fns.forEach((f) => f()) } }
}

/** Waits (polling the log, no timed assertion) until the group's committed offsets reach the end of the topic. */
async function committedToEnd(log: Log, topic: string, group = `store-${topic}`): Promise<void> {
  for (;;) {
    const ends = await log.endOffsets(topic)
    const committed = await Promise.all(ends.map((_, p) => log.committed(group, topic, p)))
    if (ends.every((end, p) => end === 0 || committed[p] === end)) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

/** A store that refuses the first `failures` inserts, then passes them on. */
function flaky(store: SinkStore, failures: number): SinkStore & { refused: () => number } {
  let refused = 0
  const refuse = (): void => {
    if (refused < failures) { refused++; throw new Error('Code: 210. DB::NetException: Connection refused') }
  }
  return {
    insertEvents: async (table, events) => { refuse(); await store.insertEvents(table, events) },
    insertJson: async (table, rows) => { refuse(); await store.insertJson(table, rows) },
    refused: () => refused,
  }
}

describe('ClickHouseSink', () => {
  let dir = ''
  let store: ChdbStore

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'banstream-sink-'))
    store = ChdbStore.open(dir)
    await migrateStore(store)
  })
  after(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  beforeEach(async () => {
    for (const t of [...EVENT_TABLES.map((e) => e.name), LINES_TABLE.name]) await store.command(`TRUNCATE TABLE ${t}`)
  })

  async function logWithTopics(t: TestContext) {
    const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
    for (const topic of [Topics.failures.name, Topics.decisions.name, Topics.actuations.name]) await log.createTopic(topic, 2)
    return log
  }

  const count = async (sql: string) => (await store.query<{ n: number }>(sql))[0]?.n

  it('stores the events of the three topics and commits the offsets past them', async (t) => {
    const log = await logWithTopics(t)
    await append(log, Topics.failures.name, [failure(1), failure(2), failure(3)])
    await append(log, Topics.decisions.name, [ban])
    await append(log, Topics.actuations.name, [acted], () => 'mx1')
    const sink = ClickHouseSink.start({ log, store, timers: instant })
    for (const topic of [Topics.failures.name, Topics.decisions.name, Topics.actuations.name]) await committedToEnd(log, topic)
    await sink.close()
    assert.equal(await count('SELECT count() AS n FROM failures FINAL'), 3)
    assert.equal(await count('SELECT count() AS n FROM decisions FINAL'), 1)
    assert.equal(await count('SELECT count() AS n FROM actuations FINAL'), 1)
    assert.deepEqual(sink.stats(), { inserted: { failures: 3, decisions: 1, actuations: 1 }, skipped: 0, retries: 0 })
  })

  it('stores the events of a trusted log as they are, and a record that is not one line of JSON as a checked log would', async (t) => {
    const log = await logWithTopics(t)
    await append(log, Topics.failures.name, [failure(1), JSON.stringify(failure(2, { ip: '2001:db8::/64' }), null, 2), failure(3)], () => 'one-partition')
    await append(log, Topics.decisions.name, [ban])
    await append(log, Topics.actuations.name, [acted], () => 'mx1')
    const sink = ClickHouseSink.start({ log, store, timers: instant, trusted: true })
    for (const topic of [Topics.failures.name, Topics.decisions.name, Topics.actuations.name]) await committedToEnd(log, topic)
    await sink.close()
    assert.deepEqual(sink.stats(), { inserted: { failures: 3, decisions: 1, actuations: 1 }, skipped: 0, retries: 0 })
    assert.deepEqual(await store.query('SELECT toString(ip) AS ip, ip_prefix, matches FROM failures ORDER BY occurred_at'), [
      { ip: '::ffff:192.0.2.1', ip_prefix: 128, matches: ['line 1'] },
      { ip: '2001:db8::', ip_prefix: 64, matches: ['line 2'] },
      { ip: '::ffff:192.0.2.3', ip_prefix: 128, matches: ['line 3'] },
    ])
    assert.equal(await count('SELECT count() AS n FROM decisions FINAL'), 1)
    assert.equal(await count('SELECT count() AS n FROM actuations FINAL'), 1)
  })

  it('checks the records of a trusted log once ClickHouse refuses their insert: the bad ones are skipped and reported, the rest stored', async (t) => {
    const log = await logWithTopics(t)
    const problems: SinkProblem[] = []
    // The last record is not one line: it is checked as it arrives, and reported once.
    await append(log, Topics.failures.name, [failure(1), '{not json', { ...failure(2), ip: 'mail.example.com' }, failure(3), '{\n"type": 1\n}'], () => 'one-partition')
    const sink = ClickHouseSink.start({ log, store, timers: instant, trusted: true, onProblem: (p) => problems.push(p) })
    await committedToEnd(log, Topics.failures.name)
    await sink.close()
    assert.deepEqual(problems.map((p) => [p.kind, p.offset]), [['bad-event', 4], ['insert-failed', undefined], ['bad-event', 1], ['bad-event', 2]])
    assert.deepEqual(sink.stats(), { inserted: { failures: 2, decisions: 0, actuations: 0 }, skipped: 3, retries: 1 })
    assert.deepEqual(await store.query('SELECT matches FROM failures ORDER BY occurred_at'), [{ matches: ['line 1'] }, { matches: ['line 3'] }])
  })

  it('waits for max_batch_delay_ms before inserting fewer than max_batch_rows rows', async (t) => {
    const log = await logWithTopics(t)
    const clock = manualTimers()
    const sink = ClickHouseSink.start({ log, store, timers: clock.timers, max_batch_rows: 100, max_batch_delay_ms: 1000 })
    await append(log, Topics.failures.name, [failure(1), failure(2)], () => 'one-partition')
    await until(() => clock.pending() > 0)
    assert.equal(await count('SELECT count() AS n FROM failures'), 0)
    clock.fireAll()
    await committedToEnd(log, Topics.failures.name)
    assert.equal(await count('SELECT count() AS n FROM failures'), 2)
    await sink.close()
  })

  it('inserts as soon as max_batch_rows rows wait, without waiting for the delay', async (t) => {
    const log = await logWithTopics(t)
    const clock = manualTimers()
    const sink = ClickHouseSink.start({ log, store, timers: clock.timers, max_batch_rows: 4, max_batch_delay_ms: 60_000 })
    await append(log, Topics.failures.name, [1, 2, 3, 4].map((n) => failure(n)), () => 'one-partition')
    await committedToEnd(log, Topics.failures.name)
    assert.equal(await count('SELECT count() AS n FROM failures'), 4)
    await sink.close()
  })

  it('retries with backoff while the store is down and then stores every event', async (t) => {
    const log = await logWithTopics(t)
    const down = flaky(store, 3)
    const problems: SinkProblem[] = []
    const events = Array.from({ length: 50 }, (_, i) => failure(i))
    await append(log, Topics.failures.name, events)
    const sink = ClickHouseSink.start({ log, store: down, timers: instant, onProblem: (p) => problems.push(p) })
    await committedToEnd(log, Topics.failures.name)
    await sink.close()
    assert.equal(down.refused(), 3)
    assert.equal(sink.stats().retries, 3)
    assert.deepEqual(problems.map((p) => p.kind), ['insert-failed', 'insert-failed', 'insert-failed'])
    assert.equal(await count('SELECT count() AS n FROM failures FINAL'), 50)
  })

  it('counts a batch redelivered after a crash between insert and commit once', async (t) => {
    const log = await logWithTopics(t)
    const events = Array.from({ length: 20 }, (_, i) => failure(i, { jail: 'postfix' }))
    await append(log, Topics.failures.name, events, () => 'one-partition')
    // The first run stores the rows but dies before any offset is committed.
    const crashing: Log = Object.assign(Object.create(log) as Log, {
      commit: async () => { throw new Error('process killed') },
    })
    const first = ClickHouseSink.start({ log: crashing, store, timers: instant, max_batch_rows: 20 })
    await until(() => first.stats().inserted.failures === 20)
    await first.close()
    assert.deepEqual([await log.committed(`store-${Topics.failures.name}`, Topics.failures.name, 0), await log.committed(`store-${Topics.failures.name}`, Topics.failures.name, 1)], [undefined, undefined])
    // The restart is delivered the same events again, cut into other batches.
    const second = ClickHouseSink.start({ log, store, timers: instant, max_batch_rows: 7 })
    await committedToEnd(log, Topics.failures.name)
    await second.close()
    assert.equal(second.stats().inserted.failures, 20)
    assert.equal(await count('SELECT count() AS n FROM failures'), 40, 'both copies are on disk until a merge')
    assert.equal(await count("SELECT count() AS n FROM failures FINAL WHERE jail = 'postfix'"), 20)
    await store.command('OPTIMIZE TABLE failures FINAL')
    assert.equal(await count('SELECT count() AS n FROM failures'), 20, 'a merge keeps one row per event_id')
  })

  it('skips a malformed record and an event with no address, and commits past them', async (t) => {
    const log = await logWithTopics(t)
    const problems: SinkProblem[] = []
    await append(log, Topics.failures.name, [failure(1), '{not json', { ...failure(2), ip: 'mail.example.com' }, failure(3)], () => 'one-partition')
    const sink = ClickHouseSink.start({ log, store, timers: instant, onProblem: (p) => problems.push(p) })
    await committedToEnd(log, Topics.failures.name)
    await sink.close()
    assert.deepEqual(problems.map((p) => [p.kind, p.offset]), [['bad-event', 1], ['bad-event', 2]])
    assert.equal(sink.stats().skipped, 2)
    assert.equal(await count('SELECT count() AS n FROM failures'), 2)
  })

  it('stores an event whose JSON is not in the compact form as it stores any other', async (t) => {
    const log = await logWithTopics(t)
    await append(log, Topics.failures.name, [JSON.stringify(failure(1, { ip: '2001:db8::/64' }), null, 2), failure(2, { ip: '2001:db8::/64' })], () => 'one-partition')
    const sink = ClickHouseSink.start({ log, store, timers: instant })
    await committedToEnd(log, Topics.failures.name)
    await sink.close()
    const rows = await store.query('SELECT toString(ip) AS ip, ip_prefix, occurred_at FROM failures ORDER BY occurred_at')
    assert.deepEqual(rows, [
      { ip: '2001:db8::', ip_prefix: 64, occurred_at: '2026-11-22 09:00:00.001' },
      { ip: '2001:db8::', ip_prefix: 64, occurred_at: '2026-11-22 09:00:00.002' },
    ])
  })

  it('stores an event whose JSON gives a key twice as JSON.parse reads it, after ClickHouse refuses it as it came', async (t) => {
    const log = await logWithTopics(t)
    const problems: SinkProblem[] = []
    const twice = JSON.stringify(failure(1, { user: 'alice' })).replace('{', '{"user":"mallory",')
    await append(log, Topics.failures.name, [twice, failure(2, { user: 'bob' })], () => 'one-partition')
    const sink = ClickHouseSink.start({ log, store, timers: instant, onProblem: (p) => problems.push(p) })
    await committedToEnd(log, Topics.failures.name)
    await sink.close()
    assert.deepEqual(problems.map((p) => p.kind), ['insert-failed'])
    assert.deepEqual(await store.query('SELECT user FROM failures ORDER BY occurred_at'), [{ user: 'alice' }, { user: 'bob' }])
  })

  it('stores bytes of a record that are not UTF-8 as U+FFFD, as the event decodes them', async (t) => {
    const log = await logWithTopics(t)
    const json = Buffer.from(JSON.stringify(failure(1, { user: 'caf\u00e9', matches: ['caf\u00e9 from 192.0.2.1'] })), 'latin1')
    await log.append(Topics.failures.name, [{ key: Buffer.from('one-partition'), value: json }])
    const sink = ClickHouseSink.start({ log, store, timers: instant })
    await committedToEnd(log, Topics.failures.name)
    await sink.close()
    assert.deepEqual(await store.query('SELECT user, matches FROM failures'), [{ user: 'caf\ufffd', matches: ['caf\ufffd from 192.0.2.1'] }])
  })

  it('closing while the store is down commits nothing, and the next start stores it all', async (t) => {
    const log = await logWithTopics(t)
    await append(log, Topics.failures.name, [failure(1), failure(2)], () => 'one-partition')
    const clock = manualTimers()
    const down = flaky(store, Infinity)
    const first = ClickHouseSink.start({ log, store: down, timers: clock.timers, max_batch_rows: 2 })
    await until(() => down.refused() > 0)
    await first.close()
    assert.equal(await log.committed(`store-${Topics.failures.name}`, Topics.failures.name, 0), undefined)
    assert.equal(await log.committed(`store-${Topics.failures.name}`, Topics.failures.name, 1), undefined)
    const second = ClickHouseSink.start({ log, store, timers: instant })
    await committedToEnd(log, Topics.failures.name)
    await second.close()
    assert.equal(await count('SELECT count() AS n FROM failures FINAL'), 2)
  })

  it('stores every line of the lines topic when asked to keep lines, skipping a record that holds no line batch', async (t) => {
    const log = await logWithTopics(t)
    await log.createTopic(Topics.lines.name, 1)
    const read = Date.now() - 60_000
    await log.append(Topics.lines.name, [
      lineBatchRecord({ stream: '/var/log/auth.log', host: 'mx1', lines: [Buffer.from('sshd[1]: Failed password'), Buffer.from('sshd[2]: Accepted')], received_at: read, backlog: true }),
      { key: null, value: Buffer.from('no headers') },
      lineBatchRecord({ stream: 'journald', host: 'mx2', lines: [Buffer.from('postfix: reject')], received_at: read + 1, times: [read - 5000] }),
    ])
    const problems: SinkProblem[] = []
    const sink = ClickHouseSink.start({ log, store, timers: instant, lines: lineRows, onProblem: (p) => problems.push(p) })
    await committedToEnd(log, Topics.lines.name)
    await sink.close()
    const rows = await store.query(`SELECT stream, host, line, offset, line_index, toUnixTimestamp64Milli(received_at) AS received_ms,
      toUnixTimestamp64Milli(occurred_at) AS occurred_ms, backlog FROM lines FINAL ORDER BY offset, line_index`)
    assert.deepEqual(rows, [
      { stream: '/var/log/auth.log', host: 'mx1', line: 'sshd[1]: Failed password', offset: 0, line_index: 0, received_ms: read, occurred_ms: null, backlog: true },
      { stream: '/var/log/auth.log', host: 'mx1', line: 'sshd[2]: Accepted', offset: 0, line_index: 1, received_ms: read, occurred_ms: null, backlog: true },
      { stream: 'journald', host: 'mx2', line: 'postfix: reject', offset: 2, line_index: 0, received_ms: read + 1, occurred_ms: read - 5000, backlog: false },
    ])
    assert.deepEqual(problems.map((p) => [p.kind, p.offset]), [['bad-event', 1]])
    assert.equal(sink.stats().inserted.lines, 3)
  })

  it('leaves the lines topic unread unless asked to keep lines', async (t) => {
    const log = await logWithTopics(t)
    await log.createTopic(Topics.lines.name, 1)
    await log.append(Topics.lines.name, [lineBatchRecord({ stream: 'syslog', host: 'mx1', lines: [Buffer.from('x')], received_at: Date.now() })])
    await append(log, Topics.failures.name, [failure(1)])
    const sink = ClickHouseSink.start({ log, store, timers: instant })
    await committedToEnd(log, Topics.failures.name)
    await sink.close()
    assert.equal(sink.stats().inserted.lines, undefined)
    assert.equal(await log.committed(`store-${Topics.lines.name}`, Topics.lines.name, 0), undefined)
    assert.equal(await count('SELECT count() AS n FROM lines'), 0)
  })
})
