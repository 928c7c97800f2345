import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function squirrelmail(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('squirrelmail', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a user name containing " from <ip>: Unknown user..." cannot move the banned host', () => {
  const r = squirrelmail()('10/06/2013 15:50:43 [LOGIN_ERROR] x from 198.51.100.66: Unknown user or password incorrect. (mydomain.org) from 192.0.2.50: Unknown user or password incorrect.')
  assert.equal(hostOf(r), '192.0.2.50')
})

test('text after the fixed message is not a failure', () => {
  assert.deepEqual(squirrelmail()('10/06/2013 15:50:45 [LOGIN_ERROR] d (m) from 192.0.2.52: Unknown user or password incorrect. from 198.51.100.66').failures, [])
})

test('an IPv6 client is named', () => {
  assert.equal(hostOf(squirrelmail()('10/06/2013 15:50:42 [LOGIN_ERROR] d (m) from 2001:db8::9: Unknown user or password incorrect.')), '2001:db8::9')
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = squirrelmail()
  assert.equal(hostOf(m(`10/06/2013 15:50:42 [LOGIN_ERROR] ${'a'.repeat(BIG)} (m) from 192.0.2.53: Unknown user or password incorrect.`)), '192.0.2.53')
  assert.deepEqual(m(`10/06/2013 15:50:42 [LOGIN_ERROR] ${' from '.repeat(BIG / 6)}${':'.repeat(BIG)}: Unknown user`).failures, [])
})
