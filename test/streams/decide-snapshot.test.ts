import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decider, isDecision, type DecideEvent } from '../../streams/decide.js'
import { jailPolicy } from '../../streams/decide-policy.js'
import { restoreSnapshot, snapshotJson, type DecideSnapshot } from '../../streams/decide-snapshot.js'
import type { DecideState } from '../../streams/decide-state.js'
import { banAddress, failure } from './decide-fixtures.js'

const options = { jails: [jailPolicy({ name: 'sshd', max_retry: 3, find_time_secs: 600, ban_time_secs: 600 })] }

/** What a save writes and a restart reads back. */
function saved(state: DecideState): DecideSnapshot {
  return JSON.parse([...snapshotJson(state)].join('')) as DecideSnapshot
}

/** Steps events through a decider from a state, returning the decisions made. */
function run(events: DecideEvent[], state = decider(options).initialState()) {
  const d = decider(options)
  const decisions = []
  for (const event of events) {
    const result = d.step(state, event, 0)
    state = result.state
    decisions.push(...result.outputs.filter(isDecision))
  }
  return { state, decisions }
}

test('a state restored from its JSON snapshot decides the rest of the input as the original state does', () => {
  const before = [failure('192.0.2.1', 0), failure('192.0.2.1', 10), failure('2001:db8::1', 20), banAddress('198.51.100.7', 30, { ban_time_secs: -1 })]
  const after = [failure('192.0.2.1', 40), failure('2001:db8::1', 50), failure('2001:db8::1', 60), banAddress('198.51.100.7', 70)]
  const original = run([...before, ...after])
  const half = run(before)
  const restored = restoreSnapshot(saved(half.state))
  const resumed = run(after, restored)
  assert.deepEqual([...half.decisions, ...resumed.decisions], original.decisions)
  assert.equal(resumed.decisions.filter((d) => d.type === 'BanIssued').length, 2)
})

test('a permanent ban and the watermark before any event survive the snapshot', () => {
  const empty = restoreSnapshot(saved(decider(options).initialState()))
  assert.equal(empty.watermark, -Infinity)
  const { state } = run([banAddress('198.51.100.7', 30, { ban_time_secs: -1 })])
  const restored = restoreSnapshot(saved(state))
  assert.equal(restored.jails.get('sshd')!.bans.get('198.51.100.7')!.ends, Infinity)
})

test('windows restored from a snapshot are still evicted one findtime after their last failure', () => {
  const { state } = run([failure('192.0.2.1', 0), failure('192.0.2.2', 100)])
  const restored = restoreSnapshot(saved(state))
  const { state: later } = run([failure('192.0.2.3', 650)], restored)
  assert.deepEqual([...later.jails.get('sshd')!.windows.keys()].sort(), ['192.0.2.2', '192.0.2.3'])
})

test('a snapshot too big for one piece is written in several, and restores every window and ban', () => {
  const events = Array.from({ length: 30_000 }, (_, i) => failure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i / 100))
  const { state } = run([...events, banAddress('198.51.100.7', 300, { ban_time_secs: -1 })])
  const pieces = [...snapshotJson(state)]
  assert.ok(pieces.length > 3, `${pieces.length} pieces`)
  const restored = restoreSnapshot(JSON.parse(pieces.join('')) as DecideSnapshot).jails.get('sshd')!
  const original = state.jails.get('sshd')!
  assert.equal(restored.windows.size, original.windows.size)
  assert.ok(original.windows.has('10.0.117.47'))
  assert.deepEqual(restored.windows.get('10.0.117.47'), original.windows.get('10.0.117.47'))
  assert.equal(restored.bans.get('198.51.100.7')!.ends, Infinity)
})
