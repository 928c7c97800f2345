import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function assp(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('assp', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('envelope addresses after the client address cannot move the banned host', () => {
  const r = assp()('Jul-29-16 16:49:53 m1-25391-06125 [Worker_1] [TLS-out] [RelayAttempt] 192.0.2.91 <198.51.100.66@example.com> to: 198.51.100.67@example.org relay attempt blocked for: someone@example.org')
  assert.equal(hostOf(r), '192.0.2.91')
})

test('an envelope address with a blank is not a failure', () => {
  assert.deepEqual(assp()('Jul-29-16 16:49:54 [Worker_1] [TLS-out] 192.0.2.92 <a b@example.com> 198.51.100.66 relay attempt blocked for: someone@example.org').failures, [])
})

test('an IPv6 client of an SMTP authentication error is named', () => {
  assert.equal(hostOf(assp()('Jul-30-16 17:07:26 [Worker_1] [TLS-out] 2001:db8::13 [SMTP Error] 535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6')), '2001:db8::13')
})

test('a 100 KiB field and backtracking shapes give the right answer', () => {
  const m = assp()
  assert.equal(hostOf(m(`Jul-29-16 16:49:53 [Worker_1] 192.0.2.93 <${'a'.repeat(BIG)}@b.c> relay attempt blocked for: x@y`)), '192.0.2.93')
  assert.deepEqual(m(`Jul-29-16 16:49:53 ${'a '.repeat(BIG / 2)}${'[x] '.repeat(BIG / 4)}${':'.repeat(BIG)} relay`).failures, [])
  assert.deepEqual(m(`Apr-07-13 07:08:36 [SSL-out] 192.0.2.94 SSL negotiation with client failed: SSL accept attempt failed with unknown error${':'.repeat(BIG)}`).failures, [])
})
