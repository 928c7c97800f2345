import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { eventRow } from '../../../schemas/clickhouse/rows.js'
import { eventTable } from '../../../schemas/clickhouse/tables.js'
import { buildApi } from '../../../src/api/build-api.js'
import type { ChdbStore } from '../../../src/store/chdb-store.js'
import { MemoryControlPort } from '../control/memory-control-port.js'
import { at, fixtureStore, type fixtureEvents } from './history-fixture.js'

const NOW = Date.parse('2005-08-15T00:00:00Z')

describe('history routes over a chDB store', () => {
  let store: ChdbStore
  let events: ReturnType<typeof fixtureEvents>
  let remove: () => Promise<void>
  let control: MemoryControlPort
  let app: FastifyInstance

  before(async () => {
    ({ store, events, remove } = await fixtureStore())
    control = new MemoryControlPort([{ name: 'dovecot', file_list: [], ban_time_secs: -1 }], () => new Date(NOW))
    await control.ban('dovecot', ['2001:db8::/64'], {})
    app = buildApi({ control, store, tokens: undefined, bind: '127.0.0.1', now: () => NOW })
  })
  after(async () => {
    await app.close()
    await remove()
  })

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 200, res.body)
    return res.json()
  }

  test("answers an address's failures by jail, host and user, counting a redelivered failure once and a success not at all", async () => {
    const body = await get('/v1/ips/192.0.2.1')
    assert.equal(body.ip, '192.0.2.1')
    assert.deepEqual(body.failures, {
      total: 7,
      by_jail: [
        { jail: 'sshd', failures: 5, first_seen: '2005-08-14T10:00:00.000Z', last_seen: '2005-08-14T10:04:00.000Z' },
        { jail: 'postfix', failures: 2, first_seen: '2005-08-14T10:30:00.000Z', last_seen: '2005-08-14T10:31:00.000Z' },
      ],
      by_host: [{ host: 'mail1', failures: 5 }, { host: 'mail2', failures: 2 }],
      users: [{ user: 'root', failures: 3 }, { user: 'admin', failures: 2 }],
    })
    assert.equal(body.first_seen, '2005-08-14T10:00:00.000Z')
    assert.equal(body.last_seen, '2005-08-14T10:32:00.000Z')
  })

  test("answers an address's bans and unbans with reasons, newest first, as the events were", async () => {
    const body = await get('/v1/ips/192.0.2.1')
    assert.deepEqual(body.decisions, [events.lift1, events.ban1])
  })

  test("answers what each host's actuator did about an address, with the last error", async () => {
    const body = await get('/v1/ips/192.0.2.1')
    assert.deepEqual(body.actuations, [
      { host: 'fw1', applied: 1, removed: 1, failed: 0, last_outcome: 'removed', last_at: '2005-08-14T10:15:00.000Z', last_error: null },
      { host: 'fw2', applied: 0, removed: 0, failed: 1, last_outcome: 'failed', last_at: '2005-08-14T10:05:00.000Z', last_error: 'nft: No such file or directory' },
    ])
  })

  test('counts the ban of an IPv6 network, and its active ban, in the history of an address inside it', async () => {
    const body = await get('/v1/ips/2001:db8::7')
    assert.deepEqual(body.decisions, [events.ban6])
    assert.equal(body.failures.total, 4)
    assert.deepEqual(body.active_bans, [{ jail: 'dovecot', ip: '2001:db8::/64', expires_at: null }])
    assert.deepEqual(body.actuations.map((a: { host: string }) => a.host), ['fw2'])
  })

  test('takes first and last seen from failures, bans and actuations alike', async () => {
    const body = await get('/v1/ips/2001:db8::7')
    assert.equal(body.first_seen, at(131))
    assert.equal(body.last_seen, at(140), 'the actuation of the /64 ban')
  })

  test('answers the history of a network with every address inside it', async () => {
    const body = await get('/v1/ips/192.0.2.0%2F24')
    assert.equal(body.ip, '192.0.2.0/24')
    assert.equal(body.failures.total, 10)
    assert.deepEqual(body.failures.users, [{ user: 'oracle', failures: 3 }, { user: 'root', failures: 3 }, { user: 'admin', failures: 2 }])
  })

  test('answers an empty history for an address never seen', async () => {
    const body = await get('/v1/ips/203.0.113.5')
    assert.deepEqual(body, {
      ip: '203.0.113.5', first_seen: null, last_seen: null,
      failures: { total: 0, by_jail: [], by_host: [], users: [] }, decisions: [], actuations: [], active_bans: [],
    })
  })

  test('lists failures newest first, each once, in their event shape', async () => {
    const body = await get('/v1/events?limit=100')
    assert.equal(body.events.length, events.failures.length)
    assert.equal(body.next_cursor, null)
    assert.deepEqual(body.events[0], { ...events.failures.at(-1), success: false, backlog: false })
    const times = body.events.map((e: { occurred_at: string }) => e.occurred_at)
    assert.deepEqual(times, [...times].sort().reverse())
  })

  test('pages through events with an opaque cursor, without losing or repeating one', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const body: { events: { event_id: string }[]; next_cursor: string | null } =
        await get(`/v1/events?order=asc&limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...body.events.map((e) => e.event_id))
      cursor = body.next_cursor
      pages++
    } while (cursor !== null)
    assert.equal(pages, Math.ceil(events.failures.length / 3))
    assert.deepEqual(new Set(seen).size, events.failures.length)
    assert.equal(seen.length, events.failures.length)
  })

  test('filters events by time range, jail, host, user and subnet', async () => {
    const ids = async (url: string) => (await get(url)).events.map((e: { event_id: string }) => e.event_id).sort()
    const expect = (pick: (f: (typeof events.failures)[number]) => boolean) => events.failures.filter(pick).map((f) => f.event_id).sort()
    assert.deepEqual(await ids('/v1/events?jail=postfix'), expect((f) => f.jail === 'postfix'))
    assert.deepEqual(await ids('/v1/events?host=mail2&user=info'), expect((f) => f.host === 'mail2' && f.user === 'info'))
    assert.deepEqual(await ids('/v1/events?ip=2001:db8::%2F64'), expect((f) => f.ip.startsWith('2001:db8::')))
    assert.deepEqual(await ids('/v1/events?ip=192.0.2.77'), expect((f) => f.ip === '192.0.2.77'))
    assert.deepEqual(await ids('/v1/events?from=2005-08-14T10:30:00Z&to=2005-08-14T12:00:00%2B01:00'),
      expect((f) => f.occurred_at >= '2005-08-14T10:30:00.000Z' && f.occurred_at < '2005-08-14T11:00:00.000Z'))
    assert.deepEqual(await ids("/v1/events?user=o'brien"), expect((f) => f.user === "o'brien"))
  })

  test('lists decisions and actuations, actuations by host', async () => {
    assert.deepEqual((await get('/v1/events?kind=decisions&order=asc')).events, [events.ban1, events.lift1, events.ban6])
    const fw2 = (await get('/v1/events?kind=actuations&host=fw2&order=asc')).events
    assert.deepEqual(fw2, events.actuations.filter((a) => a.host === 'fw2'))
  })

  test('streams every matching event as NDJSON when asked for it', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/events?order=asc', headers: { accept: 'application/x-ndjson' } })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^application\/x-ndjson/)
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l))
    assert.deepEqual(lines.map((e) => e.event_id), [...events.failures].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at)).map((f) => f.event_id))
  })

  test('stops an NDJSON export at limit', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/events?limit=4', headers: { accept: 'application/x-ndjson' } })
    assert.equal(res.body.trimEnd().split('\n').length, 4)
  })

  test('refuses a user filter on decisions and a host filter on decisions, naming the field', async () => {
    for (const [url, field] of [['/v1/events?kind=decisions&user=root', 'querystring/user'], ['/v1/events?kind=decisions&host=fw1', 'querystring/host']]) {
      const res = await app.inject({ method: 'GET', url: url! })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().field, field)
    }
  })

  test('refuses a cursor it did not give, or one of the other order', async () => {
    const first = await get('/v1/events?limit=2')
    for (const cursor of ['abc', Buffer.from('v1.1.x.desc').toString('base64url'), first.next_cursor]) {
      const res = await app.inject({ method: 'GET', url: `/v1/events?order=asc&cursor=${cursor}` })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().code, 'BANSTREAM_ERR_INVALID_CURSOR')
    }
  })

  test('ranks the top addresses of a range by failures', async () => {
    const body = await get('/v1/stats/top?from=2005-08-14T00:00:00Z&to=2005-08-15T00:00:00Z&limit=3')
    assert.deepEqual(body.top.map((t: { key: string; failures: number }) => [t.key, t.failures]), [['192.0.2.1', 7], ['2001:db8::7', 4], ['2001:db8::8', 4]])
    assert.equal(body.top[0].first_seen, '2005-08-14T10:00:00.000Z')
  })

  test('ranks /24 and /64 networks, users, jails and hosts', async () => {
    const top = async (by: string) => (await get(`/v1/stats/top?by=${by}&from=2005-08-01T00:00:00Z&to=2005-09-01T00:00:00Z`)).top
      .map((t: { key: string; failures: number; ips: number }) => [t.key, t.failures, t.ips])
    assert.deepEqual(await top('subnet24'), [['192.0.2.0/24', 10, 2], ['198.51.100.0/24', 1, 1]])
    assert.deepEqual(await top('subnet64'), [['2001:db8::/64', 8, 2]])
    assert.deepEqual(await top('user'), [['info', 4, 1], ["o'brien", 4, 1], ['root', 4, 2], ['oracle', 3, 1], ['admin', 2, 1]])
    assert.deepEqual(await top('jail'), [['sshd', 9, 3], ['dovecot', 8, 2], ['postfix', 2, 1]])
    assert.deepEqual(await top('host'), [['mail1', 9, 3], ['mail2', 10, 3]].sort((a, b) => Number(b[1]) - Number(a[1])))
  })

  test('defaults the top range to the seven days before now', async () => {
    const body = await get('/v1/stats/top')
    assert.equal(body.from, '2005-08-08T00:00:00.000Z')
    assert.equal(body.to, '2005-08-15T00:00:00.000Z')
    assert.equal(body.top.some((t: { key: string }) => t.key === '198.51.100.9'), false)
  })

  test('counts failures per hour and jail', async () => {
    const body = await get('/v1/stats/timeseries?by=jail&interval=1h&from=2005-08-14T00:00:00Z&to=2005-08-15T00:00:00Z')
    assert.equal(body.interval_secs, 3600)
    assert.deepEqual(body.series, [
      { key: 'dovecot', points: [{ at: '2005-08-14T12:00:00.000Z', failures: 8 }] },
      { key: 'postfix', points: [{ at: '2005-08-14T10:00:00.000Z', failures: 2 }] },
      { key: 'sshd', points: [{ at: '2005-08-14T10:00:00.000Z', failures: 5 }, { at: '2005-08-14T11:00:00.000Z', failures: 3 }] },
    ])
  })

  test('counts all failures per day without by', async () => {
    const body = await get('/v1/stats/timeseries?interval=1d&from=2005-08-01T00:00:00Z&to=2005-09-01T00:00:00Z')
    assert.deepEqual(body.series, [{ key: null, points: [{ at: '2005-08-14T00:00:00.000Z', failures: 18 }, { at: '2005-08-24T00:00:00.000Z', failures: 1 }] }])
  })

  test('refuses a timeseries of more than 10000 buckets, naming interval', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/stats/timeseries?interval=1m&from=2000-01-01T00:00:00Z&to=2005-01-01T00:00:00Z' })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().field, 'querystring/interval')
  })

  test('lists actuators with their last actuation, lag and failures', async () => {
    assert.deepEqual(await get('/v1/actuators'), { actuators: [
      { host: 'fw1', last_actuation_at: '2005-08-14T10:15:00.000Z', lag_secs: 49_500, actuations: 2, failed: 0, last_error: null },
      { host: 'fw2', last_actuation_at: '2005-08-14T12:20:00.000Z', lag_secs: 42_000, actuations: 2, failed: 1, last_error: 'nft: No such file or directory' },
    ] })
  })

  test('is ready while its store answers', async () => {
    assert.deepEqual(await get('/readyz'), { status: 'ready', store: 'ok' })
  })

  // Last in this block: it leaves more copies in the store, which every later read would have to see through.
  test('pages past an event stored several times without repeating or losing one, wherever its copies fall', async () => {
    const sorted = [...events.failures].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at) || a.event_id.localeCompare(b.event_id))
    const copied = [sorted[1]!, sorted[2]!, sorted.at(-1)!]
    for (let copy = 0; copy < 4; copy++) await store.insert('failures', copied.map((e) => eventRow(e as Record<string, unknown>, eventTable('failures').columns)))
    for (const [order, limit] of [['asc', 1], ['asc', 2], ['desc', 2], ['desc', 3]] as const) {
      const seen: string[] = []
      let cursor: string | null = null
      do {
        const body: { events: { event_id: string }[]; next_cursor: string | null } =
          await get(`/v1/events?order=${order}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
        assert.ok(body.events.length === limit || body.next_cursor === null, `a page short of ${limit} ends the list`)
        seen.push(...body.events.map((e) => e.event_id))
        cursor = body.next_cursor
      } while (cursor !== null)
      const expected = sorted.map((f) => f.event_id)
      assert.deepEqual(seen, order === 'asc' ? expected : [...expected].reverse(), `${order}, ${limit} a page`)
    }
  })
})

describe('history routes without a store', () => {
  const app = buildApi({ control: new MemoryControlPort([], () => new Date(NOW)), tokens: undefined, bind: '127.0.0.1' })

  test('answer 503 BANSTREAM_ERR_NO_HISTORY', async () => {
    for (const url of ['/v1/ips/192.0.2.1', '/v1/events', '/v1/stats/top', '/v1/stats/timeseries', '/v1/actuators']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 503, url)
      assert.equal(res.json().code, 'BANSTREAM_ERR_NO_HISTORY')
    }
  })

  test('is ready, with no store to check', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready', store: 'none' })
  })
})
