import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../../src/config/filter-config.js'
import { compileFilter } from '../../../src/filters/compiled-filter.js'
import { FilterMatcher, type LineResult } from '../../../src/filters/filter-matcher.js'

const NOW = 1124013600

function sendmailAuth(): (line: string) => LineResult {
  const def = loadFilter(join(process.cwd(), 'config/filter.d'), 'sendmail-auth')
  const m = new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => NOW }))
  return (line) => m.processLine(Buffer.from(line))
}

const hostOf = (r: LineResult): string | null | undefined => r.failures[0]?.host

test('a user name holding relay= fields cannot move the banned host', () => {
  const s = sendmailAuth()
  const r = s('Feb 25 04:02:28 relay1 sendmail[16665]: 06I02CNi016765: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=criminal, relay=[192.0.2.100], relay=[192.0.2.4] (may be forged)')
  assert.equal(hostOf(r), '192.0.2.4')
  assert.equal(r.failures[0]?.fields['user'], 'criminal, relay=[192.0.2.100]')
  const v6 = s('Aug 13 12:00:03 mail sendmail[1236]: 07DA0112001236: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: Password verification failed, user=x, relay=evil [10.0.0.1] (may be forged), relay=client.example.org [IPv6:2001:db8::31]')
  assert.equal(hostOf(v6), '2001:db8::31')
})

test('a resolved client name that looks like a client cannot move the banned host', () => {
  const r = sendmailAuth()('Aug 13 12:00:02 mail sm-mta[1235]: 07DA0112001235: evil[10.0.0.1] [192.0.2.35] (may be forged): possible SMTP attack: command=AUTH, count=3')
  assert.equal(hostOf(r), '192.0.2.35')
})

test('text after the relay field is not a failure', () => {
  const r = sendmailAuth()('Aug 13 12:00:07 mail sm-mta[1240]: 07DA0112001240: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, relay=[192.0.2.36], user=[10.0.0.1]')
  assert.deepEqual(r.failures, [])
})

test('a 100 KiB line and backtracking shapes give the right answer', () => {
  const s = sendmailAuth()
  assert.equal(hostOf(s(`Aug 13 12:00:03 mail sendmail[1]: 07DA0112001236: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=${'u, relay=[10.0.0.1] '.repeat(5000)}, relay=[192.0.2.9]`)), '192.0.2.9')
  const shapes = [' '.repeat(50000), 'a'.repeat(50000), ':'.repeat(50000), ', relay='.repeat(10000), ' [1.2.3.4]'.repeat(10000)]
  for (const sh of shapes) {
    assert.deepEqual(s(`Aug 13 12:00:03 mail sendmail[1]: 07DA0112001236: AUTH failure (PLAIN):${sh} authentication failure: x, user=${sh}, relay=[192.0.2.9]!`).failures, [])
    assert.deepEqual(s(`Aug 13 12:00:03 mail sendmail[1]: 07DA0112001236: ${sh}[192.0.2.9]: possible SMTP attack: command=AUTH, count=x`).failures, [])
  }
})
