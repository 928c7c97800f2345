import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../src/api/build-api.js'
import type { ChdbStore } from '../../src/store/chdb-store.js'
import { MemoryControlPort } from './control/memory-control-port.js'
import { fixtureStore } from './history/history-fixture.js'

const NOW = Date.parse('2005-08-15T00:00:00Z')

/** What an attacker sends: SQL and ClickHouse placeholder syntax, quotes, control and wide characters, huge values. */
const ATTEMPTS = [
  "'", '"', '\\', "') OR 1=1 --", "' OR '1'='1", '{x:String}', '{jail:String}', '{ip:IPv6}', '1; DROP TABLE failures',
  "sshd' UNION SELECT * FROM system.users --", '*/ SELECT 1 /*', '\u0000', 'ü𝓊ñí©ødé', '\u202e', '../../etc/passwd',
  '%', '%27', '-1', '99999999999999999999', '1e3', 'NaN', '[]', '{"$gt":""}', '192.0.2.1\' OR 1=1', '192.0.2.0/24; --',
  'x'.repeat(20_000),
]

/** Every parameter of every route that reads the store or the bans, with a valid value for the others. */
const PARAMETERS: { route: string; name: string }[] = [
  ...['kind', 'from', 'to', 'jail', 'host', 'ip', 'user', 'limit', 'cursor', 'order'].map((name) => ({ route: '/v1/events', name })),
  ...['by', 'from', 'to', 'jail', 'limit'].map((name) => ({ route: '/v1/stats/top', name })),
  ...['interval', 'by', 'from', 'to', 'jail'].map((name) => ({ route: '/v1/stats/timeseries', name })),
  ...['startup', 'scopes', 'origins', 'scenarios_containing', 'scenarios_not_containing'].map((name) => ({ route: '/v1/decisions/stream', name })),
  ...['ip', 'range', 'scope', 'value', 'type', 'contains', 'origins', 'scenarios_containing', 'scenarios_not_containing'].map((name) => ({ route: '/v1/decisions', name })),
  { route: '/v1/bans', name: 'ip' },
]

/** The empty answer of each route: an attempt may get a 400 or this, never rows. */
function isEmptyAnswer(route: string, body: unknown): boolean {
  const b = body as Record<string, unknown>
  switch (route) {
    case '/v1/events': return Array.isArray(b['events']) && (b['events'] as unknown[]).length === 0
    case '/v1/stats/top': return Array.isArray(b['top']) && (b['top'] as unknown[]).length === 0
    case '/v1/stats/timeseries': return Array.isArray(b['series']) && (b['series'] as unknown[]).length === 0
    case '/v1/decisions/stream': return (b['new'] as unknown[]).length === 0 && (b['deleted'] as unknown[]).length === 0
    case '/v1/decisions': return body === null
    case '/v1/bans': return typeof b['unbanned'] === 'number' && b['unbanned'] === 0
    default: return false
  }
}

describe('injection attempts through every parameter', () => {
  let store: ChdbStore
  let remove: () => Promise<void>
  let control: MemoryControlPort
  let app: FastifyInstance
  let rowsBefore: unknown[]

  const counts = () => store.query("SELECT name, total_rows FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' ORDER BY name")

  before(async () => {
    ({ store, remove } = await fixtureStore())
    control = new MemoryControlPort([{ name: 'sshd', file_list: [], ban_time_secs: 600 }], () => new Date(NOW))
    await control.ban('sshd', ['203.0.113.9'], {})
    app = buildApi({ control, store, tokens: undefined, bind: '127.0.0.1', now: () => NOW, rateLimit: false })
    rowsBefore = await counts()
  })
  after(async () => {
    await app.close()
    await remove()
  })

  for (const { route, name } of PARAMETERS) {
    test(`${route} ${name}: 400 naming the field, or an empty answer`, async () => {
      for (const attempt of ATTEMPTS) {
        const scoped = route === '/v1/events' || route.startsWith('/v1/stats') ? '&from=2005-08-01T00:00:00Z&to=2005-09-01T00:00:00Z' : ''
        const url = `${route}?${name}=${encodeURIComponent(attempt)}${name === 'from' || name === 'to' ? '' : scoped}`
        const res = await app.inject({ method: route === '/v1/bans' ? 'DELETE' : 'GET', url })
        const label = `${name}=${JSON.stringify(attempt.slice(0, 40))}`
        assert.ok(res.statusCode === 200 || res.statusCode === 400, `${label}: ${res.statusCode} ${res.body.slice(0, 300)}`)
        if (res.statusCode === 400) {
          assert.equal(res.json().field?.startsWith('querystring/'), true, `${label}: ${res.body.slice(0, 300)}`)
        } else if (name === 'scenarios_not_containing') {
          // Excluding a scenario no ban has leaves every ban: the one active ban, not more, not fewer.
          const decisions = route === '/v1/decisions' ? res.json() : res.json().new
          assert.deepEqual(decisions.map((d: { value: string }) => d.value), ['203.0.113.9'], label)
        } else {
          assert.ok(isEmptyAnswer(route, res.json()), `${label}: ${res.body.slice(0, 300)}`)
        }
      }
    })
  }

  test('/v1/ips/:ip: 400 naming params/ip (or 414 for an overlong path), never a query', async () => {
    for (const attempt of ATTEMPTS) {
      const res = await app.inject({ method: 'GET', url: `/v1/ips/${encodeURIComponent(attempt)}` })
      assert.ok([400, 404, 414].includes(res.statusCode), `${JSON.stringify(attempt.slice(0, 40))}: ${res.statusCode} ${res.body.slice(0, 200)}`)
      if (res.statusCode === 400) assert.equal(res.json().field ?? 'params/ip', 'params/ip')
    }
  })

  test('a quote in a free-text filter matches only that exact text', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/events?user=${encodeURIComponent("o'brien")}&from=2005-08-01T00:00:00Z` })
    assert.deepEqual(new Set(res.json().events.map((e: { user: string }) => e.user)), new Set(["o'brien"]))
    const tricked = await app.inject({ method: 'GET', url: `/v1/events?user=${encodeURIComponent("o' OR user != '")}` })
    assert.deepEqual(tricked.json().events, [])
  })

  test('leaves the tables and the bans as they were', async () => {
    assert.deepEqual(await counts(), rowsBefore)
    assert.deepEqual((await control.banned()).map((b) => b.ip), ['203.0.113.9'])
  })
})
