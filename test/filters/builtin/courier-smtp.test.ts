import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function courier(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('courier-smtp', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('addresses in the sender or recipient cannot move the relay courier writes first', () => {
  const r = courier()('Aug 13 10:01:04 mail courieresmtpd: error,relay=::ffff:192.0.2.33,from=<x,relay=10.0.0.1,y@example.org>,to=<n,relay=10.0.0.2,@example.com>: 550 User unknown.')
  assert.equal(hostOf(r), '192.0.2.33')
})

test('AUTH arguments carrying "relay=" cannot move the host', () => {
  assert.equal(hostOf(courier()('Aug 13 10:01:05 mail courieresmtpd: error,relay=2001:db8::35,port=465,msg="535 Authentication failed.",cmd: AUTH PLAIN error,relay=10.0.0.3,msg=')), '2001:db8::35')
})

test('a relay that is not an address is never taken as the host', () => {
  assert.deepEqual(courier()('Aug 13 10:01:06 mail courieresmtpd: error,relay=evil.example.net,from=<>,to=<a@example.com>: 550 User unknown.').failures, [])
})

test('a 100 KiB recipient and backtracking shapes give the right answer', () => {
  const m = courier()
  assert.equal(hostOf(m(`Aug 13 10:01:01 mail courieresmtpd: error,relay=::ffff:192.0.2.31,from=<>,to=<${'a'.repeat(BIG)}>: 550 User unknown.`)), '192.0.2.31')
  assert.deepEqual(m(`Aug 13 10:01:01 mail courieresmtpd: error,relay=::ffff:192.0.2.31,from=<${'>,to=<'.repeat(BIG / 6)}: 550 User unknow`).failures, [])
  assert.deepEqual(m(`Aug 13 10:01:01 mail courieresmtpd: error,relay=::ffff:192.0.2.31,msg="535 Authentication failed.",cmd:${' '.repeat(BIG)}`).failures, [])
  assert.deepEqual(m(`Aug 13 10:01:01 mail courieresmtpd: error,relay=${':'.repeat(BIG)},x`).failures, [])
})
