import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function sogo(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('sogo-auth', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

const MSG = "might not have worked - password policy: 65535  grace: -1  expire: -1  bound: 0"

test('a user name imitating the message cannot move the banned host', () => {
  const m = sogo()
  assert.deepEqual(m(`Mar 24 08:59:08 sogod [26818]: SOGoRootPage Login from '192.0.2.72' for user 'x' might not have worked' from '198.51.100.66' for user 'y' ${MSG}`).failures, [])
  assert.equal(hostOf(m(`Mar 24 08:59:08 sogod [26818]: SOGoRootPage Login from '192.0.2.73' for user 'x from 198.51.100.66' ${MSG}`)), '192.0.2.73')
})

test('behind a proxy the first address of the forwarded list is banned, as fail2ban does', () => {
  assert.equal(hostOf(sogo()(`Mar 24 19:29:32 sogod [1526]: SOGoRootPage Login from '192.0.2.74, 10.0.0.1' for user 'admin' ${MSG}`)), '192.0.2.74')
})

test('a syslog host name and an IPv6 client are accepted', () => {
  assert.equal(hostOf(sogo()(`Mar 24 08:59:06 mail sogod [26818]: SOGoRootPage Login from '2001:db8::70' for user 'admin' ${MSG}`)), '2001:db8::70')
})

test('a 100 KiB user name and backtracking shapes give the right answer', () => {
  const m = sogo()
  assert.equal(hostOf(m(`Mar 24 08:59:08 sogod [26818]: SOGoRootPage Login from '192.0.2.75' for user '${'a'.repeat(BIG)}' ${MSG}`)), '192.0.2.75')
  assert.deepEqual(m(`Mar 24 08:59:08 sogod [26818]: SOGoRootPage Login from '192.0.2.76${','.repeat(BIG)}' for user '${' '.repeat(BIG)}' might not`).failures, [])
})
