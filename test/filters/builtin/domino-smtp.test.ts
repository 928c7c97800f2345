import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function domino(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('domino-smtp', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a user name containing " ; connecting host <ip>" cannot move the banned host', () => {
  const r = domino()('2018-09-19 17:25:54   SMTP Server: Authentication failed for user x ; connecting host 198.51.100.66 y ; connecting host 192.0.2.101')
  assert.equal(hostOf(r), '192.0.2.101')
})

test('a user name imitating "[<ip>] authentication failure" is not a failure', () => {
  assert.deepEqual(domino()('2016-11-07 22:21:23   smtp: x [198.51.100.66] authentication failure using internet password y [192.0.2.102] authentication failure using internet password').failures, [])
})

test('a user name with blanks is reported and the IPv6 client named', () => {
  const r = domino()('2016-11-07 22:21:21   smtp: user with space [2001:db8::14] authentication failure using internet password')
  assert.equal(hostOf(r), '2001:db8::14')
  assert.equal(r.failures[0]?.fields['user'], 'user with space')
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = domino()
  assert.equal(hostOf(m(`2018-09-19 17:25:54   SMTP Server: Authentication failed for user ${'a'.repeat(BIG)} ; connecting host 192.0.2.103`)), '192.0.2.103')
  assert.equal(hostOf(m(`2016-11-07 22:21:21   smtp: ${'a '.repeat(BIG / 2)}[192.0.2.104] authentication failure using internet password`)), '192.0.2.104')
  assert.deepEqual(m(`2016-11-07 22:21:21   smtp: ${'a '.repeat(BIG / 2)}${':'.repeat(BIG)} authentication failure`).failures, [])
})
