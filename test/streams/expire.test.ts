import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestScheduler } from 'rxjs/testing'
import { expire, expireDue, rebuildExpireState, nextExpiry } from '../../streams/expire.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import { eventId } from '../../schemas/events/event-id.js'

// Virtual time starts at the epoch: a ban at second s is frame s * 1000.
const iso = (secs: number) => new Date(secs * 1000).toISOString()

function ban(id: string, startSecs: number, banSecs: number, more: Partial<BanIssued> = {}): BanIssued {
  return {
    type: 'BanIssued', event_id: id, cause_event_id: `cause-${id}`, jail: 'sshd', ip: '192.0.2.1', failures: 3,
    ban_time_secs: banSecs, ban_count: 1, expires_at: banSecs === -1 ? null : iso(startSecs + banSecs),
    occurred_at: iso(startSecs), reason: 'threshold', matches: [], ...more,
  }
}

const lifted = (b: BanIssued): BanLifted => ({
  type: 'BanLifted', event_id: eventId('BanLifted', 'expired', b.event_id), ban_event_id: b.event_id,
  jail: b.jail, ip: b.ip, occurred_at: b.expires_at!, reason: 'expired',
})

const newScheduler = () => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected))

test('lifts a ban when its time is up', () => {
  const b = ban('b1', 0, 600)
  const clock = newScheduler()
  clock.run(({ cold, expectObservable }) => {
    const decisions = cold<Decision>('a|', { a: b })
    expectObservable(decisions.pipe(expire(clock))).toBe('600000ms (x|)', { x: lifted(b) })
  })
})

test('a prolonged ban is lifted at its new end, once', () => {
  const first = ban('b1', 0, 600)
  const longer = ban('b2', 100, 600, { reason: 'prolonged' })
  const clock = newScheduler()
  clock.run(({ cold, expectObservable }) => {
    const decisions = cold<Decision>('a 99999ms b|', { a: first, b: longer })
    expectObservable(decisions.pipe(expire(clock))).toBe('700000ms (x|)', { x: lifted(longer) })
  })
})

test('a manual lift cancels the expiry', () => {
  const b = ban('b1', 0, 600)
  const manual: BanLifted = { type: 'BanLifted', event_id: 'm1', ban_event_id: 'b1', jail: 'sshd', ip: '192.0.2.1', occurred_at: iso(10), reason: 'manual' }
  const clock = newScheduler()
  clock.run(({ cold, expectObservable }) => {
    const decisions = cold<Decision>('a 9999ms b|', { a: b, b: manual })
    expectObservable(decisions.pipe(expire(clock))).toBe('10001ms |')
  })
})

test('a permanent ban is never lifted', () => {
  const clock = newScheduler()
  clock.run(({ cold, expectObservable }) => {
    const decisions = cold<Decision>('a|', { a: ban('b1', 0, -1) })
    expectObservable(decisions.pipe(expire(clock))).toBe('-|')
  })
})

test('after a restart, a ban issued before it is lifted at its expiry', () => {
  const b = ban('b1', 0, 600)
  const clock = newScheduler()
  clock.run(({ cold, expectObservable }) => {
    // The stage restarts at 100 s: the ban comes from the history, not the input.
    const decisions = cold<Decision>('100000ms |')
    expectObservable(decisions.pipe(expire(clock, [b]))).toBe('600000ms (x|)', { x: lifted(b) })
  })
})

test('after a restart, a ban that ended while the stage was down is lifted at once', () => {
  const b = ban('b1', 0, 600)
  const clock = newScheduler()
  clock.run(({ cold, expectObservable }) => {
    // The stage starts (subscribes) at 700 s, 100 s after the ban ended.
    const restarted = cold<Decision>('|').pipe(expire(clock, [b]))
    expectObservable(restarted, '700000ms ^').toBe('700000ms (x|)', { x: lifted(b) })
  })
})

test('after a restart, a ban already lifted is not lifted again', () => {
  const b = ban('b1', 0, 600)
  const clock = newScheduler()
  clock.run(({ cold, expectObservable }) => {
    const decisions = cold<Decision>('|')
    expectObservable(decisions.pipe(expire(clock, [b, lifted(b)]))).toBe('|')
  })
})

test('the pure fold lifts what has ended by now and says when the next ban ends', () => {
  const state = rebuildExpireState([ban('b1', 0, 600), ban('b2', 0, 900, { ip: '192.0.2.2' })])
  assert.deepEqual(expireDue(state, 599), [])
  assert.equal(nextExpiry(state), 600)
  assert.deepEqual(expireDue(state, 600).map((l) => l.ban_event_id), ['b1'])
  assert.equal(nextExpiry(state), 900)
})
