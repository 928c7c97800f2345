import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { InjectOptions } from 'fastify'
import { ControlApiConfigError } from '../../../src/api/api-settings.js'
import { buildApi } from '../../../src/api/build-api.js'
import type { ControlPort } from '../../../src/api/control/control-port.js'
import { MemoryControlPort } from './memory-control-port.js'

const NOW = new Date('2005-08-14T10:00:00Z')

function jails(): MemoryControlPort {
  return new MemoryControlPort([
    { name: 'sshd', file_list: ['/var/log/auth.log'], ignoreip: ['127.0.0.1/8', '198.51.100.0/24'], ban_time_secs: 600, currently_failed: 8, total_failed: 26 },
    { name: 'postfix', file_list: ['/var/log/mail.log', '/var/log/mail.warn'], ban_time_secs: -1 },
  ], () => NOW)
}

/** The API with only the control routes' part in play: no history store, one operate token or none. */
function controlApi(opts: { port: ControlPort; bind: string; token?: string }) {
  return buildApi({ control: opts.port, bind: opts.bind, tokens: opts.token === undefined ? undefined : [{ token: opts.token, role: 'operate' }] })
}

function api(port: ControlPort = jails(), token?: string) {
  return controlApi({ port, bind: '127.0.0.1', ...(token === undefined ? {} : { token }) })
}

