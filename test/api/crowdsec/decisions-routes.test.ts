import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { buildApi } from '../../../src/api/build-api.js'
import { goDuration } from '../../../src/api/crowdsec/crowdsec-decision.js'
import { MemoryControlPort } from '../control/memory-control-port.js'

const START = Date.parse('2005-08-14T10:00:00Z')

function setup() {
  let now = START
  const control = new MemoryControlPort([
    { name: 'sshd', file_list: [], ban_time_secs: 14_400 },
    { name: 'recidive', file_list: [], ban_time_secs: -1 },
  ], () => new Date(now))
  const app = buildApi({ control, tokens: undefined, bind: '127.0.0.1', bouncerKeys: ['bouncer-key-1', 'bouncer-key-2'], now: () => now })
  const pull = async (query: string, key = 'bouncer-key-1') => {
    const res = await app.inject({ method: 'GET', url: `/v1/decisions/stream?${query}`, headers: { 'x-api-key': key } })
    assert.equal(res.statusCode, 200, res.body)
    return res.json() as { new: { value: string; duration: string; id: number; scope: string; scenario: string }[]; deleted: { value: string; id: number }[] }
  }
  return { control, app, pull, advance: (ms: number) => { now += ms } }
}

describe('CrowdSec decision stream', () => {
  test('sends every active ban as new at startup, in CrowdSec decision shape', async () => {
    const { control, pull, advance } = setup()
    await control.ban('sshd', ['192.0.2.1'], {})
    advance(10_000)
    const body = await pull('startup=true')
    assert.equal(body.new.length, 1)
    assert.deepEqual({ ...body.new[0], id: 0 }, {
      id: 0, origin: 'banstream', type: 'ban', scope: 'Ip', value: '192.0.2.1', duration: '3h59m50s', scenario: 'banstream/sshd',
    })
    assert.ok(Number.isSafeInteger(body.new[0]!.id) && body.new[0]!.id > 0)
    assert.deepEqual(body.deleted, [])
  })

  test('sends only what changed since the same bouncer last pulled: new bans and deleted ones', async () => {
    const { control, pull } = setup()
    await control.ban('sshd', ['192.0.2.1'], {})
    const first = await pull('startup=true')
    assert.deepEqual(await pull(''), { new: [], deleted: [] })
    await control.ban('sshd', ['192.0.2.2'], {})
    await control.unban(undefined, ['192.0.2.1'])
    const delta = await pull('')
    assert.deepEqual(delta.new.map((d) => d.value), ['192.0.2.2'])
    assert.deepEqual(delta.deleted.map((d) => d.value), ['192.0.2.1'])
    assert.equal(delta.deleted[0]!.id, first.new[0]!.id)
  })

  test('keeps each bouncer its own view', async () => {
    const { control, pull } = setup()
    await pull('startup=true', 'bouncer-key-1')
    await control.ban('sshd', ['192.0.2.1'], {})
    assert.deepEqual((await pull('', 'bouncer-key-1')).new.map((d) => d.value), ['192.0.2.1'])
    assert.deepEqual((await pull('startup=true', 'bouncer-key-2')).new.map((d) => d.value), ['192.0.2.1'])
    assert.deepEqual((await pull('', 'bouncer-key-1')).new, [])
  })

  test('sends a ban that ran out as deleted at the next pull, with no unban made', async () => {
    const { control, pull, advance } = setup()
    await control.ban('sshd', ['192.0.2.1'], {})
    await control.ban('recidive', ['192.0.2.9'], {})
    const first = await pull('startup=true')
    assert.deepEqual(first.new.map((d) => d.value), ['192.0.2.1', '192.0.2.9'])
    assert.deepEqual(await pull(''), { new: [], deleted: [] })
    advance(14_400_000)
    const delta = await pull('')
    assert.deepEqual(delta.new, [])
    assert.deepEqual(delta.deleted.map((d) => [d.value, d.id]), [['192.0.2.1', first.new[0]!.id]])
  })

  test('after a restart, a bouncer is told as deleted the bans lifted since its last pull that are not in force again', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'banstream-pulls-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    let now = START
    const control = new MemoryControlPort([{ name: 'sshd', file_list: [], ban_time_secs: 14_400 }], () => new Date(now))
    const start = () => buildApi({ control, tokens: undefined, bind: '127.0.0.1', bouncerKeys: ['bouncer-key-1'], now: () => now, bouncerPullsFile: join(dir, 'pulls.json') })
    const pull = async (app: ReturnType<typeof start>, query: string) => {
      const res = await app.inject({ method: 'GET', url: `/v1/decisions/stream?${query}`, headers: { 'x-api-key': 'bouncer-key-1' } })
      assert.equal(res.statusCode, 200, res.body)
      return res.json() as { new: { value: string }[]; deleted: { value: string; duration: string }[] }
    }
    let app = start()
    await control.ban('sshd', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.0/24'], {})
    assert.equal((await pull(app, 'startup=true&scopes=ip,range')).new.length, 4)
    now += 10_000
    await app.close()

    // While banstream is down: one unban, one unban and ban again, one ban that begins and ends.
    now += 60_000
    await control.unban(undefined, ['192.0.2.1', '192.0.2.3', '192.0.2.0/24'])
    await control.ban('sshd', ['192.0.2.3', '192.0.2.4'], {})
    await control.unban(undefined, ['192.0.2.4'])
    now += 5_000
    app = start()
    t.after(() => app.close())
    const delta = await pull(app, 'scopes=ip,range')
    assert.deepEqual(delta.new.map((d) => d.value).sort(), ['192.0.2.2', '192.0.2.3'])
    assert.deepEqual(delta.deleted.map((d) => d.value).sort(), ['192.0.2.0/24', '192.0.2.1', '192.0.2.4'])
    assert.equal(delta.deleted.find((d) => d.value === '192.0.2.1')!.duration, '-5s')
    assert.deepEqual(await pull(app, 'scopes=ip,range'), { new: [], deleted: [] })
  })

  test('a lifted ban is told only to bouncers whose filter lets its decision through', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'banstream-pulls-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const control = new MemoryControlPort([{ name: 'sshd', file_list: [], ban_time_secs: 14_400 }], () => new Date(START))
    const start = () => buildApi({ control, tokens: undefined, bind: '127.0.0.1', bouncerKeys: ['bouncer-key-1'], now: () => START, bouncerPullsFile: join(dir, 'pulls.json') })
    let app = start()
    await app.inject({ method: 'GET', url: '/v1/decisions/stream?startup=true', headers: { 'x-api-key': 'bouncer-key-1' } })
    await app.close()
    await control.ban('sshd', ['192.0.2.0/24'], {})
    await control.unban(undefined, ['192.0.2.0/24'])
    app = start()
    t.after(() => app.close())
    const res = await app.inject({ method: 'GET', url: '/v1/decisions/stream', headers: { 'x-api-key': 'bouncer-key-1' } })
    assert.deepEqual(res.json(), { new: [], deleted: [] })
  })

  test('tells a permanent ban as ten years left at every pull, however late', async () => {
    const { control, pull, advance } = setup()
    await control.ban('recidive', ['192.0.2.9'], {})
    await pull('startup=true')
    advance(86_400_000)
    assert.deepEqual((await pull('startup=true')).new.map((d) => d.duration), ['87600h0m0s'])
  })

  test('sends ranges only to bouncers asking for the range scope, as CrowdSec does', async () => {
    const { control, pull } = setup()
    await control.ban('sshd', ['192.0.2.1', '2001:db8::/64'], {})
    assert.deepEqual((await pull('startup=true')).new.map((d) => d.value), ['192.0.2.1'])
    const both = await pull('startup=true&scopes=ip,range')
    assert.deepEqual(both.new.map((d) => [d.scope, d.value]), [['Ip', '192.0.2.1'], ['Range', '2001:db8::/64']])
    assert.deepEqual((await pull('startup=true&scopes=Range')).new.map((d) => d.value), ['2001:db8::/64'])
  })

  test('sends one decision per address banned by two jails: the one that ends last', async () => {
    const { control, pull } = setup()
    await control.ban('sshd', ['192.0.2.1'], {})
    await control.ban('recidive', ['192.0.2.1'], {})
    const body = await pull('startup=true')
    assert.deepEqual(body.new.map((d) => [d.value, d.scenario, d.duration]), [['192.0.2.1', 'banstream/recidive', '87600h0m0s']])
  })

  test('filters by scenario words and origins', async () => {
    const { control, pull } = setup()
    await control.ban('sshd', ['192.0.2.1'], {})
    await control.ban('recidive', ['192.0.2.9'], {})
    assert.deepEqual((await pull('startup=true&scenarios_containing=recidive')).new.map((d) => d.value), ['192.0.2.9'])
    assert.deepEqual((await pull('startup=true&scenarios_not_containing=recidive')).new.map((d) => d.value), ['192.0.2.1'])
    assert.deepEqual((await pull('startup=true&origins=crowdsec,cscli')).new, [])
  })

  test('a filter judges each jail\'s ban of an address, not only the longest: a longer ban of another jail hides nothing', async () => {
    const { control, app, pull } = setup()
    await control.ban('sshd', ['192.0.2.20'], {})
    assert.deepEqual((await pull('startup=true&scenarios_containing=sshd')).new.map((d) => d.value), ['192.0.2.20'])
    await control.ban('recidive', ['192.0.2.20'], {})
    assert.deepEqual(await pull('scenarios_containing=sshd'), { new: [], deleted: [] })
    const res = await app.inject({ method: 'GET', url: '/v1/decisions?ip=192.0.2.20&scenarios_containing=sshd', headers: { 'x-api-key': 'bouncer-key-1' } })
    assert.deepEqual((res.json() as { scenario: string }[]).map((d) => d.scenario), ['banstream/sshd'])
    const all = await app.inject({ method: 'GET', url: '/v1/decisions?ip=192.0.2.20', headers: { 'x-api-key': 'bouncer-key-1' } })
    assert.deepEqual((all.json() as { scenario: string }[]).map((d) => d.scenario), ['banstream/recidive'])
  })

  test("one bouncer pulling with many filters does not make another bouncer's view forgotten", async () => {
    const { control, pull } = setup()
    await control.ban('sshd', ['192.0.2.30'], {})
    assert.deepEqual((await pull('startup=true', 'bouncer-key-1')).new.map((d) => d.value), ['192.0.2.30'])
    for (let i = 0; i < 100; i++) await pull(`scenarios_not_containing=zz${i}`, 'bouncer-key-2')
    await control.unban(undefined, ['192.0.2.30'])
    assert.deepEqual((await pull('', 'bouncer-key-1')).deleted.map((d) => d.value), ['192.0.2.30'])
  })

  test('refuses a wrong bouncer key with 403 and no key with 401', async () => {
    const { app } = setup()
    const wrong = await app.inject({ method: 'GET', url: '/v1/decisions/stream', headers: { 'x-api-key': 'nope' } })
    assert.equal(wrong.statusCode, 403)
    assert.equal(wrong.json().code, 'BANSTREAM_ERR_FORBIDDEN')
    assert.equal((await app.inject({ method: 'GET', url: '/v1/decisions/stream' })).statusCode, 401)
  })

  test('refuses a startup flag that is not a boolean, naming it', async () => {
    const { app } = setup()
    const res = await app.inject({ method: 'GET', url: '/v1/decisions/stream?startup=yes', headers: { 'x-api-key': 'bouncer-key-1' } })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().field, 'querystring/startup')
  })
})

