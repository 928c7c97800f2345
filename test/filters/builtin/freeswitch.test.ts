import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function freeswitch(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('freeswitch', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a SIP user or domain containing " from <ip>" cannot move the banned host', () => {
  const m = freeswitch()
  assert.equal(hostOf(m("2016-09-25 18:58:01.150982 [WARNING] sofia_reg.c:2889 Can't find user [x] from 198.51.100.66 [y@example.com] from 192.0.2.41")), '192.0.2.41')
  assert.equal(hostOf(m("2016-09-25 18:58:02.150982 [WARNING] sofia_reg.c:1720 SIP auth failure (INVITE) on sofia profile 'internal' for [a] from ip 198.51.100.66 [b@c] from ip 192.0.2.42")), '192.0.2.42')
})

test('text after the address that FreeSWITCH does not write is not a failure', () => {
  assert.deepEqual(freeswitch()("2016-09-25 18:58:01.150982 [WARNING] sofia_reg.c:2889 Can't find user [x@y] from 192.0.2.41 from 198.51.100.66").failures, [])
})

test('challenges count in the ddos and extra modes only', () => {
  const line = "2016-09-25 18:58:03.150982 [WARNING] sofia_reg.c:1533 SIP auth challenge (REGISTER) on sofia profile 'internal' for [100@h] from ip 2001:db8::43"
  assert.equal(hostOf(freeswitch()(line)), '2001:db8::43')
  assert.equal(hostOf(freeswitch({ mode: 'ddos' })(line)), '2001:db8::43')
  assert.deepEqual(freeswitch({ mode: 'normal' })(line).failures, [])
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = freeswitch()
  assert.equal(hostOf(m(`2016-09-25 18:58:01.150982 [WARNING] sofia_reg.c:2889 Can't find user [${'a'.repeat(BIG)}] from 192.0.2.44`)), '192.0.2.44')
  assert.equal(hostOf(m(`2016-09-25 18:58:01.150982 [WARNING] sofia_reg.c:2889 Can't find user [${'] from '.repeat(BIG / 7)}] from 192.0.2.45`)), '192.0.2.45')
  assert.deepEqual(m(`2016-09-25 18:58:01.150982 ${' '.repeat(BIG)}[WARNING] sofia_reg.c:2889 Can't find user [${':'.repeat(BIG)}`).failures, [])
})
