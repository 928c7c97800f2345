import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function pop3(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('solid-pop3d', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a user name ending in " - <addr>" cannot move the host written last', () => {
  assert.equal(hostOf(pop3()('Aug 13 10:05:05 mail solid-pop3d[7005]: authentication failed for user x - 10.0.0.1 - 192.0.2.74')), '192.0.2.74')
  assert.equal(hostOf(pop3()('Aug 13 10:05:06 mail solid-pop3d[7006]: APOP authentication failed for mapped user y - 10.0.0.2 - 2001:db8::76')), '2001:db8::76')
})

test('an address followed by more text is not the line\'s host', () => {
  assert.deepEqual(pop3()('Aug 13 10:05:08 mail solid-pop3d[7008]: authentication failed for user x - 192.0.2.78 trailing').failures, [])
})

test('each failure message of solid-pop3d is a failure', () => {
  const m = pop3()
  for (const msg of ['authentication failed: no such user: bob', "authentication failed: can't map user name: x", "can't find APOP secret for user bob", 'root login not allowed']) {
    assert.equal(hostOf(m(`Aug 13 10:05:01 mail solid-pop3d[7001]: ${msg} - 192.0.2.71`)), '192.0.2.71', msg)
  }
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = pop3()
  assert.equal(hostOf(m(`Aug 13 10:05:01 mail solid-pop3d[1]: authentication failed for user ${'a'.repeat(BIG)} - 192.0.2.71`)), '192.0.2.71')
  assert.equal(hostOf(m(`Aug 13 10:05:01 mail solid-pop3d[1]: authentication failed for user ${' - 1'.repeat(BIG / 4)} - 192.0.2.72`)), '192.0.2.72')
  assert.deepEqual(m(`Aug 13 10:05:01 mail solid-pop3d[1]: authentication failed for user ${' '.repeat(BIG)}${':'.repeat(BIG)} - 192.0.2.`).failures, [])
})
