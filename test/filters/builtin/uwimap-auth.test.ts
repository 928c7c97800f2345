import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function uwimap(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('uwimap-auth', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a user name with spaces and a bracketed address cannot move the host written last', () => {
  const r = uwimap()('Aug 13 10:03:05 mail imapd[4003]: Login failed user=a host=b [10.0.0.1] auth=a host=c [10.0.0.2] host=mail.example.org [192.0.2.54]')
  assert.equal(hostOf(r), '192.0.2.54')
})

test('bracketed addresses as user and auth names are not the host', () => {
  assert.equal(hostOf(uwimap()('Aug 13 10:03:06 mail ipop3d[4005]: Login failed user=[10.0.0.3] auth=[10.0.0.4] host=[192.0.2.58]')), '192.0.2.58')
})

test('an override failure names the client, IPv6 included', () => {
  assert.equal(hostOf(uwimap()('Aug 13 10:03:03 mail imapd[4002]: Failed AUTHENTICATE override of user=alice host=x [2001:db8::53]')), '2001:db8::53')
})

test('a successful login is not a failure', () => {
  assert.deepEqual(uwimap()('Aug 13 10:03:07 mail imapd[4006]: Login user=bob host=client.example.net [192.0.2.56]').failures, [])
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = uwimap()
  assert.equal(hostOf(m(`Aug 13 10:03:01 mail imapd[4000]: Login failed user=${'a'.repeat(BIG)} auth=b host=[192.0.2.51]`)), '192.0.2.51')
  assert.equal(hostOf(m(`Aug 13 10:03:01 mail imapd[4000]: Login failed user=${' auth= host=['.repeat(BIG / 14)} auth=b host=[192.0.2.55]`)), '192.0.2.55')
  assert.deepEqual(m(`Aug 13 10:03:01 mail imapd[4000]: Login failed user=${' '.repeat(BIG)}${':'.repeat(BIG)} host=[192.0.2.51`).failures, [])
})