describe('CrowdSec decision lookup', () => {
  test('answers the decisions holding an address, ranges included, and null when none', async () => {
    const { control, app } = setup()
    await control.ban('sshd', ['2001:db8::/64', '192.0.2.1'], {})
    const get = async (query: string) =>
      (await app.inject({ method: 'GET', url: `/v1/decisions?${query}`, headers: { 'x-api-key': 'bouncer-key-2' } }))
    assert.deepEqual((await get('ip=2001:db8::5')).json().map((d: { value: string }) => d.value), ['2001:db8::/64'])
    assert.deepEqual((await get('ip=192.0.2.1')).json().map((d: { value: string }) => d.value), ['192.0.2.1'])
    const none = await get('ip=192.0.2.2')
    assert.equal(none.statusCode, 200)
    assert.equal(none.body, 'null')
    assert.equal((await get('ip=2001:db8::5&contains=false')).body, 'null')
    assert.deepEqual((await get('scope=range')).json().map((d: { value: string }) => d.value), ['2001:db8::/64'])
  })
})

describe('Go durations', () => {
  test('prints whole seconds as Go does, negative ones too', () => {
    assert.deepEqual([0, 999, 1000, 61_000, 3_600_000, 14_390_000, -125_000].map(goDuration), ['0s', '0s', '1s', '1m1s', '1h0m0s', '3h59m50s', '-2m5s'])
  })
})
