/**
 * Kafka's default partitioner for keyed records (Java client
 * `Utils.murmur2` / `BuiltInPartitioner.partitionForKey`, kafkajs's
 * `DefaultPartitioner`). The embedded log uses the same function so a key
 * lands in the same partition whichever log a deployment runs on.
 */

const SEED = 0x9747b28c
const M = 0x5bd1e995
const R = 24

/** MurmurHash2 as Kafka computes it, returned as a signed 32-bit integer like Java's. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = SEED ^ length
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> R
    k = Math.imul(k, M)
    h = Math.imul(h, M)
    h ^= k
  }
  const rest = length & 3
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16
    if (rest >= 2) h ^= data[whole + 1]! << 8
    h ^= data[whole]!
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** The partition Kafka picks for a non-null key: the hash made positive by masking the sign bit, modulo the count. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}
