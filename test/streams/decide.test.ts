import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestScheduler } from 'rxjs/testing'
import { decide, decider, isDecision, liveFailureTime, type DecideEvent, type DecideOptions, type DecideOutput, type DecideNotice } from '../../streams/decide.js'
import { jailPolicy } from '../../streams/decide-policy.js'
import { defaultIncrement } from '../../streams/ban-time.js'
import { IgnoreIpError } from '../../streams/decide-ignore.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { Decision } from '../../schemas/events/decision.js'
import { T0, at, failure, banAddress, liftBan } from './decide-fixtures.js'

const sshd = (more: Partial<Parameters<typeof jailPolicy>[0]> = {}) => jailPolicy({ name: 'sshd', max_retry: 3, find_time_secs: 600, ban_time_secs: 600, ...more })

/** Given past events, when new ones arrive, then these outputs (clock at `nowSecs` after T0). */
function scenario(options: DecideOptions, given: DecideEvent[], when: DecideEvent[], nowSecs = 0) {
  const d = decider(options)
  let state = d.initialState()
  for (const event of given) state = d.step(state, event, T0 + nowSecs).state
  const outputs: DecideOutput[] = []
  for (const event of when) {
    const result = d.step(state, event, T0 + nowSecs)
    state = result.state
    outputs.push(...result.outputs)
  }
  return { outputs, state, bans: outputs.filter((o): o is BanIssued => o.type === 'BanIssued'), notices: outputs.filter((o): o is DecideNotice => o.type === 'DecideNotice') }
}

const times = (ip: string, ...secs: number[]) => secs.map((s) => failure(ip, s))

test('bans after maxretry failures inside findtime', () => {
  const { bans } = scenario({ jails: [sshd()] }, times('192.0.2.1', 0, 10), times('192.0.2.1', 20))
  assert.equal(bans.length, 1)
  const ban = bans[0]!
  assert.equal(ban.ip, '192.0.2.1')
  assert.equal(ban.reason, 'threshold')
  assert.equal(ban.failures, 3)
  assert.equal(ban.ban_time_secs, 600)
  assert.equal(ban.ban_count, 1)
  assert.equal(ban.occurred_at, at(20))
  assert.equal(ban.expires_at, at(620))
  assert.equal(ban.matches.length, 3)
})

test('does not ban before maxretry', () => {
  const { outputs } = scenario({ jails: [sshd()] }, times('192.0.2.1', 0), times('192.0.2.1', 10))
  assert.deepEqual(outputs, [])
})

test('a failure findtime after the last one starts a new count', () => {
  const { bans } = scenario({ jails: [sshd()] }, times('192.0.2.1', 0, 100), times('192.0.2.1', 700))
  assert.equal(bans.length, 0)
})

test('bans on the rescaled count where a sliding window would not (worked example)', () => {
  // maxretry 4, findtime 600, failures at 0, 300, 500, 700: fail2ban counts
  // round(3 / 700 * 600) + 1 = 4 at 700; the last 600 s hold only 3 failures.
  const jail = sshd({ max_retry: 4 })
  const given = times('192.0.2.1', 0, 300, 500)
  assert.equal(scenario({ jails: [jail] }, given, times('192.0.2.1', 700)).bans.length, 1)
  const slide = { ...jail, window: 'sliding' as const }
  assert.equal(scenario({ jails: [slide] }, times('192.0.2.1', 0, 300, 500), times('192.0.2.1', 700)).bans.length, 0)
})

test('a permanent bantime bans with no expiry', () => {
  const { bans } = scenario({ jails: [sshd({ ban_time_secs: -1 })] }, times('192.0.2.1', 0, 1), times('192.0.2.1', 2))
  assert.equal(bans[0]!.ban_time_secs, -1)
  assert.equal(bans[0]!.expires_at, null)
})

test('counts failures per failure id when the filter captures one', () => {
  const f = (ip: string, s: number) => failure(ip, s, { fid: 'alice' })
  const { bans } = scenario({ jails: [sshd()] }, [f('192.0.2.1', 0), f('192.0.2.2', 1)], [f('192.0.2.3', 2)])
  assert.equal(bans[0]!.fid, 'alice')
  assert.equal(bans[0]!.ip, '192.0.2.3')
})

test("a ban carries the user its window's first failure captured, as fail2ban's ticket keeps the first ticket's data", () => {
  const users = ['root', 'admin', 'oracle']
  const f = (s: number) => failure('192.0.2.1', s, { user: users[s]! })
  assert.equal(scenario({ jails: [sshd()] }, [f(0), f(1)], [f(2)]).bans[0]!.user, 'root')
  const anonymous = scenario({ jails: [sshd()] }, times('192.0.2.1', 0, 1), times('192.0.2.1', 2)).bans[0]!
  assert.equal('user' in anonymous, false)
})

