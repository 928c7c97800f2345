import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'


function sendmailReject(mode = 'normal'): (line: string) => LineResult {
  return builtinFilter('sendmail-reject', { mode })
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('every fail2ban mode of sendmail-reject loads and compiles for RE2', () => {
  for (const mode of ['normal', 'extra', 'aggressive']) assert.ok(sendmailReject(mode), mode)
})

test('an address literal in the recipient cannot move the banned host', () => {
  const r = sendmailReject()('Aug 13 12:10:02 mail sm-mta[2002]: 07DAA1Bc002002: ruleset=check_rcpt, arg1=<a@[10.0.0.1]>, relay=[192.0.2.41], reject=550 5.7.1 <a@[10.0.0.1]>... Relaying denied. Proper authentication required.')
  assert.equal(hostOf(r), '192.0.2.41')
})

test('a recipient with blanks that holds a second relay= field is not matched', () => {
  const r = sendmailReject()('Aug 13 12:10:02 mail sm-mta[2002]: 07DAA1Bc002002: ruleset=check_rcpt, arg1=<a@x>, relay=[10.0.0.1], reject=550 5.1.1 <a@x>..., relay=[192.0.2.41], reject=550 5.1.1 <a@x>... User unknown')
  assert.deepEqual(r.failures, [])
})

test('an address in an EXPN or VRFY argument cannot move the banned host', () => {
  const s = sendmailReject()
  assert.equal(hostOf(s('Aug 13 12:10:03 mail sm-mta[2003]: 07DAA1Bc002003: [192.0.2.42]: VRFY root@[10.0.0.1] [rejected]')), '192.0.2.42')
  assert.equal(hostOf(s('Aug 13 12:10:04 mail sm-mta[2004]: 07DAA1Bc002004: host.example.org [192.0.2.43]: EXPN a [10.0.0.1]: b [rejected]')), '192.0.2.43')
})

test('an unknown user is banned by the address on the from= line of the same mail id, whatever the sender address holds', () => {
  const s = sendmailReject()
  assert.equal(s('Aug 13 12:10:07 mail sendmail[2007]: 07DAA1Bc002007: <nobody@example.com>... No such user here').failures.every((f) => f.host === null), true)
  const r = s('Aug 13 12:10:07 mail sendmail[2007]: 07DAA1Bc002007: from=<x, relay=[10.0.0.1]@example.org>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=[192.0.2.45]')
  assert.equal(hostOf(r), '192.0.2.45')
  assert.equal(r.failures[0]?.nofail, false)
})

test('a from= line without an unknown user on the same mail id is no failure', () => {
  const r = sendmailReject()('Aug 13 12:10:09 mail sendmail[2009]: 07DAA1Bc002009: from=<a@example.org>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=[192.0.2.46]')
  assert.equal(r.failures.every((f) => f.nofail), true)
})

test('a resolved name that looks like a client cannot move the banned host in extra mode', () => {
  const r = sendmailReject('extra')('Aug 13 12:11:01 mail sm-mta[2101]: 07DAB1Bc002101: evil[10.0.0.1] [192.0.2.49] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA')
  assert.equal(hostOf(r), '192.0.2.49')
})

test('a 100 KiB line and backtracking shapes give the right answer', () => {
  const s = sendmailReject('aggressive')
  assert.equal(hostOf(s(`Aug 13 12:10:04 mail sm-mta[2004]: 07DAA1Bc002004: host.example.org [192.0.2.43]: EXPN ${'a'.repeat(100 * 1024)} [rejected]`)), '192.0.2.43')
  const shapes = [' '.repeat(50000), 'a'.repeat(50000), ':'.repeat(50000), '<a@b>...'.repeat(10000), ' [1.2.3.4]'.repeat(10000)]
  for (const sh of shapes) {
    assert.deepEqual(s(`Aug 13 12:10:02 mail sm-mta[2002]: 07DAA1Bc002002: ruleset=check_rcpt, arg1=<a@${sh}>, relay=[192.0.2.41], reject=550 5.7.1 <a@b>... User unknow`).failures, [])
    assert.deepEqual(s(`Aug 13 12:10:02 mail sm-mta[2002]: 07DAA1Bc002002: x${sh}[192.0.2.41] did not issue MAIL during connection to ${sh}`).failures, [])
  }
})