describe('control API routes', () => {
  test('lists the running jails in configuration order', async () => {
    const res = await api().inject({ method: 'GET', url: '/v1/jails' })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { jails: ['sshd', 'postfix'] })
  })

  test("answers a jail's status with its counters, files and banned addresses", async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.1', '192.0.2.7'], {})
    const res = await api(port).inject({ method: 'GET', url: '/v1/jails/sshd' })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), {
      name: 'sshd',
      filter: { currently_failed: 8, total_failed: 26, file_list: ['/var/log/auth.log'] },
      actions: { currently_banned: 2, total_banned: 2, banned_ip_list: ['192.0.2.1', '192.0.2.7'] },
    })
  })

  test('answers 404 BANSTREAM_ERR_UNKNOWN_JAIL for the status of a jail that is not running', async () => {
    const res = await api().inject({ method: 'GET', url: '/v1/jails/apache-auth' })
    assert.equal(res.statusCode, 404)
    assert.deepEqual(res.json(), {
      statusCode: 404, code: 'BANSTREAM_ERR_UNKNOWN_JAIL', error: 'Not Found',
      message: "jail 'apache-auth' does not exist", field: 'params/jail',
    })
  })

  test('bans addresses and answers one result per address in request order', async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.7'], {})
    const res = await api(port).inject({
      method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['192.0.2.1', '192.0.2.7', '198.51.100.20', '2001:db8::/64'] },
    })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { results: [
      { ip: '192.0.2.1', result: 'banned' },
      { ip: '192.0.2.7', result: 'already banned' },
      { ip: '198.51.100.20', result: 'ignored' },
      { ip: '2001:db8::/64', result: 'banned' },
    ] })
    assert.deepEqual((await port.status('sshd'))!.actions.banned_ip_list, ['192.0.2.7', '192.0.2.1', '2001:db8::/64'])
  })

  test('force bans an address the jail ignores', async () => {
    const port = jails()
    const res = await api(port).inject({ method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['198.51.100.20'], force: true } })
    assert.deepEqual(res.json(), { results: [{ ip: '198.51.100.20', result: 'banned' }] })
  })

  test('hands the jails each address in its canonical spelling', async () => {
    const port = jails()
    const res = await api(port).inject({
      method: 'POST', url: '/v1/jails/postfix/bans', payload: { ips: ['2001:DB8:0:0::1', '192.0.2.77/24', '::ffff:192.0.2.9'] },
    })
    assert.deepEqual(res.json().results.map((r: { ip: string }) => r.ip), ['2001:db8::1', '192.0.2.0/24', '192.0.2.9'])
    assert.deepEqual(port.events.map((e) => e.ip), ['2001:db8::1', '192.0.2.0/24', '192.0.2.9'])
  })

  test('lists every active ban of every jail with its expiry, null when permanent', async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.1'], {})
    await port.ban('postfix', ['203.0.113.5'], {})
    const res = await api(port).inject({ method: 'GET', url: '/v1/bans' })
    assert.deepEqual(res.json(), { bans: [
      { jail: 'sshd', ip: '192.0.2.1', expires_at: '2005-08-14T10:10:00.000Z' },
      { jail: 'postfix', ip: '203.0.113.5', expires_at: null },
    ] })
  })

  test('unbans one address in one jail, the address URL-encoded in the path', async () => {
    const port = jails()
    await port.ban('sshd', ['2001:db8::/64', '192.0.2.1'], {})
    await port.ban('postfix', ['2001:db8::/64'], {})
    const res = await api(port).inject({ method: 'DELETE', url: `/v1/jails/sshd/bans/${encodeURIComponent('2001:DB8::/64')}` })
    assert.deepEqual(res.json(), { unbanned: 1 })
    assert.deepEqual((await port.status('sshd'))!.actions.banned_ip_list, ['192.0.2.1'])
    assert.deepEqual((await port.status('postfix'))!.actions.banned_ip_list, ['2001:db8::/64'])
  })

  test('counts 0 when unbanning an address that is not banned, as fail2ban-client does', async () => {
    const res = await api().inject({ method: 'DELETE', url: '/v1/jails/sshd/bans/192.0.2.1' })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { unbanned: 0 })
  })

  test('refuses to ban or unban in a jail that is not running, and nothing happens', async () => {
    const port = jails()
    const ban = await api(port).inject({ method: 'POST', url: '/v1/jails/dovecot/bans', payload: { ips: ['192.0.2.1'] } })
    const unban = await api(port).inject({ method: 'DELETE', url: '/v1/jails/dovecot/bans/192.0.2.1' })
    assert.equal(ban.json().code, 'BANSTREAM_ERR_UNKNOWN_JAIL')
    assert.equal(unban.statusCode, 404)
    assert.deepEqual(port.events, [])
  })

  test('ends the bans of the given addresses in every jail', async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.1', '192.0.2.2', '192.0.2.3'], {})
    await port.ban('postfix', ['192.0.2.1'], {})
    const res = await api(port).inject({ method: 'DELETE', url: '/v1/bans?ip=192.0.2.1&ip=192.0.2.3' })
    assert.deepEqual(res.json(), { unbanned: 3 })
    assert.deepEqual((await port.banned()).map(({ jail, ip, expires_at }) => ({ jail, ip, expires_at })), [{ jail: 'sshd', ip: '192.0.2.2', expires_at: '2005-08-14T10:10:00.000Z' }])
  })

  test('ends every ban of every jail when no address is given', async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.1', '192.0.2.2'], {})
    await port.ban('postfix', ['192.0.2.1'], {})
    const res = await api(port).inject({ method: 'DELETE', url: '/v1/bans' })
    assert.deepEqual(res.json(), { unbanned: 3 })
    assert.deepEqual(await port.banned(), [])
  })

  test('POST /v1/bans bans in the jail named in the body', async () => {
    const port = jails()
    const res = await api(port).inject({ method: 'POST', url: '/v1/bans', payload: { jail: 'sshd', ips: ['192.0.2.9'] } })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { results: [{ ip: '192.0.2.9', result: 'banned' }] })
    const unknown = await api(port).inject({ method: 'POST', url: '/v1/bans', payload: { jail: 'dovecot', ips: ['192.0.2.9'] } })
    assert.equal(unknown.statusCode, 404)
  })

  test('DELETE /v1/bans/{ip} ends that address\'s bans in every jail', async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.1', '192.0.2.2'], {})
    await port.ban('postfix', ['192.0.2.1'], {})
    const res = await api(port).inject({ method: 'DELETE', url: '/v1/bans/192.0.2.1' })
    assert.deepEqual(res.json(), { unbanned: 2 })
    assert.deepEqual((await port.banned()).map((b) => [b.jail, b.ip]), [['sshd', '192.0.2.2']])
  })

  test('reloads the jails', async () => {
    const port = jails()
    const res = await api(port).inject({ method: 'POST', url: '/v1/reload' })
    assert.deepEqual(res.json(), { status: 'OK' })
    assert.equal(port.reloads, 1)
  })

  test('answers the health check', async () => {
    const res = await api().inject({ method: 'GET', url: '/healthz' })
    assert.deepEqual(res.json(), { status: 'ok' })
  })

  test('answers 404 BANSTREAM_ERR_NOT_FOUND for an unknown route', async () => {
    const res = await api().inject({ method: 'GET', url: '/v1/jail' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'BANSTREAM_ERR_NOT_FOUND')
  })

  test('answers 400 BANSTREAM_ERR_MALFORMED_BODY for a body that is not JSON', async () => {
    const res = await api().inject({
      method: 'POST', url: '/v1/jails/sshd/bans', headers: { 'content-type': 'application/json' }, payload: '{"ips": [',
    })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().code, 'BANSTREAM_ERR_MALFORMED_BODY')
  })

  test('answers 415 for a body that is not JSON by content type', async () => {
    const res = await api().inject({
      method: 'POST', url: '/v1/jails/sshd/bans', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'ips=192.0.2.1',
    })
    assert.equal(res.statusCode, 415)
    assert.equal(res.json().code, 'BANSTREAM_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  test('answers 414 BANSTREAM_ERR_URI_TOO_LONG for an overlong path parameter', async () => {
    const res = await api().inject({ method: 'GET', url: `/v1/jails/${'x'.repeat(300)}` })
    assert.equal(res.statusCode, 414)
    assert.equal(res.json().code, 'BANSTREAM_ERR_URI_TOO_LONG')
  })

  test('answers 400 BANSTREAM_ERR_BAD_URL for a path that does not decode', async () => {
    const res = await api().inject({ method: 'DELETE', url: '/v1/jails/sshd/bans/192.0.2.1%E0%A4%A' })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().code, 'BANSTREAM_ERR_BAD_URL')
  })

  test('answers 500 BANSTREAM_ERR_INTERNAL without the failure detail when the jails fail', async () => {
    const port = jails()
    port.reload = async () => { throw new Error('/etc/banstream/jail.local: secret detail') }
    const res = await api(port).inject({ method: 'POST', url: '/v1/reload' })
    assert.equal(res.statusCode, 500)
    assert.equal(res.json().code, 'BANSTREAM_ERR_INTERNAL')
    assert.doesNotMatch(res.body, /secret/)
  })
})

