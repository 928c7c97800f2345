import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function spam(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('exim-spam', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

const T = '2005-08-13 10:09:01'

test('a sender written before the host and carrying "H=... rejected by local_scan()" cannot move the host', () => {
  const r = spam()(`${T} 1abcdB-000002-AB F="x H=y [10.0.0.6] P=esmtp rejected by local_scan(): "@example.org H=mx.example.net [192.0.2.106]:1234 I=[192.0.2.1]:25 P=esmtp rejected by local_scan(): Rejected`)
  assert.equal(hostOf(r), '192.0.2.106')
})

test('a sender written after the host and carrying a fake virus rejection cannot move the host', () => {
  const r = spam()(`${T} 1abcdC-000003-AB H=(x) [192.0.2.108]:1234 I=[192.0.2.1]:25 F=<"a [10.0.0.7] rejected after DATA: This message contains a virus (x)."@example.org> rejected after DATA: This message contains a virus (Eicar-Test-Signature).`)
  assert.equal(hostOf(r), '192.0.2.108')
})

test('a SpamAssassin sender with spaces makes the line unusable, not movable', () => {
  const r = spam()(`${T} 1abcdD-000004-AB SA: Action: silently tossed message: score=35.8 required=5.0 trigger=30.0 (scanned in 6/6 secs | Message-Id: x@y). From <"x (host=a [10.0.0.8]) for"@example.org> (host=real.example.net [192.0.2.110]) for me@my.com`)
  assert.deepEqual(r.failures, [])
})

test('spam accepted for the honeypot bans its sender; the honeypot is an [Init] option', () => {
  const line = `${T} 1abcdF-000006-AB SA: Action: flagged as Spam but accepted: score=8.2 required=5.0 (scanned in 6/6 secs | Message-Id: x@y). From <s@example.org> (host=h.example.net [2001:db8::109]) for trap@example.net`
  assert.deepEqual(spam()(line).failures, [])
  assert.equal(hostOf(spam({ honeypot: 'trap@example.net' })(line)), '2001:db8::109')
})

test('a temporary local_scan rejection is not a failure', () => {
  assert.deepEqual(spam()(`${T} 1abcdE-000005-AB F=<a@example.org> H=(x) [192.0.2.107] P=esmtp temporarily rejected by local_scan(): Temporary local problem`).failures, [])
})

test('a 100 KiB line and backtracking shapes give the right answer', () => {
  const m = spam()
  assert.equal(hostOf(m(`${T} 1abcdA-000001-AB F=<${'a'.repeat(BIG)}@example.org> H=(x) [192.0.2.122] P=esmtp rejected by local_scan(): Rejected`)), '192.0.2.122')
  assert.equal(hostOf(m(`${T} 1abcdA-000001-AB F=<${' H=(x) [10.0.0.1]'.repeat(BIG / 17)}> H=(x) [192.0.2.123] P=esmtp rejected by local_scan(): Rejected`)), '192.0.2.123')
  assert.deepEqual(m(`${T} 1abcdA-000001-AB F=<a> H=(x) [192.0.2.122] P=esmtp rejected by local_scan(): ${'a'.repeat(BIG)}`).failures, [])
  assert.deepEqual(m(`${T} x${' '.repeat(BIG)}${':'.repeat(BIG)} H=(x) [192.0.2.1`).failures, [])
})
