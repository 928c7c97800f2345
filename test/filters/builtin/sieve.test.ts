import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function sieve(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('sieve', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('an address in the SASL detail cannot move the host timsieved writes first', () => {
  const r = sieve()('Aug 13 10:04:04 mail cyrus/timsieved[5003]: badlogin: host.example.net [192.0.2.63] PLAIN SASL(-13): user not found: user: x [10.0.0.1] property: cmusaslsecretPLAIN not found in sasldb')
  assert.equal(hostOf(r), '192.0.2.63')
})

test('a name glued to the address (older timsieved) names the client, IPv6 included', () => {
  assert.equal(hostOf(sieve()('Aug 13 10:04:02 mail timsieved[5001]: badlogin: unknown[2001:db8::62] PLAIN authentication failure')), '2001:db8::62')
})

test('a SASL error other than an authentication failure is not a failure', () => {
  assert.deepEqual(sieve()('Aug 13 10:04:05 mail timsieved[5004]: badlogin: host [192.0.2.64] PLAIN SASL(-4): no mechanism available').failures, [])
})

test('a 100 KiB line and backtracking shapes give the right answer', () => {
  const m = sieve()
  assert.equal(hostOf(m(`Aug 13 10:04:01 mail sieved[1]: badlogin: h [192.0.2.61] PLAIN SASL(-13): authentication failure: ${'a'.repeat(BIG)}`)), '192.0.2.61')
  assert.deepEqual(m(`Aug 13 10:04:01 mail sieved[1]: badlogin: ${'a'.repeat(BIG)}${' '.repeat(BIG)}[192.0.2.61] PLAIN authentication failur`).failures, [])
  assert.deepEqual(m(`Aug 13 10:04:01 mail sieved[1]: badlogin: h [192.0.2.61] PLAIN ${':'.repeat(BIG)}`).failures, [])
})
