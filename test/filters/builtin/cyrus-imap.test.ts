import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function cyrus(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('cyrus-imap', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('an address in the user name cannot move the host cyrus writes after the reverse name', () => {
  const r = cyrus()('Aug 13 10:02:04 mail imapd[99]: badlogin: host.example.net [192.0.2.42] plaintext x [10.0.0.1] y SASL(-13): authentication failure: checkpass failed')
  assert.equal(hostOf(r), '192.0.2.42')
})

test('a user name repeating "badlogin: <name> [<addr>]" cannot move the host', () => {
  const r = cyrus()('Aug 13 10:02:05 mail imapd[99]: badlogin: host.example.net [192.0.2.47] plaintext badlogin: a [10.0.0.2] plaintext b SASL(-13): authentication failure: checkpass failed')
  assert.equal(hostOf(r), '192.0.2.47')
})

test('an IPv6 client is banned by its address', () => {
  assert.equal(hostOf(cyrus()('Aug 13 10:02:01 mail cyrus/imap[1234]: badlogin: unknown [2001:db8::41] PLAIN [SASL(-13): authentication failure: Password verification failed]')), '2001:db8::41')
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = cyrus()
  assert.equal(hostOf(m(`Aug 13 10:02:04 mail imapd[99]: badlogin: h [192.0.2.42] plaintext ${'a'.repeat(BIG)} SASL(-13): authentication failure: x`)), '192.0.2.42')
  assert.deepEqual(m(`Aug 13 10:02:04 mail imapd[99]: badlogin: h [192.0.2.42] plaintext ${' '.repeat(BIG)}${'SASL(-13):'.repeat(BIG / 10)} authentication`).failures, [])
  assert.deepEqual(m(`Aug 13 10:02:04 mail imapd[99]: badlogin: ${'a'.repeat(BIG)}${':'.repeat(BIG)}`).failures, [])
})