const HOSTILE_JAILS = ['a;b', "sshd' OR '1'='1", '$(reboot)', 'sshd jail', 'sshd\nbanip', '`id`', 'sshd|x', 'x'.repeat(129), 'sshd/../reload']
const HOSTILE_IPS = ['192.0.2.1;rm -rf /', '192.0.2.1 ', '$(id)', '192.0.2.1/33', '01.2.3.4', '192.0.2.256', 'fe80::1%eth0',
  '192.0.2.1\n192.0.2.2', '::ffff:192.0.2.1/200', '2001:db8::/1a', '1'.repeat(65), 'localhost', '-j ACCEPT', '192.0.2.1,192.0.2.2']

async function rejects(port: MemoryControlPort, request: InjectOptions, code: string, field: string) {
  const res = await api(port).inject(request)
  const body = res.json()
  assert.equal(res.statusCode, 400, `${JSON.stringify(request)}: ${res.body}`)
  assert.equal(body.code, code, `${JSON.stringify(request)}: ${res.body}`)
  assert.equal(body.field, field, `${JSON.stringify(request)}: ${res.body}`)
}

describe('control API validation', () => {
  test('rejects hostile jail names in every route that takes one, naming params/jail', async () => {
    const port = jails()
    for (const jail of HOSTILE_JAILS) {
      const path = `/v1/jails/${encodeURIComponent(jail)}`
      await rejects(port, { method: 'GET', url: path }, 'BANSTREAM_ERR_INVALID_JAIL', 'params/jail')
      await rejects(port, { method: 'POST', url: `${path}/bans`, payload: { ips: ['192.0.2.1'] } }, 'BANSTREAM_ERR_INVALID_JAIL', 'params/jail')
      await rejects(port, { method: 'DELETE', url: `${path}/bans/192.0.2.1` }, 'BANSTREAM_ERR_INVALID_JAIL', 'params/jail')
    }
    assert.deepEqual(port.events, [])
  })

  test('rejects hostile addresses in the ban body, naming the item', async () => {
    const port = jails()
    for (const ip of [...HOSTILE_IPS, 5, null, '']) {
      await rejects(port, { method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['192.0.2.1', ip] } }, 'BANSTREAM_ERR_INVALID_IP', 'body/ips/1')
    }
    assert.deepEqual(port.events, [])
  })

  test('rejects hostile addresses in the unban path, naming params/ip', async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.1'], {})
    for (const ip of HOSTILE_IPS) {
      await rejects(port, { method: 'DELETE', url: `/v1/jails/sshd/bans/${encodeURIComponent(ip)}` }, 'BANSTREAM_ERR_INVALID_IP', 'params/ip')
      await rejects(port, { method: 'DELETE', url: `/v1/bans/${encodeURIComponent(ip)}` }, 'BANSTREAM_ERR_INVALID_IP', 'params/ip')
    }
    assert.equal(port.events.length, 1)
  })

  test('rejects hostile addresses in the unban query, naming the item', async () => {
    const port = jails()
    await port.ban('sshd', ['192.0.2.1'], {})
    for (const ip of HOSTILE_IPS) {
      const q = encodeURIComponent(ip)
      await rejects(port, { method: 'DELETE', url: `/v1/bans?ip=${q}` }, 'BANSTREAM_ERR_INVALID_IP', 'querystring/ip')
      await rejects(port, { method: 'DELETE', url: `/v1/bans?ip=192.0.2.1&ip=${q}` }, 'BANSTREAM_ERR_INVALID_IP', 'querystring/ip/1')
    }
    assert.equal(port.events.length, 1)
  })

  test('rejects a force flag that is not a boolean, naming body/force', async () => {
    for (const force of ['true', 1, null, ['yes']]) {
      await rejects(jails(), { method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['198.51.100.20'], force } }, 'BANSTREAM_ERR_INVALID_REQUEST', 'body/force')
    }
  })

  test('rejects a ban body without addresses, naming body/ips', async () => {
    for (const payload of [{}, { ips: [] }, { ips: '192.0.2.1' }]) {
      await rejects(jails(), { method: 'POST', url: '/v1/jails/sshd/bans', payload }, 'BANSTREAM_ERR_INVALID_REQUEST', 'body/ips')
    }
  })

  test('rejects unknown fields instead of dropping them, naming the field', async () => {
    await rejects(jails(), { method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['192.0.2.1'], bantime: -1 } }, 'BANSTREAM_ERR_INVALID_REQUEST', 'body/bantime')
    await rejects(jails(), { method: 'DELETE', url: '/v1/bans?all=1' }, 'BANSTREAM_ERR_INVALID_REQUEST', 'querystring/all')
  })
})

