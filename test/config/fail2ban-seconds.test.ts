import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DurationSyntaxError, evaluate, str2seconds } from '../../src/config/fail2ban-seconds.js'

const DAY = 86400

test('plain seconds and -1 read as numbers', () => {
  assert.equal(str2seconds('600'), 600)
  assert.equal(str2seconds('-1'), -1)
  assert.equal(str2seconds(' 3600 '), 3600)
})

test('each unit abbreviation of jail.conf: s, m, h, d, w, mo, y', () => {
  assert.equal(str2seconds('30s'), 30)
  assert.equal(str2seconds('10m'), 600)
  assert.equal(str2seconds('48h'), 48 * 3600)
  assert.equal(str2seconds('1d'), DAY)
  assert.equal(str2seconds('1w'), 7 * DAY)
  assert.equal(str2seconds('1mo'), 365.25 * DAY / 12)
  assert.equal(str2seconds('1y'), 365.25 * DAY)
})

test('long unit names, any case', () => {
  assert.equal(str2seconds('2 hours'), 7200)
  assert.equal(str2seconds('1hour+30min'), 5400)
  assert.equal(str2seconds('6 months'), 365.25 * DAY / 2)
  assert.equal(str2seconds('1H'), 3600)
  assert.equal(str2seconds('1M'), 60)
})

test('blank-separated groups add up, as in 1h 30m', () => {
  assert.equal(str2seconds('1h 30m'), 5400)
  assert.equal(str2seconds('0d 1h 30m'), 5400)
  assert.equal(str2seconds('1h 2m 3s'), 3723)
})

test('groups written together are split, as in 1d12h', () => {
  assert.equal(str2seconds('1d12h'), 36 * 3600)
})

test('arithmetic between groups, as in 1year-6mo', () => {
  assert.equal(str2seconds('1year-6mo'), 365.25 * DAY / 2)
  assert.equal(str2seconds('2*60'), 120)
  assert.equal(str2seconds('1.5h'), 5400)
})

test('text that is not a duration is refused', () => {
  for (const text of ['', '10x', 'ten minutes', '1 2 3', '1h +', '5m)', '1/0']) {
    assert.throws(() => str2seconds(text), DurationSyntaxError, text)
  }
})

test('a decimal integer with a leading zero is refused, as Python 3 refuses it', () => {
  assert.throws(() => str2seconds('010'), DurationSyntaxError)
  assert.equal(str2seconds('0'), 0)
})

test('evaluate follows Python precedence and division', () => {
  assert.equal(evaluate('2.0 / 2.885385'), 2 / 2.885385)
  assert.equal(evaluate('1 + 2 * 3'), 7)
  assert.equal(evaluate('(1 + 2) * 3'), 9)
  assert.equal(evaluate('-2 ** 2'), -4)
  assert.equal(evaluate('2 ** -1'), 0.5)
  assert.equal(evaluate('7 // 2'), 3)
  assert.equal(evaluate('-7 // 2'), -4)
  assert.equal(evaluate('-7 % 3'), 2)
})

test('evaluate refuses names and calls', () => {
  for (const text of ['math.exp(1)', '__import__("os")', 'x', '1e400']) {
    assert.throws(() => evaluate(text), DurationSyntaxError, text)
  }
})
