import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Decision } from '../../schemas/events/decision.js'
import { Topics } from '../../schemas/topics.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { liftedSince } from '../../src/roles/lifted-since.js'
import { tempDir } from './run-test-kit.js'

const T0 = Date.parse('2026-11-23T10:00:00Z')

function lifted(ip: string, endedAt: string): Decision {
  return { type: 'BanLifted', event_id: `lift-${ip}`, ban_event_id: `ban-${ip}`, jail: 'sshd', ip, occurred_at: endedAt, reason: 'expired' }
}

test('liftedSince gives the lifts appended to decisions since a time, a late one for an earlier end included', async (t) => {
  let now = T0
  const log = await EmbeddedLog.open({ dataDir: tempDir('banstream-lifted-'), fsync: 'never', now: () => now })
  t.after(() => log.close())
  await log.createTopic(Topics.decisions.name, 2)
  const append = (decision: Decision) => log.append(Topics.decisions.name, [{ key: Buffer.from(decision.ip), value: Buffer.from(JSON.stringify(decision)) }])
  await append(lifted('192.0.2.1', '2026-11-23T09:59:00Z'))
  now += 60_000
  await append({
    type: 'BanIssued', event_id: 'ban-192.0.2.2', cause_event_id: 'f', jail: 'sshd', ip: '192.0.2.2', failures: 3, ban_time_secs: 600,
    ban_count: 1, expires_at: '2026-11-23T10:11:00.000Z', occurred_at: '2026-11-23T10:01:00.000Z', reason: 'threshold', matches: [],
  })
  // Appended after the restart for a ban that ended while nothing ran: its end is before the time asked, its record after.
  await append(lifted('192.0.2.3', '2026-11-23T09:59:30Z'))
  await log.append(Topics.decisions.name, [{ key: Buffer.from('x'), value: Buffer.from('{"type":"BanLifted"}') }])
  // Well formed but naming no address in its canonical spelling: never told to a bouncer.
  await append(lifted('not-an-ip', '2026-11-23T10:01:00Z'))
  await append(lifted('198.51.100.068', '2026-11-23T10:01:00Z'))
  await append(lifted('::ffff:198.51.100.69', '2026-11-23T10:01:00Z'))
  now += 60_000
  await append(lifted('2001:db8::/64', '2026-11-23T10:02:00Z'))

  const since = await liftedSince(log, T0 + 30_000)
  assert.deepEqual(since.map((l) => [l.ip, l.ban_event_id, l.lifted_at]).sort(), [
    ['192.0.2.3', 'ban-192.0.2.3', '2026-11-23T09:59:30Z'],
    ['2001:db8::/64', 'ban-2001:db8::/64', '2026-11-23T10:02:00Z'],
  ])
  assert.equal((await liftedSince(log, T0)).length, 3)
})
