import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Counter, Registry } from 'prom-client'
import { buildApi, type ApiOptions } from '../../src/api/build-api.js'
import { ControlApiConfigError } from '../../src/api/api-settings.js'
import { MemoryControlPort } from './control/memory-control-port.js'

const NOW = new Date('2005-08-14T10:00:00Z')
const TOKENS = [{ token: 'reader-t0ken', role: 'read' }, { token: 'operator-t0ken', role: 'operate' }, { token: 'actuator-t0ken', role: 'actuate' }] as const

function jails(): MemoryControlPort {
  return new MemoryControlPort([{ name: 'sshd', file_list: ['/var/log/auth.log'], ban_time_secs: 600 }], () => NOW)
}

function api(opts: Partial<ApiOptions> = {}) {
  return buildApi({ control: jails(), tokens: TOKENS, bind: '127.0.0.1', now: () => NOW.getTime(), ...opts })
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('API tokens and roles', () => {
  test('lets a read token read and refuses it commands with 403 BANSTREAM_ERR_FORBIDDEN', async () => {
    const port = jails()
    const app = api({ control: port })
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jails', headers: bearer('reader-t0ken') })).statusCode, 200)
    assert.equal((await app.inject({ method: 'GET', url: '/v1/bans', headers: bearer('reader-t0ken') })).statusCode, 200)
    for (const request of [
      { method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['192.0.2.1'] } },
      { method: 'DELETE', url: '/v1/bans' }, { method: 'POST', url: '/v1/reload' },
    ] as const) {
      const res = await app.inject({ ...request, headers: bearer('reader-t0ken') })
      assert.equal(res.statusCode, 403, request.url)
      assert.equal(res.json().code, 'BANSTREAM_ERR_FORBIDDEN')
    }
    assert.deepEqual(port.events, [])
    assert.equal(port.reloads, 0)
  })

  test('lets an operate token read and command', async () => {
    const port = jails()
    const app = api({ control: port })
    const res = await app.inject({ method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['192.0.2.1'] }, headers: bearer('operator-t0ken') })
    assert.deepEqual(res.json(), { results: [{ ip: '192.0.2.1', result: 'banned' }] })
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jails/sshd', headers: bearer('operator-t0ken') })).statusCode, 200)
  })

  test('lets an actuate token pull decisions and nothing else', async () => {
    const app = api()
    assert.equal((await app.inject({ method: 'GET', url: '/v1/decisions/stream?startup=true', headers: bearer('actuator-t0ken') })).statusCode, 200)
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jails', headers: bearer('actuator-t0ken') })).statusCode, 403)
    assert.equal((await app.inject({ method: 'GET', url: '/v1/decisions', headers: bearer('operator-t0ken') })).statusCode, 403)
  })

  test('answers 401 with bearer-auth messages for a missing or wrong token', async () => {
    const app = api()
    const missing = await app.inject({ method: 'GET', url: '/v1/jails' })
    assert.equal(missing.statusCode, 401)
    assert.deepEqual(missing.json(), { statusCode: 401, code: 'BANSTREAM_ERR_UNAUTHORIZED', error: 'Unauthorized', message: 'missing authorization header' })
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="banstream"')
    for (const authorization of ['Bearer reader-t0keN', 'Basic cmVhZGVyLXQwa2Vu', 'Bearer', 'reader-t0ken']) {
      const res = await app.inject({ method: 'GET', url: '/v1/jails', headers: { authorization } })
      assert.equal(res.statusCode, 401, authorization)
      assert.equal(res.json().message, 'invalid authorization header')
    }
  })

  test('guards the history and metrics routes', async () => {
    const app = api()
    for (const url of ['/v1/ips/192.0.2.1', '/v1/events', '/v1/stats/top', '/v1/stats/timeseries', '/v1/actuators', '/metrics']) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 401, url)
    }
  })

  test('keeps /healthz, /readyz and /docs open', async () => {
    const app = api()
    for (const url of ['/healthz', '/readyz', '/docs/json']) assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url)
  })

  test('refuses to start beyond loopback without a token, as the control API', () => {
    for (const tokens of [undefined, [], [{ token: '', role: 'read' as const }]]) {
      assert.throws(() => buildApi({ control: jails(), tokens, bind: '0.0.0.0' }), (err: unknown) => {
        assert.ok(err instanceof ControlApiConfigError)
        assert.equal(err.code, 'BANSTREAM_ERR_TOKEN_REQUIRED')
        return true
      })
    }
    assert.doesNotThrow(() => buildApi({ control: jails(), tokens: [{ token: 'fleet', role: 'read' }], bind: '0.0.0.0' }))
  })

  test('refuses tokens that cannot travel in a header, unknown roles and bouncer keys with spaces', () => {
    assert.throws(() => api({ tokens: [{ token: 'two words', role: 'read' }] }), ControlApiConfigError)
    assert.throws(() => api({ tokens: [{ token: 'ok', role: 'admin' as 'read' }] }), ControlApiConfigError)
    assert.throws(() => api({ bouncerKeys: ['a key'] }), ControlApiConfigError)
  })

  test('is open on loopback without tokens', async () => {
    const app = api({ tokens: undefined })
    assert.equal((await app.inject({ method: 'POST', url: '/v1/reload' })).statusCode, 200)
    assert.equal((await app.inject({ method: 'POST', url: '/v1/reload', headers: { host: '127.0.0.1:7373', origin: 'http://localhost:7373' } })).statusCode, 200)
  })

  test('without tokens, answers no web page: another origin, or a name rebound to loopback, gets 403', async () => {
    const app = api({ tokens: undefined })
    for (const headers of [
      { host: '127.0.0.1:7373', origin: 'https://attacker.example', 'content-type': 'text/plain' },
      { host: '127.0.0.1:7373', origin: 'null' },
      { host: 'attacker.example:7373' },
    ]) {
      const res = await app.inject({ method: 'POST', url: '/v1/reload', headers, payload: 'x' })
      assert.equal(res.statusCode, 403, JSON.stringify(headers))
      assert.equal(res.json().code, 'BANSTREAM_ERR_FORBIDDEN')
    }
  })
})

