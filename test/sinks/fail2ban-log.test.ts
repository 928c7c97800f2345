import assert from 'node:assert/strict'
import { mkdtemp, readFile, rename, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { loadFilter } from '../../src/config/filter-config.js'
import { compileFilter } from '../../src/filters/compiled-filter.js'
import { FilterMatcher } from '../../src/filters/filter-matcher.js'
import { banLength, banLine, Fail2banLog, foundLine, formatLogLine, increaseBanLine, unbanLine } from '../../sinks/fail2ban-log.js'

const AT = Date.UTC(2026, 10, 22, 10, 0, 0, 123)
const OPTS = { pid: 1234, time_zone: 'UTC' }

function failure(jail: string, ip: string): FailureDetected {
  return {
    type: 'FailureDetected', event_id: `f-${jail}-${ip}`, jail, ip, host: 'mx1', matches: ['x'],
    occurred_at: '2026-11-22T09:59:58.000Z', source: '/var/log/auth.log', regex_index: 0,
  }
}

function ban(jail: string, ip: string, reason: BanIssued['reason'] = 'threshold'): BanIssued {
  return {
    type: 'BanIssued', event_id: `b-${jail}-${ip}`, cause_event_id: `f-${jail}-${ip}`, jail, ip, failures: 5,
    ban_time_secs: 600, ban_count: 1, expires_at: '2026-11-22T10:10:00.000Z', occurred_at: '2026-11-22T10:00:00.000Z',
    reason, matches: [],
  }
}

function lift(jail: string, ip: string): BanLifted {
  return {
    type: 'BanLifted', event_id: `l-${jail}-${ip}`, ban_event_id: `b-${jail}-${ip}`, jail, ip,
    occurred_at: '2026-11-22T10:10:00.000Z', reason: 'expired',
  }
}

function recidive(): (line: string) => string | null | undefined {
  const def = loadFilter(join(process.cwd(), 'config/filter.d'), 'recidive')
  const m = new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => AT / 1000 }))
  return (line) => m.processLine(Buffer.from(line)).failures[0]?.host
}

async function tempLog(): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-f2blog-'))
  return { dir, path: join(dir, 'banstream.log') }
}

test('lines are laid out as fail2ban.log lays them out', () => {
  assert.equal(banLine(AT, ban('sshd', '192.0.2.1'), OPTS), '2026-11-22 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 192.0.2.1')
  assert.equal(foundLine(AT, failure('sshd', '192.0.2.1'), OPTS), '2026-11-22 10:00:00,123 fail2ban.filter         [1234]: INFO    [sshd] Found 192.0.2.1 - 2026-11-22 09:59:58')
  assert.equal(unbanLine(AT, lift('sshd', '2001:db8::/64'), OPTS), '2026-11-22 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Unban 2001:db8::/64')
})

test('a Found line shows the time the failure was counted at, where a running service counted it as now', () => {
  assert.match(foundLine(AT, failure('sshd', '192.0.2.1'), OPTS, AT), /\[sshd\] Found 192\.0\.2\.1 - 2026-11-22 10:00:00$/)
})

test('a prolonged ban is written as "already banned"', () => {
  assert.match(banLine(AT, ban('sshd', '192.0.2.1', 'prolonged'), OPTS), /NOTICE  \[sshd\] 192\.0\.2\.1 already banned$/)
})

test('times are written in the configured zone', () => {
  assert.equal(formatLogLine(Date.UTC(2026, 6, 1, 10, 0, 0, 5), 'fail2ban.server', 'INFO', 'x', { pid: 1, time_zone: 'Europe/Zurich' }).slice(0, 23), '2026-07-01 12:00:00,005')
})

test('a message cannot break into a second line', () => {
  const line = formatLogLine(AT, 'fail2ban.server', 'WARNING', 'bad\n2026-11-22 10:00:00,123 fail2ban.actions [1]: NOTICE [sshd] Ban 203.0.113.9', OPTS)
  assert.ok(!line.includes('\n'))
  assert.equal(recidive()(line), undefined)
})

