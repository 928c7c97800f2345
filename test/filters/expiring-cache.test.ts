import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ExpiringCache } from '../../src/filters/expiring-cache.js'

test('an entry lives maxTime seconds from when it was set', () => {
  let now = 1000
  const c = new ExpiringCache<string>(10, 300, () => now)
  c.set('a', 'x')
  now = 1299
  assert.equal(c.get('a'), 'x')
  now = 1300
  assert.equal(c.get('a'), undefined)
  assert.equal(c.size, 0)
})

test('a full cache drops its oldest entries first, so attacker-chosen keys cannot grow it', () => {
  const c = new ExpiringCache<number>(3, 300, () => 0)
  for (let i = 0; i < 1000; i++) c.set(`conn-${i}`, i)
  assert.equal(c.size, 3)
  assert.equal(c.get('conn-0'), undefined)
  assert.equal(c.get('conn-999'), 999)
})

test('setting an existing key keeps its place and renews its time', () => {
  let now = 0
  const c = new ExpiringCache<number>(2, 10, () => now)
  c.set('a', 1)
  c.set('b', 2)
  now = 5
  c.set('a', 3)
  now = 12
  assert.equal(c.get('a'), 3)
  assert.equal(c.get('b'), undefined)
})