test('ignores failures of an address in ignoreip', () => {
  const jail = sshd({ ignore_ip: '127.0.0.1/8 192.0.2.0/24' })
  const { bans, notices } = scenario({ jails: [jail] }, times('192.0.2.1', 0, 1), times('192.0.2.1', 2))
  assert.equal(bans.length, 0)
  assert.equal(notices[0]!.kind, 'ignored')
})

test('ignores failures of a network that holds an address in ignoreip', () => {
  const jail = sshd({ ignore_ip: '127.0.0.1/8 192.0.2.0/24' })
  const { bans, notices } = scenario({ jails: [jail] }, times('192.0.0.0/8', 0, 1), times('192.0.0.0/8', 2))
  assert.equal(bans.length, 0)
  assert.equal(notices[0]!.kind, 'ignored')
  assert.match(notices[0]!.detail, /network holds an address in ignoreip/)
  assert.equal(scenario({ jails: [jail] }, times('198.51.100.0/24', 0, 1), times('198.51.100.0/24', 2)).bans[0]!.ip, '198.51.100.0/24')
})

test('never bans a /0 or /1 network, by a failure or by a command, forced or not', () => {
  const jail = sshd({ max_retry: 1 })
  for (const ip of ['0.0.0.0/0', '128.0.0.0/1', '::/0', '8000::/1']) {
    const failed = scenario({ jails: [jail] }, [], times(ip, 0))
    const commanded = scenario({ jails: [jail] }, [], [banAddress(ip, 0, { force: true })])
    for (const { bans, notices } of [failed, commanded]) {
      assert.equal(bans.length, 0, ip)
      assert.equal(notices[0]!.kind, 'invalid-address')
      assert.match(notices[0]!.detail, /refusing to ban it/)
    }
  }
  assert.equal(scenario({ jails: [jail] }, [], times('0.0.0.0/2', 0)).bans[0]!.ip, '0.0.0.0/2')
})

test('refuses /0 and /1 ignoreip entries with a clear error', () => {
  for (const entry of ['0.0.0.0/0', '128.0.0.0/1', '::/0', '8000::/1']) {
    assert.throws(() => sshd({ ignore_ip: ['127.0.0.1', entry] }),
      (e: unknown) => e instanceof IgnoreIpError && e.code === 'BANSTREAM_ERR_IGNOREIP_TOO_WIDE' && e.message.includes(entry))
  }
})

test('refuses an ignoreip entry that is no address', () => {
  assert.throws(() => sshd({ ignore_ip: 'gateway.example.org' }), (e: unknown) => e instanceof IgnoreIpError && e.code === 'BANSTREAM_ERR_IGNOREIP_INVALID')
})

test('counts IPv6 addresses per /64 and bans the network', () => {
  const { bans } = scenario({ jails: [sshd()] },
    [failure('2001:db8:1:2::1', 0), failure('2001:db8:1:2:aaaa::2', 1)], [failure('2001:db8:1:2:ffff:ffff:ffff:3', 2)])
  assert.equal(bans[0]!.ip, '2001:db8:1:2::/64')
})

test('counts IPv6 per address with prefix 128, as fail2ban', () => {
  const { bans } = scenario({ jails: [sshd({ ipv6_prefix: 128 })] },
    [failure('2001:db8:1:2::1', 0), failure('2001:db8:1:2::2', 1)], [failure('2001:db8:1:2::3', 2)])
  assert.equal(bans.length, 0)
})

test('counts an IPv6 address alone when its network holds an ignored address', () => {
  const jail = sshd({ ignore_ip: '2001:db8:1:2::10' })
  const { bans } = scenario({ jails: [jail] }, times('2001:db8:1:2::1', 0, 1), times('2001:db8:1:2::1', 2))
  assert.equal(bans[0]!.ip, '2001:db8:1:2::1')
})

test('failures of an address already banned are counted; reaching maxretry again is reported as fail2ban does, with no new ban', () => {
  const permanent = sshd({ ban_time_secs: -1 })
  const below = scenario({ jails: [permanent] }, times('192.0.2.1', 0, 1, 2), times('192.0.2.1', 100, 101))
  assert.deepEqual(below.outputs, [], 'below maxretry: only counted')
  const { bans, notices } = scenario({ jails: [permanent] }, times('192.0.2.1', 0, 1, 2, 100, 101), times('192.0.2.1', 102))
  assert.equal(bans.length, 0)
  assert.deepEqual(notices.map((n) => [n.kind, n.detail]), [['already-banned', 'already banned until forever']])
})