test('the built-in recidive filter counts every Ban written and nothing else', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1234, time_zone: 'UTC', now: () => AT })
  await log.found(failure('sshd', '192.0.2.1'))
  await log.ban(ban('sshd', '192.0.2.1'))
  await log.ban(ban('postfix-sasl', '2001:db8::5'))
  await log.ban(ban('r', '192.0.2.7'))
  await log.ban(ban('recidive-mail', '192.0.2.8'))
  await log.ban(ban('sshd', '192.0.2.1', 'prolonged'))
  await log.alreadyBanned('sshd', '192.0.2.1')
  await log.unban(lift('sshd', '192.0.2.1'))
  await log.ban(ban('recidive', '192.0.2.1'))
  await log.unban(lift('recidive', '192.0.2.1'))
  await log.log('fail2ban.server', 'ERROR', 'NOTICE [sshd] Ban 198.51.100.1')
  await log.close()
  const lines = (await readFile(path, 'utf8')).trimEnd().split('\n')
  assert.equal(lines.length, 11)
  const match = recidive()
  assert.deepEqual(lines.map(match), [
    undefined, '192.0.2.1', '2001:db8::5', '192.0.2.7', '192.0.2.8',
    undefined, undefined, undefined, undefined, undefined, undefined,
  ])
  await rm(dir, { recursive: true })
})

test('a log moved away by rotation is replaced by a new file at the path', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  await log.ban(ban('sshd', '192.0.2.1'))
  await rename(path, `${path}.1`)
  await log.ban(ban('sshd', '192.0.2.2'))
  assert.match(await readFile(`${path}.1`, 'utf8'), /Ban 192\.0\.2\.1\n$/)
  assert.match(await readFile(path, 'utf8'), /^[^\n]*Ban 192\.0\.2\.2\n$/)
  await log.close()
  await rm(dir, { recursive: true })
})

test('a deleted log is recreated on the next write', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  await log.ban(ban('sshd', '192.0.2.1'))
  await unlink(path)
  await log.unban(lift('sshd', '192.0.2.1'))
  assert.match(await readFile(path, 'utf8'), /^[^\n]*Unban 192\.0\.2\.1\n$/)
  await log.close()
  await rm(dir, { recursive: true })
})

test('writes land in the order they were made', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  const ips = Array.from({ length: 50 }, (_, i) => `192.0.2.${i + 1}`)
  await Promise.all(ips.map((ip) => log.ban(ban('sshd', ip))))
  await log.close()
  const written = (await readFile(path, 'utf8')).trimEnd().split('\n').map((l) => l.split(' ').pop())
  assert.deepEqual(written, ips)
  await rm(dir, { recursive: true })
})

/** The messages of a log file, in order. */
async function messages(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).trimEnd().split('\n').map((l) => l.slice(l.indexOf('NOTICE') + 'NOTICE'.length).trim())
}

test('an "already banned" line of a decided ban is written after its Ban line, whichever comes first', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  log.expectBan('sshd', '192.0.2.1')
  log.expectBan('sshd', '2001:db8:a:b::/64')
  const held = [log.alreadyBanned('sshd', '192.0.2.1'), log.alreadyBanned('sshd', '2001:db8:a:b::5')]
  // Neither another jail nor another address waits for those bans.
  await log.alreadyBanned('postfix', '192.0.2.1')
  await log.alreadyBanned('sshd', '2001:db8:a:c::5')
  await log.ban(ban('sshd', '192.0.2.1'))
  await log.ban(ban('sshd', '2001:db8:a:b::/64'))
  await Promise.all(held)
  // Once its Ban line is written, the next notice of the address goes straight to the file.
  await log.alreadyBanned('sshd', '192.0.2.1')
  await log.close()
  assert.deepEqual(await messages(path), [
    '[postfix] 192.0.2.1 already banned',
    '[sshd] 2001:db8:a:c::5 already banned',
    '[sshd] Ban 192.0.2.1',
    '[sshd] 192.0.2.1 already banned',
    '[sshd] Ban 2001:db8:a:b::/64',
    '[sshd] 2001:db8:a:b::5 already banned',
    '[sshd] 192.0.2.1 already banned',
  ])
  await rm(dir, { recursive: true })
})

test('a ban length is written as fail2ban writes it: at most three units, coarser as it grows', () => {
  // The examples of fail2ban's MyTime.seconds2str (checked against fail2ban 1.0.2 itself), and bantime.increment's usual lengths.
  const cases: [number, string][] = [
    [86400 * 390, '1y 3w 4d'], [86400 * 368, '1y 3d'], [86400 * 2 + 3600 * 7 + 60 * 15, '2d 7h 15m'],
    [86400 * 2 + 3599, '2d 1h'], [3600 - 5, '1h'], [3600 - 10, '59m 50s'], [59, '59s'], [0, '0'],
    [600, '10m'], [1200, '20m'], [4800, '1h 20m'], [604800, '1w'], [38400, '10h 40m'],
  ]
  for (const [secs, text] of cases) assert.equal(banLength(secs), text, String(secs))
})

