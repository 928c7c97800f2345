import { test } from 'node:test'
import assert from 'node:assert/strict'
import { partitionKey, Topics } from '../../schemas/topics.js'

test('keys an IPv4 address by itself', () => {
  assert.equal(partitionKey('192.0.2.1'), '192.0.2.1')
})

test('keys every address of an IPv6 /48 alike, so prefix counting stays in one partition', () => {
  assert.equal(partitionKey('2001:db8:1:2::1'), '2001:db8:1::/48')
  assert.equal(partitionKey('2001:db8:1:ffff::9'), '2001:db8:1::/48')
})

test('names the topics of the architecture', () => {
  assert.deepEqual(Object.values(Topics).map((t) => t.name), ['lines', 'failures', 'decisions', 'actuations', 'commands'])
})
