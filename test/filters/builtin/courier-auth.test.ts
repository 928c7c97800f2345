import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function courier(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('courier-auth', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a user name containing ", ip=[<addr>]" cannot move the banned host', () => {
  const r = courier()('Aug 13 10:00:05 mail imapd: LOGIN FAILED, user=x, ip=[10.0.0.1], port=[1], ip=[::ffff:192.0.2.21], port=[143]')
  assert.equal(hostOf(r), '192.0.2.21')
  assert.equal(r.failures[0]?.fields['user'], 'x, ip=[10.0.0.1], port=[1]')
})

test('a failure without a user (SASL method only) names the client', () => {
  assert.equal(hostOf(courier()('Aug 13 10:00:02 mail pop3d-ssl: LOGIN FAILED, method=CRAM-MD5, ip=[2001:db8::20], port=[995]')), '2001:db8::20')
})

test('text after the address that courier does not write is not a failure', () => {
  assert.deepEqual(courier()('Aug 13 10:00:05 mail imapd: LOGIN FAILED, user=x, ip=[192.0.2.21] from 10.0.0.1').failures, [])
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = courier()
  assert.equal(hostOf(m(`Aug 13 10:00:05 mail imapd: LOGIN FAILED, user=${'a'.repeat(BIG)}, ip=[::ffff:192.0.2.21]`)), '192.0.2.21')
  assert.equal(hostOf(m(`Aug 13 10:00:05 mail imapd: LOGIN FAILED, user=${', ip=['.repeat(BIG / 6)}, ip=[192.0.2.22]`)), '192.0.2.22')
  assert.deepEqual(m(`Aug 13 10:00:05 mail imapd: LOGIN FAILED, user=${' '.repeat(BIG)}${':'.repeat(BIG)}, ip=[::ffff:192.0.2`).failures, [])
  assert.deepEqual(m(`Aug 13 10:00:05 mail imapd: LOGIN FAILED, ${'a=, '.repeat(BIG / 4)}ip=[x]`).failures, [])
})