test('a ban that bantime.increment lengthened gets its Increase Ban line right after its Ban line', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  const longer: BanIssued = { ...ban('sshd', '192.0.2.1'), ban_time_secs: 1200, ban_count: 2, expires_at: '2026-11-22T10:20:00.000Z' }
  const forever: BanIssued = { ...ban('sshd', '192.0.2.2'), ban_time_secs: -1, ban_count: 9, expires_at: null }
  log.expectBan('sshd', '192.0.2.1', longer)
  log.expectBan('sshd', '192.0.2.2', forever)
  log.expectBan('sshd', '192.0.2.3')
  await log.ban(ban('sshd', '192.0.2.3'))
  await log.ban(longer)
  await log.ban(forever)
  await log.close()
  assert.deepEqual(await messages(path), [
    '[sshd] Ban 192.0.2.3',
    '[sshd] Ban 192.0.2.1',
    '[sshd] Increase Ban 192.0.2.1 (2 # 20m -> 2026-11-22 10:20:00)',
    '[sshd] Ban 192.0.2.2',
    '[sshd] Increase Ban 192.0.2.2 (9 # permanent -> infinite)',
  ])
  assert.match(increaseBanLine(AT, longer, OPTS), /^2026-11-22 10:00:00,123 fail2ban\.observer {7}\[1234\]: NOTICE  \[sshd\] Increase Ban/)
  // recidive counts the Ban line alone.
  assert.equal(recidive()(increaseBanLine(AT, longer, OPTS)), undefined)
  await rm(dir, { recursive: true })
})

test('past ten thousand held "already banned" lines, the next ones are written at once rather than held', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  log.expectBan('sshd', '192.0.2.1')
  const held = Array.from({ length: 10_000 }, () => log.alreadyBanned('sshd', '192.0.2.1'))
  await log.alreadyBanned('sshd', '192.0.2.1')
  await log.ban(ban('sshd', '192.0.2.1'))
  await Promise.all(held)
  await log.close()
  const written = await messages(path)
  assert.deepEqual(written.slice(0, 3), ['[sshd] 192.0.2.1 already banned', '[sshd] Ban 192.0.2.1', '[sshd] 192.0.2.1 already banned'])
  assert.equal(written.length, 10_002)
  await rm(dir, { recursive: true })
})

test('past a hundred thousand bans awaiting their Ban lines, the notices of the next ones are written at once', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  for (let i = 0; i < 100_000; i++) log.expectBan('sshd', `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)
  log.expectBan('sshd', '192.0.2.1')
  const notice = log.alreadyBanned('sshd', '192.0.2.1')
  await log.ban(ban('sshd', '192.0.2.1'))
  await notice
  await log.close()
  assert.deepEqual(await messages(path), ['[sshd] 192.0.2.1 already banned', '[sshd] Ban 192.0.2.1'])
  await rm(dir, { recursive: true })
})

test('closing writes the "already banned" lines whose Ban line never came', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  log.expectBan('sshd', '192.0.2.1')
  const held = log.alreadyBanned('sshd', '192.0.2.1')
  await log.close()
  await held
  assert.deepEqual(await messages(path), ['[sshd] 192.0.2.1 already banned'])
  await rm(dir, { recursive: true })
})

test('a flood of lines made while a write is in flight is written whole and in order, multi-byte text included', async () => {
  const { dir, path } = await tempLog()
  const log = new Fail2banLog({ path, pid: 1, time_zone: 'UTC', now: () => AT })
  const messages = Array.from({ length: 5000 }, (_, i) => `[sshd] Ignore 192.0.2.${i % 256} by command — user «jürgen-${i}» 𝔘`)
  await Promise.all(messages.map((m) => log.log('fail2ban.filter', 'INFO', m)))
  await log.close()
  const written = (await readFile(path, 'utf8')).trimEnd().split('\n').map((l) => l.slice(l.indexOf('[sshd]')))
  assert.deepEqual(written, messages)
  await rm(dir, { recursive: true })
})
