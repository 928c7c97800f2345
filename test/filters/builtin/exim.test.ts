import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function exim(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('exim', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

const T = '2005-08-13 10:08:01'

test('every mode of exim loads and compiles for RE2', () => {
  for (const mode of ['normal', 'more', 'aggressive']) assert.ok(exim({ mode }), mode)
})

test('a set_id repeating the failure text cannot move the host', () => {
  const r = exim()(`${T} login authenticator failed for (x) [192.0.2.100]: 535 Incorrect authentication data (set_id=x) [10.0.0.1]: 535 Incorrect authentication data (set_id=y)`)
  assert.equal(hostOf(r), '192.0.2.100')
})

test('an IP literal HELO is not taken for the host', () => {
  assert.equal(hostOf(exim()(`${T} plain_server authenticator failed for ([10.0.0.2]) [192.0.2.102]:1234: 535 Incorrect authentication data`)), '192.0.2.102')
})

test('a HELO glued to a bracketed address cannot become the host', () => {
  assert.equal(hostOf(exim()(`${T} login authenticator failed for (x)[10.0.0.2]:25) [192.0.2.101]: 535 Incorrect authentication data`)), '192.0.2.101')
})

test('a quoted sender carrying "H=... [addr]" cannot move the host of a rejected recipient', () => {
  const r = exim({ mode: 'more' })(`${T} H=(x) [192.0.2.103]:5000 I=[192.0.2.1]:25 F=<"x H=y [10.0.0.3] rejected RCPT"@example.org> rejected RCPT <a@example.com>: relay not permitted`)
  assert.equal(hostOf(r), '192.0.2.103')
  assert.equal(r.failures[0]?.fields['rcpt'], '<a@example.com>')
})

test('a rejected command carrying a host before the real one cannot move it', () => {
  const m = exim({ mode: 'more' })
  assert.equal(hostOf(m(`${T} SMTP protocol error in "AUTH LOGIN" H=(x) [10.0.0.7] AUTH command used when not advertised" H=(ylmf-pc) [192.0.2.107]:4001 I=[192.0.2.1]:25 AUTH command used when not advertised`)), '192.0.2.107')
  assert.equal(hostOf(m(`${T} SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected "EHLO x [10.0.0.4] next input=" H=(x) [192.0.2.104]:4000 next input="QUIT"`)), '192.0.2.104')
})

test('quotes in both a rejected command and its pipelined input make the line unusable, not movable', () => {
  const r = exim({ mode: 'more' })(`${T} SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected "EHLO x" H=y [10.0.0.5] next input="" H=(x) [192.0.2.105]:4000 next input="QUIT"`)
  assert.deepEqual(r.failures, [])
})

test('pipelined input sent before the greeting cannot move the host', () => {
  const r = exim({ mode: 'more' })(`${T} SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection from H=[2001:db8::106]:4000 I=[2001:db8::1]:25 input="EHLO x H=[10.0.0.6] input="`)
  assert.equal(hostOf(r), '2001:db8::106')
})

test('a temporary rejection is not a failure', () => {
  assert.deepEqual(exim({ mode: 'aggressive' })(`${T} H=(x) [192.0.2.114]:5000 F=<a@example.org> temporarily rejected RCPT <a@example.com>: greylisted`).failures, [])
})

test('DNS and ACL rejections count in aggressive mode only', () => {
  const line = `${T} H=[2001:db8::115]:62839 dropped by 'connect' ACL: Country is banned`
  assert.deepEqual(exim({ mode: 'more' })(line).failures, [])
  assert.equal(hostOf(exim({ mode: 'aggressive' })(line)), '2001:db8::115')
})

test('a 100 KiB line and backtracking shapes give the right answer', () => {
  const m = exim({ mode: 'aggressive' })
  assert.equal(hostOf(m(`${T} login authenticator failed for (x) [192.0.2.100]: 535 Incorrect authentication data (set_id=${'a'.repeat(BIG)})`)), '192.0.2.100')
  assert.equal(hostOf(m(`${T} SMTP protocol error in "${'" H=(x) [10.0.0.1]'.repeat(BIG / 18)}" H=(x) [192.0.2.107] AUTH command used when not advertised`)), '192.0.2.107')
  assert.deepEqual(m(`${T} H=(x) [192.0.2.103]${' ab=c'.repeat(BIG / 5)}${' '.repeat(BIG)} rejected RCP`).failures, [])
  assert.deepEqual(m(`${T} login authenticator failed for ${'a'.repeat(BIG)}${':'.repeat(BIG)} [192.0.2.1`).failures, [])
  assert.deepEqual(m(`${T} ${'[1] '.repeat(BIG / 4)}SMTP connection from [192.0.2.1] closed by DROP in AC`).failures, [])
})
