import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../../src/config/filter-config.js'
import { runSampleFile } from '../../../src/conformance/run-conformance.js'
import { compileFilter } from '../../../src/filters/compiled-filter.js'
import { FilterMatcher } from '../../../src/filters/filter-matcher.js'

const FILTERS = join(process.cwd(), 'config/filter.d')

function matcher(opts: Record<string, string> = {}): FilterMatcher {
  const def = loadFilter(FILTERS, 'recidive', opts)
  return new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => 1124013600 }))
}

function hosts(line: string, opts: Record<string, string> = {}): (string | null)[] {
  return matcher(opts).processLine(Buffer.from(line)).failures.filter((f) => !f.nofail).map((f) => f.host)
}

test('a ban in banstream\'s own log line counts', () => {
  const r = matcher().processLine(Buffer.from('2026-11-22 10:00:00,123 fail2ban.actions [123]: NOTICE [sshd] Ban 192.0.2.1'))
  assert.equal(r.failures.length, 1)
  assert.equal(r.failures[0]!.address?.ip, '192.0.2.1')
  assert.equal(Math.floor(r.failures[0]!.time), Date.UTC(2026, 10, 22, 10, 0, 0) / 1000)
})

test('bans of the recidive jail itself do not count', () => {
  assert.deepEqual(hosts('2026-11-22 10:00:00,123 fail2ban.actions [123]: NOTICE [recidive] Ban 192.0.2.1'), [])
  assert.deepEqual(hosts('2026-11-22 10:00:00,123 fail2ban.actions        [123]: NOTICE  [recidive] Ban 192.0.2.1'), [])
})

test('jails whose names only resemble recidive still count', () => {
  for (const jail of ['recidiv', 'recidive2', 'rec', 'xrecidive']) {
    assert.deepEqual(hosts(`2026-11-22 10:00:00,123 fail2ban.actions [123]: NOTICE [${jail}] Ban 192.0.2.1`), ['192.0.2.1'], jail)
  }
})

test('_jailname restricts the counted jails', () => {
  const line = (jail: string) => `2026-11-22 10:00:00,123 fail2ban.actions [123]: NOTICE [${jail}] Ban 192.0.2.1`
  assert.deepEqual(hosts(line('sshd'), { _jailname: 'sshd' }), ['192.0.2.1'])
  assert.deepEqual(hosts(line('postfix'), { _jailname: 'sshd' }), [])
})

test('restored bans, unbans and text after the address do not count', () => {
  assert.deepEqual(hosts('2026-11-22 10:00:05,000 fail2ban.actions [123]: NOTICE [sshd] Restore Ban 192.0.2.5'), [])
  assert.deepEqual(hosts('2026-11-22 10:00:05,000 fail2ban.actions [123]: NOTICE [sshd] Unban 192.0.2.5'), [])
  assert.deepEqual(hosts('2026-11-22 10:00:05,000 fail2ban.actions [123]: NOTICE [sshd] Ban 192.0.2.5 198.51.100.1'), [])
})

test('a 100 KiB line and backtracking shapes get the right answer', () => {
  const pad = (c: string) => c.repeat(100 * 1024)
  assert.deepEqual(hosts(`2026-11-22 10:00:00,123 fail2ban.actions [123]: NOTICE [${pad('a')}] Ban 192.0.2.1`), ['192.0.2.1'])
  assert.deepEqual(hosts(`2026-11-22 10:00:00,123 fail2ban.actions${pad(' ')}[123]: NOTICE${pad(' ')}[sshd]${pad(' ')}Ban 192.0.2.1`), ['192.0.2.1'])
  assert.deepEqual(hosts(`2026-11-22 10:00:00,123 fail2ban.actions [123]: NOTICE [sshd] Ban ${pad(':')}x`), [])
  assert.deepEqual(hosts(`2026-11-22 10:00:00,123 fail2ban.actions [123]: NOTICE [${pad('r')}`), [])
  assert.deepEqual(hosts(`2026-11-22 10:00:00,123 ${pad('fail2ban.actions ')}`), [])
})

test('fail2ban\'s and banstream\'s sample logs pass', () => {
  for (const dir of ['../shared/conformance/logs', 'test/samples']) {
    const r = runSampleFile(join(process.cwd(), dir), 'recidive', { filterDir: FILTERS })
    assert.equal(r.error, undefined)
    assert.deepEqual(r.failures, [], dir)
    assert.ok(r.cases > 0)
  }
})
