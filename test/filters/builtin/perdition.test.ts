import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LineResult } from '../../../src/filters/filter-matcher.js'
import { builtinFilter } from './builtin-filter.js'

const BIG = 100 * 1024

function perdition(opts: Record<string, string> = {}): (line: string) => LineResult {
  return builtinFilter('perdition', opts)
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

const FAILED = 'server="imap.example.com:993" protocol=IMAP4S server-secure=ssl status="failed: local authentication failure"'

test('an authentication id carrying "Auth: <addr>:<port>->" cannot move the client address written first', () => {
  const r = perdition()(`Aug 13 10:06:03 mail perdition.imaps[6002]: Auth: 192.0.2.82:40001->192.0.2.1:993 client-secure=ssl authorisation_id=NONE authentication_id="x" Auth: 10.0.0.1:1->10.0.0.2:2 y" ${FAILED}`)
  assert.equal(hostOf(r), '192.0.2.82')
})

test('a successful authentication is not a failure', () => {
  assert.deepEqual(perdition()('Aug 13 10:06:04 mail perdition.imap4[6003]: Auth: 192.0.2.84:40002->192.0.2.1:143 client-secure=plaintext authorisation_id=NONE authentication_id="bob" server="imap.example.com:143" protocol=IMAP4 server-secure=plaintext status="ok"').failures, [])
})

test('a client that drops the authentication exchange is a failure', () => {
  assert.equal(hostOf(perdition()('Aug 13 10:06:02 mail perdition.pop3s[6001]: Fatal Error reading authentication information from client 192.0.2.83:50000->192.0.2.1:995: Exiting child')), '192.0.2.83')
})

test('a 100 KiB authentication id and backtracking shapes give the right answer', () => {
  const m = perdition()
  const head = 'Aug 13 10:06:01 mail perdition.imaps[1]: Auth: 192.0.2.81:4->192.0.2.1:993 client-secure=ssl authorisation_id=NONE authentication_id="'
  assert.equal(hostOf(m(`${head}${'a'.repeat(BIG)}" ${FAILED}`)), '192.0.2.81')
  assert.deepEqual(m(`${head}${'" server="'.repeat(BIG / 10)}${' '.repeat(BIG)}`).failures, [])
  assert.deepEqual(m(`Aug 13 10:06:01 mail perdition.imaps[1]: Auth: ${':'.repeat(BIG)}->`).failures, [])
})
