import { test } from 'node:test'
import assert from 'node:assert/strict'
import { banTimeFormula, banTimeSecs, defaultIncrement, failureWeight, UnsupportedFormulaError } from '../../streams/ban-time.js'

test('the default formula doubles the ban time per earlier ban: 600, 1200, 2400, 4800', () => {
  const inc = defaultIncrement()
  assert.deepEqual([0, 1, 2, 3].map((n) => banTimeSecs(600, n, inc, 'id')), [600, 1200, 2400, 4800])
})

test('the default formula stops growing after 20 earlier bans', () => {
  const inc = defaultIncrement()
  assert.equal(banTimeSecs(1, 25, inc, 'id'), 2 ** 20)
})

test('the factor multiplies the default formula', () => {
  assert.equal(banTimeSecs(600, 1, defaultIncrement({ factor: 2 }), 'id'), 2400)
})

test('the exp formula with factor 2/2.885385 grows like the default one', () => {
  const inc = defaultIncrement({
    factor: 2 / 2.885385,
    formula: banTimeFormula('ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)'),
  })
  assert.deepEqual([1, 2, 3].map((n) => banTimeSecs(600, n, inc, 'id')), [1200, 2400, 4800])
})

test('multipliers pick the ban time by earlier bans, the last one repeating', () => {
  const inc = defaultIncrement({ multipliers: [1, 5, 30, 60] })
  assert.deepEqual([1, 2, 3, 9].map((n) => banTimeSecs(60, n, inc, 'id')), [300, 1800, 3600, 3600])
})

test('maxtime caps an increased ban time', () => {
  assert.equal(banTimeSecs(600, 5, defaultIncrement({ max_time_secs: 3600 }), 'id'), 3600)
})

test('rndtime adds the same amount for the same event and stays below rndtime', () => {
  const inc = defaultIncrement({ rnd_time_secs: 300 })
  const a = banTimeSecs(600, 1, inc, 'ban-1')
  assert.equal(banTimeSecs(600, 1, inc, 'ban-1'), a)
  assert.ok(a >= 1200 && a < 1500)
})

test('a first ban, a permanent ban, or no increment keeps the base time', () => {
  assert.equal(banTimeSecs(600, 0, defaultIncrement(), 'id'), 600)
  assert.equal(banTimeSecs(-1, 3, defaultIncrement(), 'id'), -1)
  assert.equal(banTimeSecs(600, 3, null, 'id'), 600)
})

test('refuses a formula other than those of jail.conf', () => {
  assert.throws(() => banTimeFormula('ban.Time * 3'), (e: unknown) => e instanceof UnsupportedFormulaError && e.code === 'BANSTREAM_ERR_BANTIME_FORMULA')
})

test('a known offender\'s failure counts 2, 3, 5, 9 by earlier bans, at most maxretry', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map((b) => failureWeight(b, 100)), [1, 2, 3, 5, 9])
  assert.equal(failureWeight(5, 5), 5)
})
