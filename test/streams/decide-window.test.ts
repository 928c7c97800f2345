import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addToWindow, openWindow, roundHalfEven, windowExpired, type WindowRules } from '../../streams/decide-window.js'

const fail2ban: WindowRules = { find_time_secs: 600, max_matches: 3, window: 'fail2ban' }
const sliding: WindowRules = { ...fail2ban, window: 'sliding' }

function feed(rules: WindowRules, times: number[]) {
  let w = openWindow(times[0]!, 1, [`line ${times[0]}`], rules)
  for (const t of times.slice(1)) w = addToWindow(w, t, 1, [`line ${t}`], rules)
  return w
}

test('rounds halves to the even neighbour as Python does', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 4, 2, 3])
})

test('rescales the count when the first failure leaves findtime (worked example)', () => {
  // Failures at 0, 300, 500, 700 s, findtime 600. At 700 the first failure is
  // 700 s old: the 3 failures so far are rescaled to the rate over 700 s,
  // round(3 / 700 * 600) = round(2.571) = 3, the window starts at 700 - 600 = 100,
  // and the new failure makes 4.
  const w = feed(fail2ban, [0, 300, 500, 700])
  assert.equal(w.retry, 4)
  assert.equal(w.first, 100)
  assert.equal(w.last, 700)
  assert.equal(w.attempts, 4)
})

test('rescales again from the moved start (worked example, second step)', () => {
  // Continuing at 1250: round(4 / (1250 - 100) * 600) = round(2.087) = 2, plus 1 = 3.
  const w = feed(fail2ban, [0, 300, 500, 700, 1250])
  assert.equal(w.retry, 3)
  assert.equal(w.first, 650)
})

test('a rescaled half rounds to even: round(3 / 1200 * 600) = round(1.5) = 2', () => {
  const w = addToWindow({ first: 0, last: 1000, retry: 3, attempts: 3, matches: [] }, 1200, 1, [], fail2ban)
  assert.equal(w.retry, 3)
})

test('a failure older than the last one does not move the window', () => {
  const w = feed(fail2ban, [0, 500, 100])
  assert.deepEqual([w.first, w.last, w.retry], [0, 500, 3])
})

test('a sliding window counts only the failures of the last findtime', () => {
  const w = feed(sliding, [0, 300, 500, 700])
  assert.equal(w.retry, 3)
  assert.equal(w.first, 300)
})

test('keeps only the last maxmatches lines', () => {
  const w = feed(fail2ban, [0, 10, 20, 30])
  assert.deepEqual(w.matches, ['line 10', 'line 20', 'line 30'])
})

test('a window expires one findtime after its last failure', () => {
  const w = feed(fail2ban, [0, 100])
  assert.equal(windowExpired(w, 699, 600), false)
  assert.equal(windowExpired(w, 700, 600), true)
})
