import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'


function dovecot(mode = 'normal'): (line: string) => LineResult {
  return builtinFilter('dovecot', { mode })
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a login user name repeating method= and rip= cannot move the banned host', () => {
  const r = dovecot()('Aug 13 11:00:02 mail dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=10.0.0.1, lip=10.0.0.2, session=<a>, method=PLAIN, rip=192.0.2.20, lip=192.0.2.1, TLS, session=<8GHj2mQf0gDAqAAC>')
  assert.equal(hostOf(r), '192.0.2.20')
})

test('rhost= smuggled into ruser and user of pam_unix cannot move the banned host', () => {
  const r = dovecot()('Aug 13 11:00:03 mail dovecot: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=10.0.0.1 rhost=192.0.2.21  user=rhost=10.0.0.1')
  assert.equal(hostOf(r), '192.0.2.21')
  assert.equal(r.failures[0]?.fields['user'], 'rhost=10.0.0.1')
})

test('an address inside the auth user name cannot move the banned host', () => {
  assert.equal(hostOf(dovecot()('Aug 13 11:00:04 mail dovecot: auth: passwd-file(a,10.0.0.1,192.0.2.22): unknown user')), '192.0.2.22')
  assert.equal(hostOf(dovecot()('Aug 13 11:00:07 mail dovecot: auth-worker(1234): pam(x,10.0.0.1,192.0.2.25,<Yx7+W8+Io>): pam_authenticate() failed: Permission denied')), '192.0.2.25')
})

test('a logged password holding a driver(user,ip) group cannot move the banned host', () => {
  const d = dovecot()
  assert.equal(hostOf(d('Aug 13 11:00:05 mail dovecot: auth: sql(bob,192.0.2.23,<Yx7+W8+Io>): Password mismatch (given password: x,10.0.0.1): Password mismatch (y)')), '192.0.2.23')
  assert.equal(hostOf(d('Aug 13 11:00:06 mail dovecot: auth(bob,2001:db8::24,sasl:plain)<AbC+dEf/123>: Info: passwd-file: Password mismatch (given password: auth(x,10.0.0.1): Password mismatch)')), '2001:db8::24')
})

test('a failure message without any address names no host', () => {
  assert.deepEqual(dovecot()('Aug 13 11:00:05 mail dovecot: auth: Password mismatch (given password: 10.0.0.1)').failures, [])
})

test('no auth attempts counts in aggressive mode only', () => {
  const line = 'Aug 13 11:00:10 mail dovecot: pop3-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.28, lip=192.0.2.1, session=<s9fKfVHEMLWYYOdX>'
  assert.deepEqual(dovecot()(line).failures, [])
  assert.equal(hostOf(dovecot('aggressive')(line)), '192.0.2.28')
})

test('a 100 KiB line and backtracking shapes give the right answer', () => {
  const d = dovecot('aggressive')
  const reason = ': a'.repeat(30000)
  assert.equal(hostOf(d(`Aug 31 16:06:05 host dovecot: imap-login: Disconnected${reason} (reason: x) (tried to use disallowed test auth): user=<${'u'.repeat(100 * 1024)}>, rip=192.0.2.111`)), '192.0.2.111')
  const shapes = [' '.repeat(50000), 'a'.repeat(50000), ':'.repeat(50000), ' ('.repeat(25000), ': a'.repeat(20000), ',1.2.3.4'.repeat(10000)]
  for (const s of shapes) {
    assert.deepEqual(d(`Aug 31 16:06:06 host dovecot: imap-login: Disconnected${s} test no match`).failures, [])
    assert.deepEqual(d(`Aug 31 16:06:06 host dovecot: auth: sql(${s}): Password mismatc`).failures, [])
  }
})