test('an address already banned that reaches maxretry again gets its ban prolonged', () => {
  const { bans } = scenario({ jails: [sshd()] }, times('192.0.2.1', 0, 1, 2, 100, 101), times('192.0.2.1', 102))
  assert.equal(bans.length, 1)
  assert.equal(bans[0]!.reason, 'prolonged')
  assert.equal(bans[0]!.ban_count, 1)
  assert.equal(bans[0]!.expires_at, at(702))
})

test('a ban targets the hosts whose logs showed the failures, as fail2ban bans on the host that saw them', () => {
  const from = (host: string, secs: number) => failure('192.0.2.1', secs, { host })
  const { bans } = scenario({ jails: [sshd()] }, [from('mx2', 0), from('mx1', 1)], [from('mx2', 2)])
  assert.deepEqual(bans[0]!.targets, ['mx1', 'mx2'])
})

test('bantarget fleet sends the ban to every host; named hosts get it whatever logs showed it', () => {
  const fleet = scenario({ jails: [sshd({ ban_target: 'fleet' })] }, [], times('192.0.2.1', 0, 1, 2))
  assert.equal(fleet.bans[0]!.targets, undefined)
  const named = scenario({ jails: [sshd({ ban_target: { origin: false, hosts: ['edge1', 'edge2'] } })] }, [], times('192.0.2.1', 0, 1, 2))
  assert.deepEqual(named.bans[0]!.targets, ['edge1', 'edge2'])
  const both = scenario({ jails: [sshd({ ban_target: { origin: true, hosts: ['edge1'] } })] }, [], times('192.0.2.1', 0, 1, 2))
  assert.deepEqual(both.bans[0]!.targets, ['edge1', 'mail1'])
})

test('a prolonged ban targets the hosts of the first ban and those of the new failures', () => {
  const from = (host: string, secs: number) => failure('192.0.2.1', secs, { host })
  const { bans } = scenario({ jails: [sshd()] }, [from('mx1', 0), from('mx1', 1), from('mx1', 2), from('mx2', 100), from('mx2', 101)], [from('mx2', 102)])
  assert.equal(bans[0]!.reason, 'prolonged')
  assert.deepEqual(bans[0]!.targets, ['mx1', 'mx2'])
})

test('a manual ban with a target goes to that host only', () => {
  const { bans } = scenario({ jails: [sshd()] }, [], [banAddress('192.0.2.9', 0, { target: 'mx3' })])
  assert.deepEqual(bans[0]!.targets, ['mx3'])
  assert.equal(scenario({ jails: [sshd()] }, [], [banAddress('192.0.2.9', 0)]).bans[0]!.targets, undefined)
})

test('bantime.increment doubles the second ban', () => {
  const jail = sshd({ increment: defaultIncrement() })
  const { bans } = scenario({ jails: [jail] }, times('192.0.2.1', 0, 1, 2), times('192.0.2.1', 1000, 1001, 1002, 1003, 1004))
  assert.equal(bans.length, 1)
  assert.equal(bans[0]!.ban_count, 2)
  assert.equal(bans[0]!.ban_time_secs, 1200)
})

test('bantime.increment weights a known offender\'s failures: 2 each after one ban', () => {
  // maxretry 5: after one ban each failure counts 2, so the third (6 >= 5) bans.
  const jail = sshd({ max_retry: 5, increment: defaultIncrement() })
  const { bans } = scenario({ jails: [jail] }, times('192.0.2.1', 0, 1, 2, 3, 4, 1000, 1001), times('192.0.2.1', 1002))
  assert.equal(bans.length, 1)
  assert.equal(bans[0]!.failures, 3)
})

test('bantime.overalljails counts earlier bans of every jail', () => {
  const jail = (name: string) => jailPolicy({ name, max_retry: 1, ban_time_secs: 600, increment: defaultIncrement({ overall_jails: true }) })
  const options = { jails: [jail('sshd'), jail('postfix')] }
  const { bans } = scenario(options, [failure('192.0.2.1', 0)], [failure('192.0.2.1', 1000, { jail: 'postfix' })])
  assert.equal(bans[0]!.ban_count, 2)
  assert.equal(bans[0]!.ban_time_secs, 1200)
})

test('earlier bans are forgotten after the history age', () => {
  const jail = sshd({ max_retry: 1, increment: defaultIncrement() })
  const { bans } = scenario({ jails: [jail], history_max_age_secs: 3600 }, [failure('192.0.2.1', 0)], [failure('192.0.2.1', 4000)])
  assert.equal(bans[0]!.ban_count, 1)
  assert.equal(bans[0]!.ban_time_secs, 600)
})

