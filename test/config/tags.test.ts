import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '../../src/config/errors.js'
import { substituteRecursiveTags } from '../../src/config/tags.js'

const run = (tags: Record<string, string>, how = {}) => Object.fromEntries(substituteRecursiveTags(new Map(Object.entries(tags)), how))

test('replaces tags recursively and leaves unknown tags such as <HOST> and </F-USER>', () => {
  assert.deepEqual(run({ a: '<b>-<HOST>', b: '<c>x', c: 'C', d: '<F-USER>.*</F-USER>' }), {
    a: 'Cx-<HOST>', b: 'Cx', c: 'C', d: '<F-USER>.*</F-USER>',
  })
})

test('resolves a tag built from another tag, <lt_<logtype>/p>', () => {
  const lookups: Record<string, string> = { 'lt_journal/p': 'J' }
  assert.deepEqual(run({ logtype: 'journal', p: '<lt_<logtype>/p>' }, { addrepl: (t: string) => lookups[t] }), { logtype: 'journal', p: 'J' })
})

test('asks addrepl only for tags that are not options', () => {
  const asked: string[] = []
  run({ a: '<b> <x>', b: '1' }, { addrepl: (t: string) => { asked.push(t); return undefined } })
  assert.deepEqual([...new Set(asked)], ['x'])
})

test('ignored names are neither substituted nor substituted into', () => {
  assert.deepEqual(run({ a: '<b> <ip>', b: '<c>', c: '1' }, { ignore: ['b'] }), { a: '<b> <ip>', b: '<c>', c: '1' })
})

test('prefers <tag?conditional> when a conditional is given', () => {
  assert.deepEqual(run({ a: '<b>', b: '4', 'b?family=inet6': '6' }, { conditional: 'family=inet6' }), { a: '6', b: '4', 'b?family=inet6': '6' })
})

test('a tag loop is an error', () => {
  assert.throws(() => run({ a: '<b>', b: '<a>' }), ConfigError)
})

test('does not modify its input', () => {
  const input = new Map([['a', '<b>'], ['b', '1']])
  substituteRecursiveTags(input)
  assert.equal(input.get('a'), '<b>')
})
