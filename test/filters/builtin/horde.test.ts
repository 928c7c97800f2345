import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function horde(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('horde', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

const TAIL = ' to Horde [on line 116 of "/home/h/public_html/horde/login.php"]'

test('a user name containing " [<ip>] to Horde [...]" cannot move the banned host', () => {
  const r = horde()(`Nov 11 18:58:01 HORDE [error] [horde] FAILED LOGIN for x [198.51.100.66] to Horde [on line 1 of "/x"] y [192.0.2.62]${TAIL}`)
  assert.equal(hostOf(r), '192.0.2.62')
})

test('the forwarded-for address is not the one banned', () => {
  assert.equal(hostOf(horde()(`Nov 11 18:58:00 HORDE [error] [horde] FAILED LOGIN for g [192.0.2.61](forwarded for [198.51.100.66])${TAIL}`)), '192.0.2.61')
})

test('a failure behind a proxy, as Horde writes it, names the peer Horde saw (REMOTE_ADDR); an X-Forwarded-For holding "]" never names its own address', () => {
  const m = horde()
  const imp = (forwarded: string) =>
    `Oct 29 15:00:34 HORDE [error] [imp] FAILED LOGIN for g [192.0.2.65] (forwarded for [${forwarded}]) to {127.0.0.1:143 [imap/notls]} [pid 21916 on line 139 of "/usr/share/psa-horde/imp/lib/Auth/imp.php"]`
  assert.equal(hostOf(m(imp('198.51.100.67, 10.0.0.1'))), '192.0.2.65')
  assert.deepEqual(m(imp('x]) to Horde [on line 1 of a] [198.51.100.68')).failures.map((f) => f.host), [])
  assert.deepEqual(m(imp('x] [198.51.100.69')).failures.map((f) => f.host), [])
})

test('an IMP failure to an IMAP server names an IPv6 client', () => {
  const r = horde()('Nov 11 18:57:58 HORDE [error] [imp] FAILED LOGIN for g [2001:db8::60] to {localhost:143 [imap]} [pid 12345 on line 730 of "/usr/share/horde/imp/lib/Auth.php"]')
  assert.equal(hostOf(r), '2001:db8::60')
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = horde()
  assert.equal(hostOf(m(`Nov 11 18:58:01 HORDE [error] [horde] FAILED LOGIN for ${'a'.repeat(BIG)} [192.0.2.63]${TAIL}`)), '192.0.2.63')
  assert.equal(hostOf(m(`Nov 11 18:58:01 HORDE [error] [horde] FAILED LOGIN for ${'[ ] '.repeat(BIG / 4)} [192.0.2.64]${TAIL}`)), '192.0.2.64')
  assert.deepEqual(m(`Nov 11 18:58:01 HORDE [error] [horde] FAILED LOGIN for ${' '.repeat(BIG)}[${':'.repeat(BIG)}] to Horde [on line`).failures, [])
})