test('a success clears the count when reset_on_success is set', () => {
  const jail = sshd({ reset_on_success: true })
  const given = [...times('192.0.2.1', 0, 1), failure('192.0.2.1', 2, { success: true })]
  const { bans } = scenario({ jails: [jail] }, given, times('192.0.2.1', 3, 4))
  assert.equal(bans.length, 0)
})

test('a success is never counted as a failure', () => {
  const given = [...times('192.0.2.1', 0, 1)]
  const { bans } = scenario({ jails: [sshd()] }, given, [failure('192.0.2.1', 2, { success: true })])
  assert.equal(bans.length, 0)
})

test('live: a failure more than 60 s from the clock counts as now', () => {
  const now = 5000
  const { bans } = scenario({ jails: [sshd()], live: true }, times('192.0.2.1', 0, 1), times('192.0.2.1', 2), now)
  assert.equal(bans[0]!.occurred_at, at(now))
})

test('live: a failure dated ahead of the clock counts as now, so it cannot expire other addresses\' counts early', () => {
  const jail = sshd({ find_time_secs: 100 })
  const now = 1000
  const fastClockHost = failure('198.51.100.1', now + 55)
  const { bans } = scenario({ jails: [jail], live: true }, [...times('192.0.2.1', now - 58, now - 57), fastClockHost], times('192.0.2.1', now), now)
  assert.equal(bans[0]!.ip, '192.0.2.1', 'its first failures are 58 s old, inside findtime')
  const ahead = scenario({ jails: [jail], live: true }, times('198.51.100.1', now + 50, now + 51), times('198.51.100.1', now + 52), now)
  assert.equal(ahead.bans[0]!.occurred_at, at(now))
})

test('live: the time a failure counts at is its own within 60 s of the clock and not ahead of it; a backlog line keeps its past time', () => {
  assert.equal(liveFailureTime(940, 1000, false), 940)
  assert.equal(liveFailureTime(930, 1000, false), 1000)
  assert.equal(liveFailureTime(1030, 1000, false), 1000)
  assert.equal(liveFailureTime(500, 1000, true), 500)
  assert.equal(liveFailureTime(1030, 1000, true), 1000)
})

test('live: backlog lines older than findtime are ignored', () => {
  const f = (s: number) => failure('192.0.2.1', s, { backlog: true })
  const { bans, notices } = scenario({ jails: [sshd()], live: true }, [f(0), f(1)], [f(2)], 5000)
  assert.equal(bans.length, 0)
  assert.equal(notices[0]!.kind, 'too-old')
})

test('live: a backlog ban that would already have ended is not issued', () => {
  const f = (s: number) => failure('192.0.2.1', s, { backlog: true })
  const { bans, notices } = scenario({ jails: [sshd({ find_time_secs: 3600 })], live: true }, [f(0), f(1)], [f(2)], 1000)
  assert.equal(bans.length, 0)
  assert.equal(notices[0]!.kind, 'ban-expired')
})

test('replay: event time alone decides, whatever the clock', () => {
  const { bans } = scenario({ jails: [sshd()] }, times('192.0.2.1', 0, 1), times('192.0.2.1', 2), 10 ** 9)
  assert.equal(bans[0]!.occurred_at, at(2))
})

test('a manual ban bans at once', () => {
  const { bans } = scenario({ jails: [sshd()] }, [], [banAddress('192.0.2.9', 0)])
  assert.equal(bans[0]!.reason, 'manual')
  assert.equal(bans[0]!.failures, 0)
  assert.equal(bans[0]!.expires_at, at(600))
})

test('a manual ban of an ignored address is refused unless forced', () => {
  const jail = sshd({ ignore_ip: '192.0.2.0/24' })
  assert.equal(scenario({ jails: [jail] }, [], [banAddress('192.0.2.9', 0)]).notices[0]!.kind, 'ignored')
  assert.equal(scenario({ jails: [jail] }, [], [banAddress('192.0.2.9', 0, { force: true })]).bans.length, 1)
})

test('a manual ban of a network that holds an ignored address is refused unless forced', () => {
  const jail = sshd({ ignore_ip: '192.0.2.7' })
  assert.equal(scenario({ jails: [jail] }, [], [banAddress('192.0.2.0/24', 0)]).notices[0]!.kind, 'ignored')
})

