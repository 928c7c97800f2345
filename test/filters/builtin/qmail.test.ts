import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function qmail(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('qmail', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('the RBL text after the address cannot name another host', () => {
  assert.equal(hostOf(qmail()('Aug 13 10:07:05 mail qmail: 1123920425.000001 rblsmtpd: 192.0.2.96 pid 7003: 451 rblsmtpd: 10.0.0.1 pid 1: 451 x')), '192.0.2.96')
})

test('an rblsmtpd temporary rejection names the client, IPv6 included', () => {
  assert.equal(hostOf(qmail()('Aug 13 10:07:03 mail qmail: 1123920423.500000 rblsmtpd: 2001:db8::93 pid 7001: 451 Blocked, see http://dnsbl.example.net/')), '2001:db8::93')
})

test('a badiprbl rejection names the client', () => {
  assert.equal(hostOf(qmail()('Aug 13 10:07:02 mail qmail: 1123920422.000001 qmail-smtpd: 421 badiprbl: ip 192.0.2.92 rbl: zen.spamhaus.org')), '192.0.2.92')
})

test('a permanent rejection is not counted, as in fail2ban', () => {
  assert.deepEqual(qmail()('Aug 13 10:07:06 mail qmail: 1123920426.000001 rblsmtpd: 192.0.2.94 pid 7002: 553 Blocked').failures, [])
})

test('a 100 KiB RBL text and backtracking shapes give the right answer', () => {
  const m = qmail()
  assert.equal(hostOf(m(`Aug 13 10:07:01 mail qmail: 1.2 rblsmtpd: 192.0.2.91 pid 7: 451 ${'a'.repeat(BIG)}`)), '192.0.2.91')
  assert.deepEqual(m(`Aug 13 10:07:01 mail qmail: ${'1'.repeat(BIG)}.${' '.repeat(BIG)}rblsmtpd: 192.0.2.91 pid 7: 451`).failures, [])
  assert.deepEqual(m(`Aug 13 10:07:01 mail rblsmtpd: ${'a '.repeat(BIG / 2)}blocked 192.0.2.95 x ${':'.repeat(BIG)}`).failures, [])
})
