import { test } from 'node:test'
import assert from 'node:assert/strict'
import { murmur2, partitionForKey } from '../../src/log/murmur2.js'

// Kafka's own vectors: clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2).
const kafkaVectors: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
]

test('murmur2 matches the Kafka Java client test vectors', () => {
  for (const [input, expected] of kafkaVectors) {
    assert.equal(murmur2(Buffer.from(input)), expected, input)
  }
})

test('murmur2 of an empty key is the seeded finaliser', () => {
  assert.equal(murmur2(Buffer.alloc(0)), 275646681)
})

test('partitionForKey masks the sign bit before taking the modulo', () => {
  // -790332482 & 0x7fffffff = 1357151166; 1357151166 % 50 = 16
  assert.equal(partitionForKey(Buffer.from('foobar'), 50), 16)
})

test('partitionForKey always lands inside the partition count', () => {
  for (const [input] of kafkaVectors) {
    for (const partitions of [1, 3, 7, 12]) {
      const p = partitionForKey(Buffer.from(input), partitions)
      assert.ok(p >= 0 && p < partitions)
    }
  }
})
