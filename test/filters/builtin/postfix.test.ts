import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const MODES = ['normal', 'rbl', 'auth', 'more', 'ddos', 'extra', 'aggressive', 'errors']

function postfix(mode = 'more'): (line: string) => LineResult {
  return builtinFilter('postfix', { mode })
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('every fail2ban mode of postfix loads and compiles for RE2', () => {
  for (const mode of MODES) assert.ok(postfix(mode), mode)
})

test('client pairs in the recipient, sender and HELO cannot move the banned host', () => {
  const r = postfix()('Aug 13 10:00:02 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from mail.example.net[192.0.2.50]: 550 5.1.1 <x[10.0.0.1]@example.com>: Recipient address rejected: User unknown in virtual mailbox table; from=<a from unknown[10.0.0.2]: 554 5.7.1 @example.org> to=<x[10.0.0.1]@example.com> proto=ESMTP helo=<unknown[10.0.0.3]>')
  assert.equal(hostOf(r), '192.0.2.50')
})

test('pipelined client input after the client pair cannot move the banned host', () => {
  const r = postfix('normal')('Aug 13 10:00:04 mail postfix/smtpd[1]: improper command pipelining after CONNECT from unknown[192.0.2.60]: EHLO x from unknown[10.0.0.9]')
  assert.equal(hostOf(r), '192.0.2.60')
})

test('an address in the SASL user name cannot move the banned host', () => {
  const r = postfix('auth')('Aug 13 10:01:03 mail postfix/smtpd[1]: warning: unknown[192.0.2.71]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=x unknown[10.0.0.1]: SASL LOGIN authentication failed:')
  assert.equal(hostOf(r), '192.0.2.71')
})

test('a SASL failure names the user from sasl_username', () => {
  const r = postfix('auth')('Aug 13 10:01:01 mail postfix/smtpd[1]: warning: unknown[2001:db8::70]:52344: SASL LOGIN authentication failed: authentication failure, sasl_username=admin@example.com')
  assert.equal(hostOf(r), '2001:db8::70')
  assert.equal(r.failures[0]?.fields['user'], 'admin@example.com')
})

test('a SASL failure lost to the authentication server is not counted in any mode', () => {
  const line = 'Aug 13 10:01:04 mail postfix/smtpd[1]: warning: unknown[192.0.2.72]: SASL LOGIN authentication failed: Connection lost to authentication server, sasl_username=bob'
  for (const mode of ['auth', 'extra', 'aggressive']) assert.deepEqual(postfix(mode)(line).failures, [], mode)
})

test('an invalid SASL mechanism counts in aggressive mode only', () => {
  const line = 'Aug 13 10:01:05 mail postfix/smtpd[1]: warning: host[192.0.2.5]: SASL CRAM-MD5 authentication failed: Invalid authentication mechanism'
  assert.deepEqual(postfix('auth')(line).failures, [])
  assert.deepEqual(postfix('extra')(line).failures, [])
  assert.equal(hostOf(postfix('aggressive')(line)), '192.0.2.5')
})

test('a disconnect counts only when the client tried AUTH and never succeeded', () => {
  const ddos = postfix('ddos')
  assert.equal(hostOf(ddos('Aug 13 10:02:05 mail postfix/smtpd[1]: disconnect from unknown[2001:db8::84] ehlo=1 auth=0/3 commands=1/4')), '2001:db8::84')
  assert.deepEqual(ddos('Aug 13 10:02:04 mail postfix/smtpd[1]: disconnect from unknown[192.0.2.83] ehlo=1 auth=1 quit=1 commands=3').failures, [])
  assert.deepEqual(ddos('Aug 13 10:02:04 mail postfix/smtpd[1]: disconnect from unknown[192.0.2.83] ehlo=1 quit=1 commands=2').failures, [])
})

test('a lost connection after DATA or AUTH is not counted, after other commands it is', () => {
  const ddos = postfix('ddos')
  for (const cmd of ['DATA', 'AUTH', 'DATA (0 bytes)']) {
    assert.deepEqual(ddos(`Aug 13 10:02:03 mail postfix/smtpd[1]: lost connection after ${cmd} from unknown[192.0.2.82]`).failures, [], cmd)
  }
  for (const cmd of ['CONNECT', 'EHLO', 'DAT', 'DATAX', 'AUTHX', 'AUTO', 'UNKNOWN']) {
    assert.equal(hostOf(ddos(`Aug 13 10:02:03 mail postfix/smtpd[1]: lost connection after ${cmd} from unknown[192.0.2.82]`)), '192.0.2.82', cmd)
  }
})

test('a 100 KiB line and backtracking shapes give the right answer', () => {
  const more = postfix()
  const longHelo = 'a'.repeat(100 * 1024)
  assert.equal(hostOf(more(`Aug 13 10:00:01 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x@example.com>: Relay access denied; from=<> to=<x@example.com> proto=ESMTP helo=<${longHelo}>`)), '192.0.2.1')
  const shapes = [' '.repeat(50000), 'a'.repeat(50000), ':'.repeat(50000), '[a'.repeat(25000), 'from x['.repeat(10000)]
  for (const s of shapes) {
    assert.deepEqual(more(`Aug 13 10:00:01 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from ${s}!`).failures, [])
    assert.deepEqual(postfix('aggressive')(`Aug 13 10:00:01 mail postfix/smtpd[1]: warning: ${s}[192.0.2.1]: SASL LOGIN authentication failed${s}`).failures, [])
  }
})