describe('control API authentication', () => {
  test('answers without a token on loopback when none is configured', async () => {
    const res = await api().inject({ method: 'GET', url: '/v1/jails' })
    assert.equal(res.statusCode, 200)
  })

  test('enforces a configured token on loopback', async () => {
    const app = api(jails(), 's3cr3t-t0ken')
    const missing = await app.inject({ method: 'GET', url: '/v1/jails' })
    const wrong = await app.inject({ method: 'GET', url: '/v1/jails', headers: { authorization: 'Bearer s3cr3t-t0keN' } })
    const basic = await app.inject({ method: 'GET', url: '/v1/jails', headers: { authorization: 'Basic czNjcjN0LXQwa2Vu' } })
    const right = await app.inject({ method: 'GET', url: '/v1/jails', headers: { authorization: 'Bearer s3cr3t-t0ken' } })
    for (const res of [missing, wrong, basic]) {
      assert.equal(res.statusCode, 401)
      assert.equal(res.json().code, 'BANSTREAM_ERR_UNAUTHORIZED')
    }
    assert.deepEqual(right.json(), { jails: ['sshd', 'postfix'] })
  })

  test('guards every /v1 route, commands included, when a token is configured', async () => {
    const port = jails()
    const app = api(port, 's3cr3t-t0ken')
    const requests = [
      { method: 'GET', url: '/v1/jails/sshd' }, { method: 'GET', url: '/v1/bans' },
      { method: 'POST', url: '/v1/jails/sshd/bans', payload: { ips: ['192.0.2.1'] } },
      { method: 'DELETE', url: '/v1/jails/sshd/bans/192.0.2.1' }, { method: 'DELETE', url: '/v1/bans' }, { method: 'POST', url: '/v1/reload' },
    ] as const
    for (const request of requests) assert.equal((await app.inject(request)).statusCode, 401, request.url)
    assert.deepEqual(port.events, [])
    assert.equal(port.reloads, 0)
  })

  test('keeps the health check open when a token is configured', async () => {
    const res = await api(jails(), 's3cr3t-t0ken').inject({ method: 'GET', url: '/healthz' })
    assert.equal(res.statusCode, 200)
  })

  test('refuses to start beyond loopback without a token, saying what to do', () => {
    for (const bind of ['0.0.0.0', '::', '192.0.2.10', '2001:db8::1', 'api.example.net']) {
      assert.throws(() => controlApi({ port: jails(), bind }), (err: unknown) => {
        assert.ok(err instanceof ControlApiConfigError)
        assert.equal(err.code, 'BANSTREAM_ERR_TOKEN_REQUIRED')
        assert.match(err.message, new RegExp(`listens on ${bind.replace(/\./g, '\\.')}, beyond this host: set a bearer token`))
        return true
      })
      assert.throws(() => controlApi({ port: jails(), bind, token: '' }), ControlApiConfigError)
    }
  })

  test('starts beyond loopback with a token and enforces it', async () => {
    const app = controlApi({ port: jails(), bind: '0.0.0.0', token: 'fleet-token' })
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jails' })).statusCode, 401)
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jails', headers: { authorization: 'Bearer fleet-token' } })).statusCode, 200)
  })

  test('treats every loopback spelling as loopback', () => {
    for (const bind of ['127.0.0.1', '127.3.2.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      assert.doesNotThrow(() => controlApi({ port: jails(), bind }), bind)
    }
  })

  test('refuses a token that cannot travel in an Authorization header unaltered', () => {
    for (const token of [' padded ', 'two words', 'line\nbreak']) {
      assert.throws(() => controlApi({ port: jails(), bind: '127.0.0.1', token }), ControlApiConfigError)
    }
  })
})
