import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Decision } from '../../schemas/events/decision.js'
import { diffDecisions, parseDecisionsNdjson } from '../../src/roles/replay-diff.js'
import { replay, replayLines, type ReplayChunk, type ReplayInput, type ReplayResult } from '../../src/roles/replay.js'
import { ATTACKERS, WEEK_START, weekConfig, weekJails, weekLog, writeWeek } from './replay-week.js'

async function run(configDir: string, inputs: ReplayInput[], range: { from?: number; to?: number } = {}): Promise<ReplayResult> {
  return replay({ ...await weekJails(configDir), inputs, ...range })
}

function fixture(t: { after: (fn: () => void) => void }): { dir: string; plain: string; gz: string } {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return { dir, ...writeWeek(dir) }
}

test('a week of log replayed as its logpath bans the known attackers at the failure that reached maxretry, and lifts each ban an hour later', async (t) => {
  const { plain } = fixture(t)
  const config = weekConfig()
  t.after(() => rmSync(config, { recursive: true, force: true }))
  const result = await run(config, [{ path: plain, as: '/var/log/web.log' }])
  const [web] = result.jails
  assert.equal(web!.jail, 'web')
  assert.equal(web!.lines, result.lines)
  assert.equal(result.unrouted_lines, 0)
  assert.deepEqual(web!.failures_by_regex, [{ regex_index: 0, count: 5 + 84 * 4 + 12 }, { regex_index: 1, count: 5 }])
  const iso = (secs: number) => new Date(secs * 1000).toISOString()
  assert.deepEqual(web!.bans.map((b) => [b.ip, b.time, b.ban_time_secs, b.failures]), [
    [ATTACKERS.burst, iso(WEEK_START + 86400 + 3600 + 41), 3600, 5],
    [ATTACKERS.twice, iso(WEEK_START + 4 * 86400 + 600 + 22), 3600, 5],
    [ATTACKERS.twice, iso(WEEK_START + 4 * 86400 + 3 * 3600 + 600 + 22), 3600, 5],
    [ATTACKERS.token, iso(WEEK_START + 5 * 86400 + 900 + 83), 3600, 5],
  ])
  assert.deepEqual(web!.bans[0]!.matches, [1, 11, 21, 31, 41].map((s) => `${iso(WEEK_START + 86400 + 3600 + s).replace('T', ' ').slice(0, 19)} Failed login from ${ATTACKERS.burst}`))
  assert.deepEqual(web!.unbans.map((u) => [u.ip, u.time]), web!.bans.map((b) => [b.ip, iso(Date.parse(b.time) / 1000 + 3600)]))
})

test('failures beyond what memory holds wait in sorted temp files and are decided in the same time order, across files read one after another', async (t) => {
  const config = weekConfig()
  const temp = mkdtempSync(join(tmpdir(), 'banstream-replay-temp-'))
  t.after(() => rmSync(config, { recursive: true, force: true }))
  t.after(() => rmSync(temp, { recursive: true, force: true }))
  const lines = weekLog().trimEnd().split('\n').map((line) => Buffer.from(line))
  // Two rotated files of one log, each in time order, the older read last: every failure of one file is found before any of the other's.
  const files = [lines.filter((_, i) => i % 2 === 1), lines.filter((_, i) => i % 2 === 0)]
  async function* chunks(): AsyncGenerator<ReplayChunk> {
    for (const [n, file] of files.entries()) {
      for (let i = 0; i < file.length; i += 200) {
        const batch = { stream: '/var/log/web.log', host: 'replay', lines: file.slice(i, i + 200), position: { path: `web.log.${n}`, offset: i }, received_at: 0 }
        yield { batches: [batch], done: n * lines.length + i, total: 2 * lines.length }
      }
    }
  }
  const jails = await weekJails(config)
  const inMemory = await replayLines(jails, chunks())
  // One failure in memory: a run per chunk of 200 lines, more than the runs merged at once, so runs are merged into one on the way.
  const spilled = await replayLines({ ...jails, failuresInMemory: 1, tempDir: temp }, chunks())
  assert.deepEqual(spilled, inMemory)
  assert.deepEqual(readdirSync(temp), [])
  const whole = await run(config, [{ path: fixture(t).plain, as: '/var/log/web.log' }])
  const decided = (r: ReplayResult) => r.jails.map((j) => ({ ...j, bans: j.bans.map((b) => [b.ip, b.time, b.failures, b.matches]), unbans: j.unbans.map((u) => [u.ip, u.time]) }))
  assert.deepEqual(decided(spilled), decided(whole))
  assert.equal(spilled.jails[0]!.bans.length, 4)
})

test('a file whose path no jail reads is counted as unrouted and bans nothing', async (t) => {
  const { plain } = fixture(t)
  const config = weekConfig()
  t.after(() => rmSync(config, { recursive: true, force: true }))
  const result = await run(config, [{ path: plain }])
  assert.equal(result.unrouted_lines, result.lines)
  assert.deepEqual(result.jails[0]!.bans, [])
})

