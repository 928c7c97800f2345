import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { eventRow } from '../../schemas/clickhouse/rows.js'
import { eventTable } from '../../schemas/clickhouse/tables.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { Topics } from '../../schemas/topics.js'
import { buildApi } from '../../src/api/build-api.js'
import { MAX_CANDIDATE_JAILS } from '../../src/api/replay/replay-request.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { replay, type ReplayResult } from '../../src/roles/replay.js'
import { ChdbStore } from '../../src/store/chdb-store.js'
import { migrateStore } from '../../src/store/migrate.js'
import { MemoryControlPort } from './control/memory-control-port.js'
import { ATTACKERS, WEEK_END, WEEK_START, weekConfig, weekJails, weekLineRows, weekRecords, writeWeek } from '../roles/replay-week.js'

const iso = (secs: number) => new Date(secs * 1000).toISOString()
const WEEK = { from: iso(WEEK_START), to: iso(WEEK_END) }
const OPERATE = { authorization: 'Bearer operator-t0ken' }
const READ = { authorization: 'Bearer reader-t0ken' }
const TOKENS = [{ token: 'reader-t0ken', role: 'read' }, { token: 'operator-t0ken', role: 'operate' }] as const
/** The candidate: the filter without its "Invalid token" failregex, and maxretry 4. */
const CANDIDATE = {
  jail_local: '[web]\nmaxretry = 4\n',
  filters: { web: '[Definition]\nfailregex = ^\\s*Failed login from <HOST>$\n' },
}

/** The current configuration's replay of the week: the decisions production made, as the history holds them. */
async function productionWeek(config: string, file: string): Promise<ReplayResult> {
  return replay({ ...await weekJails(config), inputs: [{ path: file, as: '/var/log/web.log' }], from: WEEK_START, to: WEEK_END })
}

function bansOf(result: ReplayResult): BanIssued[] {
  return result.jails.flatMap((jail) => jail.bans.map((b): BanIssued => ({
    type: 'BanIssued', event_id: b.event_id, cause_event_id: b.event_id, jail: jail.jail, ip: b.ip, failures: b.failures,
    ban_time_secs: b.ban_time_secs, ban_count: 1, expires_at: b.expires_at, occurred_at: b.time, reason: b.reason, matches: [...b.matches],
  })))
}