test('a manual unban lifts the ban and forgets earlier bans', () => {
  const jail = sshd({ max_retry: 1, increment: defaultIncrement() })
  const lifted = scenario({ jails: [jail] }, [failure('192.0.2.1', 0)], [liftBan('192.0.2.1', 10)])
  assert.equal(lifted.outputs[0]!.type, 'BanLifted')
  const { bans } = scenario({ jails: [jail] }, [failure('192.0.2.1', 0), liftBan('192.0.2.1', 10)], [failure('192.0.2.1', 20)])
  assert.equal(bans[0]!.ban_count, 1)
  assert.equal(bans[0]!.ban_time_secs, 600)
})

test('a manual unban of an address not banned is reported', () => {
  assert.equal(scenario({ jails: [sshd()] }, [], [liftBan('192.0.2.1', 0)]).notices[0]!.kind, 'not-banned')
})

test('a failure for a jail not configured here is reported', () => {
  assert.equal(scenario({ jails: [sshd()] }, [], [failure('192.0.2.1', 0, { jail: 'nginx' })]).notices[0]!.kind, 'unknown-jail')
})

test('windows are evicted once findtime has passed, so one-off failures stay bounded', () => {
  const d = decider({ jails: [sshd()] })
  let state = d.initialState()
  for (let i = 0; i < 20_000; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    state = d.step(state, failure(ip, i * 0.1), T0).state
  }
  // Event time has reached 1999.9 s: only the last 600 s of windows are alive.
  const windows = state.jails.get('sshd')!.windows.size
  assert.ok(windows <= 6001, `${windows} windows kept`)
  state = d.step(state, failure('192.0.2.1', 10_000), T0).state
  assert.equal(state.jails.get('sshd')!.windows.size, 1)
})

test('bans are evicted once they have ended in event time', () => {
  const d = decider({ jails: [sshd({ max_retry: 1 })] })
  let state = d.initialState()
  state = d.step(state, failure('192.0.2.1', 0), T0).state
  assert.equal(state.jails.get('sshd')!.bans.size, 1)
  state = d.step(state, failure('192.0.2.2', 601), T0).state
  assert.deepEqual([...state.jails.get('sshd')!.bans.keys()], ['192.0.2.2'])
})

test('a restart rebuilt from past decisions does not ban again on replayed failures', () => {
  const d = decider({ jails: [sshd()] })
  const first = scenario({ jails: [sshd()] }, [], times('192.0.2.1', 0, 1, 2))
  const decisions = first.outputs.filter(isDecision)
  let state = d.rebuild(decisions)
  const outputs: DecideOutput[] = []
  for (const f of times('192.0.2.1', 0, 1, 2)) {
    const r = d.step(state, f, T0)
    state = r.state
    outputs.push(...r.outputs)
  }
  assert.equal(outputs.filter(isDecision).length, 0)
})

test('a replayed input gives the same decision id', () => {
  const inputs = times('192.0.2.1', 0, 1, 2)
  const a = scenario({ jails: [sshd()] }, [], inputs).bans[0]!
  const b = scenario({ jails: [sshd()] }, [], inputs).bans[0]!
  assert.equal(a.event_id, b.event_id)
})

test('the operator emits the ban when the maxretry-th failure arrives (virtual time)', () => {
  const scheduler = new TestScheduler((actual, expected) => assert.deepEqual(actual, expected))
  const [f1, f2, f3] = times('192.0.2.1', 0, 1, 2)
  const expected = scenario({ jails: [sshd()] }, [f1!, f2!], [f3!]).outputs
  scheduler.run(({ cold, expectObservable }) => {
    const input = cold<DecideEvent>('a-b-c|', { a: f1!, b: f2!, c: f3! })
    expectObservable(input.pipe(decide({ jails: [sshd()] }, scheduler))).toBe('----x|', { x: expected[0] as Decision })
  })
})

test('the operator starts from the state rebuilt from history', () => {
  const scheduler = new TestScheduler((actual, expected) => assert.deepEqual(actual, expected))
  const permanent = sshd({ ban_time_secs: -1 })
  const history = scenario({ jails: [permanent] }, [], times('192.0.2.1', 0, 1, 2)).outputs.filter(isDecision)
  const late = times('192.0.2.1', 3, 4, 5)
  scheduler.run(({ cold, expectObservable }) => {
    const input = cold<DecideEvent>('abc|', { a: late[0]!, b: late[1]!, c: late[2]! })
    const kinds = input.pipe(decide({ jails: [permanent] }, scheduler, history))
    // Without the ban in the rebuilt state, the third failure would ban anew.
    expectObservable(kinds).toBe('--c|', { c: { type: 'DecideNotice', kind: 'already-banned', jail: 'sshd', ip: '192.0.2.1', cause_event_id: late[2]!.event_id, detail: 'already banned until forever' } })
  })
})