test('a .gz file replays as its plain text does', async (t) => {
  const { plain, gz } = fixture(t)
  const config = weekConfig()
  t.after(() => rmSync(config, { recursive: true, force: true }))
  const fromPlain = await run(config, [{ path: plain, as: '/var/log/web.log' }])
  const fromGz = await run(config, [{ path: gz, as: '/var/log/web.log' }])
  const strip = (r: ReplayResult) => JSON.stringify(r).replaceAll(/"event_id":"[^"]*"|"ban_event_id":"[^"]*"/g, '')
  assert.equal(strip(fromGz), strip(fromPlain))
  assert.equal(fromGz.jails[0]!.bans.length, 4)
})

test('--from and --to keep only the failures of the period', async (t) => {
  const { plain } = fixture(t)
  const config = weekConfig()
  t.after(() => rmSync(config, { recursive: true, force: true }))
  const result = await run(config, [{ path: plain, as: '/var/log/web.log' }], { from: WEEK_START + 4 * 86400, to: WEEK_START + 5 * 86400 })
  assert.deepEqual(result.jails[0]!.bans.map((b) => b.ip), [ATTACKERS.twice, ATTACKERS.twice])
  assert.equal(result.jails[0]!.failures, 12 * 4 + 12)
})

test('a candidate jail (no failregex #1, maxretry 4) against the current decisions: the token ban is lost, the slow attacker bans gained, a changed length shown', async (t) => {
  const { plain } = fixture(t)
  const current = weekConfig()
  const candidate = weekConfig('[web]\nfailregex = ^\\s*Failed login from <HOST>$\nmaxretry = 4\n')
  t.after(() => rmSync(current, { recursive: true, force: true }))
  t.after(() => rmSync(candidate, { recursive: true, force: true }))
  const input = [{ path: plain, as: '/var/log/web.log' }]
  const production = await run(current, input)
  // Production banned the burst attacker for 10 minutes (an older bantime), the others for an hour.
  const decisions: Decision[] = production.jails[0]!.bans.map((b) => ({
    type: 'BanIssued', event_id: b.event_id, cause_event_id: 'c', jail: 'web', ip: b.ip, failures: b.failures,
    ban_time_secs: b.ip === ATTACKERS.burst ? 600 : b.ban_time_secs, ban_count: 1, expires_at: b.expires_at, occurred_at: b.time, reason: b.reason, matches: [...b.matches],
  }))
  const [diff] = diffDecisions(await run(candidate, input), decisions, { from: WEEK_START, to: WEEK_START + 7 * 86400, toleranceSecs: () => 600 })
  assert.deepEqual(diff!.lost.map((b) => [b.ip, b.matches.length]), [[ATTACKERS.token, 5]])
  assert.equal(diff!.gained.length, 84)
  assert.ok(diff!.gained.every((b) => b.ip === ATTACKERS.slow && b.failures === 4 && b.matches.length === 4))
  assert.deepEqual(diff!.changed.map((c) => [c.ip, c.actual_ban_time_secs, c.ban_time_secs]), [[ATTACKERS.burst, 600, 3600]])
  assert.equal(diff!.same, 2)
})

test('the diff pairs each replayed ban with the earliest unpaired production ban of its address within findtime', () => {
  const at = (secs: number) => new Date((WEEK_START + secs) * 1000).toISOString()
  const ip = '203.0.113.7'
  const replayed = [50, 60, 70, 4990].map((secs) => ({ ip, time: at(secs), ban_time_secs: 600, reason: 'threshold' as const, failures: 5, matches: [], event_id: `r${secs}`, expires_at: null }))
  const actual: Decision[] = [0, 100, 5000, 9000].map((secs) => ({
    type: 'BanIssued', event_id: `a${secs}`, cause_event_id: 'c', jail: 'web', ip, failures: 5, ban_time_secs: secs === 100 ? 1200 : 600,
    ban_count: 1, expires_at: null, occurred_at: at(secs), reason: 'threshold', matches: [],
  }))
  const result: ReplayResult = { first_failure_at: null, last_failure_at: null, lines: 0, unrouted_lines: 0, jails: [{ jail: 'web', lines: 0, failures: 0, failures_by_regex: [], bans: replayed, unbans: [] }] }
  const [diff] = diffDecisions(result, actual, { from: WEEK_START, to: WEEK_START + 86400, toleranceSecs: () => 600 })
  assert.deepEqual(diff!.changed.map((c) => [c.time, c.actual_time]), [[at(60), at(100)]])
  assert.equal(diff!.same, 2)
  assert.deepEqual(diff!.gained.map((b) => b.time), [at(70)])
  assert.deepEqual(diff!.lost.map((b) => b.time), [at(9000)])
})

test('decisions NDJSON: ban and lift lines are read, other lines counted as skipped', () => {
  const ban = { type: 'BanIssued', event_id: 'b', cause_event_id: 'c', jail: 'web', ip: '203.0.113.10', failures: 5, ban_time_secs: 600, ban_count: 1, expires_at: '2026-11-10T01:10:41.000Z', occurred_at: '2026-11-10T01:00:41.000Z', reason: 'threshold', matches: [] }
  const lift = { type: 'BanLifted', event_id: 'l', ban_event_id: 'b', jail: 'web', ip: '203.0.113.10', occurred_at: '2026-11-10T01:10:41.000Z', reason: 'expired' }
  const { decisions, skipped } = parseDecisionsNdjson(`${JSON.stringify(ban)}\n${JSON.stringify(lift)}\nnot json\n{"type":"BanIssued"}\n\n`)
  assert.deepEqual(decisions, [ban, lift])
  assert.equal(skipped, 2)
})