describe('replay routes', () => {
  let dir: string
  let logs: string
  let config: string
  let store: ChdbStore
  let log: EmbeddedLog
  let app: FastifyInstance
  let production: ReplayResult

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'banstream-replay-api-'))
    logs = join(dir, 'logs')
    mkdirSync(logs)
    writeWeek(logs)
    symlinkSync('/etc/hostname', join(logs, 'escape.log'))
    config = weekConfig()
    production = await productionWeek(config, join(logs, 'web.log'))
    store = ChdbStore.open(join(dir, 'store'))
    await migrateStore(store, { failures_days: 0, decisions_days: 0, actuations_days: 0, lines_days: 0 })
    await store.insert('lines', weekLineRows().flat())
    await store.insert('decisions', bansOf(production).map((b) => eventRow(b as unknown as Record<string, unknown>, eventTable('decisions').columns)))
    log = await EmbeddedLog.open({ dataDir: join(dir, 'log'), fsync: 'never', retentionMs: Infinity, report: () => undefined })
    await log.createTopic(Topics.lines.name, 2)
    await log.append(Topics.lines.name, weekRecords())
    const control = new MemoryControlPort([{ name: 'web', file_list: ['/var/log/web.log'], ban_time_secs: 3600 }], () => new Date(WEEK_END * 1000))
    app = buildApi({
      control, store, tokens: TOKENS, bind: '127.0.0.1', rateLimit: false, now: () => WEEK_END * 1000,
      replay: { configDir: config, dirs: [logs], log },
    })
  })
  after(async () => {
    await app.close()
    await store.close()
    await log.close()
    rmSync(dir, { recursive: true, force: true })
    rmSync(config, { recursive: true, force: true })
  })

  const post = (payload: object, headers: Record<string, string> = OPERATE) => app.inject({ method: 'POST', url: '/v1/replay', headers, payload })

  /** Polls the job until it is finished, letting the event loop run the replay between two reads. */
  async function finished(id: string) {
    for (;;) {
      const res = await app.inject({ method: 'GET', url: `/v1/replay/${id}`, headers: READ })
      assert.equal(res.statusCode, 200, res.body)
      const job = res.json()
      if (job.state === 'done' || job.state === 'failed') return job
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  async function run(payload: object) {
    const res = await post(payload)
    assert.equal(res.statusCode, 202, res.body)
    assert.equal(res.headers['location'], `/v1/replay/${res.json().id}`)
    return finished(res.json().id)
  }

  test('a candidate filter and jail.local over a week of files: the diff against the history lists the bans lost and gained', async () => {
    const job = await run({ config: CANDIDATE, jails: ['web'], source: { files: [join(logs, 'web.log')], as: '/var/log/web.log' }, ...WEEK, diff: true })
    assert.equal(job.state, 'done', job.error)
    const [web] = job.diff
    assert.equal(web.jail, 'web')
    assert.deepEqual(web.lost.map((b: { ip: string; time: string }) => [b.ip, b.time]), [[ATTACKERS.token, '2026-11-14T00:16:23.000Z']])
    assert.equal(web.gained.length, 84)
    assert.ok(web.gained.every((b: { ip: string; failures: number }) => b.ip === ATTACKERS.slow && b.failures === 4))
    assert.match(web.gained[0].matches[0], /^2026-11-09 00:00:07 Failed login from 203\.0\.113\.20$/)
    assert.equal(web.same, 3)
    assert.equal(job.progress.lines, job.result.lines)
    assert.equal(job.progress.eta_s, 0)
  })

  test('without a candidate the job gives the result of banstream replay --json over the same files', async () => {
    const job = await run({ source: { files: [join(logs, 'web.lo?')], as: '/var/log/web.log' }, ...WEEK })
    assert.equal(job.state, 'done', job.error)
    assert.deepEqual(job.result, JSON.parse(JSON.stringify(production)))
    assert.equal(job.diff, undefined)
  })

  test("the log's lines topic between two times gives the bans of the file replay", async () => {
    const job = await run({ source: { log: WEEK } })
    assert.equal(job.state, 'done', job.error)
    const bans = (r: ReplayResult) => r.jails[0]!.bans.map((b) => [b.ip, b.time, b.matches])
    assert.deepEqual(bans(job.result), bans(production))
  })

  test('the lines the history kept between two times give the bans of the file replay', async () => {
    const job = await run({ source: { history: WEEK } })
    assert.equal(job.state, 'done', job.error)
    const bans = (r: ReplayResult) => r.jails[0]!.bans.map((b) => [b.ip, b.time, b.matches])
    assert.deepEqual(bans(job.result), bans(production))
  })

  test('a refused request is a 400 naming the field', async () => {
    const source = { files: [join(logs, 'web.log')] }
    for (const [payload, field] of [
      [{}, 'body/source'],
      [{ source: { files: [] } }, 'body/source/files'],
      [{ source, from: 'yesterday' }, 'body/from'],
      [{ source, from: WEEK.to, to: WEEK.from }, 'body/from'],
      [{ source, jails: ['mail'] }, 'body/jails/0'],
      [{ source, config: { jail_local: 'x'.repeat(256 * 1024 + 1) } }, 'body/config/jail_local'],
      [{ source, config: { filters: { '../jail': '[Definition]' } } }, 'body/config/filters/../jail'],
      [{ source, extra: 1 }, 'body/extra'],
      [{ source: { files: ['web.log'] } }, 'body/source/files/0'],
      [{ source: { files: [join(logs, 'none-*.log')] } }, 'body/source/files/0'],
    ] as const) {
      const res = await post(payload)
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload).slice(0, 80)}: ${res.body}`)
      assert.equal(res.json().field, field, res.body)
    }
  })

  test('a file outside the allowed directory is refused, through .., a glob or a symbolic link alike', async () => {
    for (const files of [['/etc/hostname'], [join(logs, '..', 'x')], ['/etc/*'], [join(logs, 'escape.log')], [join(logs, 'web.log'), join(logs, '*')]]) {
      const res = await post({ source: { files } })
      assert.equal(res.statusCode, 400, res.body)
      assert.equal(res.json().field, `body/source/files/${files.length - 1}`)
      assert.match(res.json().message, /not inside a directory this banstream allows replaying from/)
    }
  })

  test('a candidate may include only files of the configuration', async () => {
    const source = { files: [join(logs, 'web.log')] }
    for (const [config, field] of [
      [{ jail_local: '[INCLUDES]\nbefore = /etc/hostname\n' }, 'body/config/jail_local'],
      [{ filters: { web: '[INCLUDES]\nafter = ../../../etc/hostname\n[Definition]\nfailregex = x <HOST>\n' } }, 'body/config/filters/web'],
    ] as const) {
      const res = await post({ source, config })
      assert.equal(res.statusCode, 400, res.body)
      assert.equal(res.json().field, field)
      assert.match(res.json().message, /\[INCLUDES\] (before|after) may name only files inside the configuration/)
    }
  })

  test('a candidate names filters of filter.d: a filter given as a file path is refused without the file being read', async () => {
    for (const jailLocal of ['[web]\nfilter = /etc/passwd\n', '[web]\nsecret = /etc/passwd\nfilter = %(secret)s\n']) {
      const res = await post({ config: { jail_local: jailLocal }, source: { files: [join(logs, 'web.log')] } })
      assert.equal(res.statusCode, 400, res.body)
      assert.equal(res.json().field, 'body/config')
      assert.match(res.json().message, /jail 'web': its filter must name a filter of filter\.d, not a file/)
      assert.doesNotMatch(res.body, /root:/)
    }
  })

  test('a candidate enabling more jails than a request may compile is refused before any is compiled', async () => {
    // With the configuration's own jail web, one more than the bound.
    const sections = Array.from({ length: MAX_CANDIDATE_JAILS }, (_, i) => `[web${i}]\nenabled = true\nfilter = web\nlogpath = /var/log/web.log\n`).join('')
    const res = await post({ config: { jail_local: sections }, source: { files: [join(logs, 'web.log')] } })
    assert.equal(res.statusCode, 400, res.body)
    assert.equal(res.json().field, 'body/config')
    assert.match(res.json().message, new RegExp(`enables ${MAX_CANDIDATE_JAILS + 1} jails; a candidate may enable at most ${MAX_CANDIDATE_JAILS}`))
  })

  test('a replay needs a token, and an operate one to start it', async () => {
    const source = { files: [join(logs, 'web.log')] }
    const anonymous = await post({ source }, {})
    assert.equal(anonymous.statusCode, 401)
    const reader = await post({ source }, READ)
    assert.deepEqual([reader.statusCode, reader.json().code], [403, 'BANSTREAM_ERR_FORBIDDEN'])
    assert.equal((await app.inject({ method: 'GET', url: '/v1/replay/x' })).statusCode, 401)
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/replay/x', headers: READ })).json().code, 'BANSTREAM_ERR_NOT_FOUND')
  })

  test('the OpenAPI document describes both routes', async () => {
    await app.ready()
    const paths = app.swagger().paths ?? {}
    assert.ok(paths['/v1/replay']?.post)
    assert.ok(paths['/v1/replay/{id}']?.get)
  })
})

test('without replay settings the routes answer 503 BANSTREAM_ERR_NO_REPLAY', async (t) => {
  const app = buildApi({ control: new MemoryControlPort([], () => new Date()), tokens: undefined, bind: '127.0.0.1' })
  t.after(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/v1/replay', payload: { source: { files: ['/var/log/x'] } } })
  assert.deepEqual([res.statusCode, res.json().code], [503, 'BANSTREAM_ERR_NO_REPLAY'])
})