describe('API rate limits', () => {
  test('limits each token to its budget and answers 429 BANSTREAM_ERR_RATE_LIMITED', async () => {
    const app = api({ rateLimit: { max: 3, timeWindowMs: 60_000 } })
    const codes = []
    for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'GET', url: '/v1/jails', headers: bearer('reader-t0ken') })).statusCode)
    assert.deepEqual(codes, [200, 200, 200, 429])
    const limited = await app.inject({ method: 'GET', url: '/v1/jails', headers: bearer('reader-t0ken') })
    assert.equal(limited.json().code, 'BANSTREAM_ERR_RATE_LIMITED')
    assert.ok(limited.headers['retry-after'])
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jails', headers: bearer('operator-t0ken') })).statusCode, 200)
  })

  test('counts wrong tokens against the client address, so guessing does not buy a fresh budget', async () => {
    const app = api({ rateLimit: { max: 2, timeWindowMs: 60_000 } })
    const codes = []
    for (const guess of ['a', 'b', 'c']) codes.push((await app.inject({ method: 'GET', url: '/v1/jails', headers: bearer(guess) })).statusCode)
    assert.deepEqual(codes, [401, 401, 429])
  })

  test('never limits the health checks', async () => {
    const app = api({ rateLimit: { max: 1, timeWindowMs: 60_000 } })
    for (let i = 0; i < 3; i++) assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  })
})

describe('API metrics and documentation', () => {
  test('counts requests by route pattern and status, and serves the counters the role added', async () => {
    const registry = new Registry()
    const bans = new Counter({ name: 'banstream_bans_total', help: 'Bans issued.', registers: [registry] })
    bans.inc(2)
    const app = api({ tokens: undefined, metrics: registry })
    await app.inject({ method: 'GET', url: '/v1/jails/sshd' })
    await app.inject({ method: 'GET', url: '/v1/jails/nope' })
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    assert.match(res.body, /banstream_api_requests_total\{method="GET",route="\/v1\/jails\/:jail",status="200"\} 1/)
    assert.match(res.body, /banstream_api_requests_total\{method="GET",route="\/v1\/jails\/:jail",status="404"\} 1/)
    assert.match(res.body, /banstream_bans_total 2/)
  })

  test('serves an OpenAPI document of every route from the route schemas', async () => {
    const doc = (await api().inject({ method: 'GET', url: '/docs/json' })).json()
    assert.equal(doc.openapi.startsWith('3.'), true)
    for (const path of ['/v1/jails', '/v1/bans', '/v1/ips/{ip}', '/v1/events', '/v1/stats/top', '/v1/stats/timeseries', '/v1/actuators', '/v1/decisions/stream', '/v1/decisions', '/readyz']) {
      assert.ok(doc.paths[path], path)
    }
    const kind = doc.paths['/v1/events'].get.parameters.find((p: { name: string }) => p.name === 'kind')
    assert.ok(kind, 'the events query is documented')
  })
})
