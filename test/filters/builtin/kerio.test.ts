import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function kerio(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('kerio', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('recipient and sender addresses containing ", IP address <ip>" cannot move the banned host', () => {
  const r = kerio()('[18/May/2017 07:25:18] Attempt to deliver to unknown recipient <a, IP address 198.51.100.66@x>, from <b, IP address 198.51.100.67@y>, IP address 192.0.2.81')
  assert.equal(hostOf(r), '192.0.2.81')
})

test('a user name containing "Attempt from IP address <ip>." cannot move the banned host', () => {
  const r = kerio()("[18/May/2017 07:25:19] SMTP: User x doesn't exist. Attempt from IP address 198.51.100.66. y doesn't exist. Attempt from IP address 192.0.2.82.")
  assert.equal(hostOf(r), '192.0.2.82')
})

test('text after an end-of-line address that Kerio does not write is not a failure', () => {
  assert.deepEqual(kerio()('[18/May/2017 07:25:21] Attempt to deliver to unknown recipient <a@b>, from <c@d>, IP address 192.0.2.84 from 198.51.100.66').failures, [])
})

test('an IPv6 client is named', () => {
  assert.equal(hostOf(kerio()('[18/May/2017 07:25:16] Failed SMTP login from 2001:db8::12 with SASL method PLAIN.')), '2001:db8::12')
})

test('a 100 KiB field and backtracking shapes give the right answer', () => {
  const m = kerio()
  assert.equal(hostOf(m(`[18/May/2017 07:25:18] Attempt to deliver to unknown recipient <${'a'.repeat(BIG)}>, from <${', '.repeat(BIG / 2)}>, IP address 192.0.2.85`)), '192.0.2.85')
  assert.deepEqual(m(`[18/May/2017 07:25:18] SMTP: User ${' '.repeat(BIG)} doesn't exist. Attempt from IP address ${':'.repeat(BIG)}x`).failures, [])
})
