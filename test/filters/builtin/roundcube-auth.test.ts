import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function roundcube(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('roundcube-auth', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

const ERR = '[30-Dec-2014 13:02:34 -0500]: <3z506z6r> IMAP Error: Login failed for '
const TAIL = ' in /docroot/program/lib/Roundcube/rcube_imap.php on line 221 (POST /?_task=login&_action=login)'

test('a user name containing " from <ip>. <response>" cannot move the banned host', () => {
  const r = roundcube()(`${ERR}x from 198.51.100.66. NO in /a.php on line 1 from 192.0.2.31. AUTHENTICATE PLAIN: Authentication failed.${TAIL}`)
  assert.equal(hostOf(r), '192.0.2.31')
})

test('an address the client writes into the request URI cannot move the banned host; an IMAP error whose user name holds "(" is not matched', () => {
  const m = roundcube()
  const error = `${ERR}admin from 192.0.2.39. AUTHENTICATE PLAIN: Authentication failed. in /docroot/rcube_imap.php on line 184 `
  assert.equal(hostOf(m(`${error}(POST /?_task=login&z= from 198.51.100.77 in session abc (x)`)), '192.0.2.39')
  assert.equal(hostOf(m(`${error}(POST /?z= from 198.51.100.77. in a.php on line 1 (POST x)`)), '192.0.2.39')
  assert.equal(hostOf(m(`${error}(POST /?z= from 198.51.100.77)`)), '192.0.2.39')
  assert.deepEqual(m(`${ERR}x from 198.51.100.66. NO in /a.php on line 1 (POST /) from 192.0.2.31. AUTHENTICATE PLAIN: Authentication failed.${TAIL}`).failures, [])
})

test('a user name containing " from <ip> in session" cannot move the banned host', () => {
  const r = roundcube()('[10-May-2015 13:02:54 -0400]: Failed login for x from 198.51.100.66 in session a (error: 0) from 192.0.2.32 in session b (error: 0)')
  assert.equal(hostOf(r), '192.0.2.32')
})

test('a user name repeated by the IMAP server as "user=<user>" is matched when it holds no address', () => {
  const r = roundcube()(`${ERR}admin from 127.0.0.1 from 192.0.2.33. AUTHENTICATE PLAIN: A0002 NO Login failed. user=admin from 127.0.0.1${TAIL}`)
  assert.equal(hostOf(r), '192.0.2.33')
})

test('a crafted user name repeated by the IMAP server never names its own address', () => {
  const m = roundcube()
  assert.deepEqual(m(`${ERR}x from 198.51.100.66. y from 192.0.2.34. AUTHENTICATE PLAIN: NO Login failed. user=x from 198.51.100.66. y${TAIL}`).failures, [])
  assert.deepEqual(m(`${ERR}x from 198.51.100.66. a user=b from 192.0.2.35. AUTHENTICATE PLAIN: NO Login failed.${TAIL}`).failures, [])
})

test('the proxy header after the address is allowed and IPv6 is named', () => {
  assert.equal(hostOf(roundcube()(`${ERR}admin against localhost from 2001:db8::30(X-Forwarded-For: 10.0.0.1). AUTHENTICATE PLAIN: Authentication failed.${TAIL}`)), '2001:db8::30')
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = roundcube()
  assert.equal(hostOf(m(`${ERR}${'a'.repeat(BIG)} from 192.0.2.36. AUTHENTICATE PLAIN: Authentication failed.${TAIL}`)), '192.0.2.36')
  assert.equal(hostOf(m(`${ERR}${' from'.repeat(BIG / 5)} from 192.0.2.37. ${' fro'.repeat(BIG / 4)}${TAIL}`)), '192.0.2.37')
  assert.deepEqual(m(`${ERR}${' '.repeat(BIG)} from ${':'.repeat(BIG)}. ${'user'.repeat(BIG / 4)}`).failures, [])
  assert.deepEqual(m(`${ERR}x from 192.0.2.38. ${'. '.repeat(BIG / 2)} from 1.2.3.4 in`).failures, [])
})
