import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../../src/config/filter-config.js'
import { runSampleFile } from '../../../src/conformance/run-conformance.js'
import { compileFilter } from '../../../src/filters/compiled-filter.js'
import { FilterMatcher, type Failure } from '../../../src/filters/filter-matcher.js'

const FILTERS = join(process.cwd(), 'config/filter.d')
const PREFIX = 'Aug 10 14:55:10 srv sshd[4021]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh '

function failures(line: string, opts: Record<string, string> = {}): readonly Failure[] {
  const def = loadFilter(FILTERS, 'pam-generic', opts)
  const m = new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => 1124013600 }))
  return m.processLine(Buffer.from(line)).failures
}

test('the remote host and the user of a pam_unix failure are captured', () => {
  const [f, ...rest] = failures(`${PREFIX}ruser=root rhost=2001:db8::5  user=admin`)
  assert.equal(rest.length, 0)
  assert.equal(f!.address?.ip, '2001:db8::5')
  assert.equal(f!.fields['user'], 'admin')
})

test('ruser stands in for a missing user', () => {
  const [f] = failures(`${PREFIX}ruser=bob rhost=192.0.2.1`)
  assert.equal(f!.fields['user'], 'bob')
})

test('a login name carrying " rhost=<ip>" cannot choose the banned host', () => {
  const name = 'x rhost=198.51.100.7'
  const hosts = failures(`${PREFIX}ruser=${name} rhost=192.0.2.6  user=${name}`).map((f) => f.host)
  assert.ok(!hosts.includes('198.51.100.7'), `got ${hosts.join(',')}`)
})

test('a login name carrying a whole "rhost=<ip>  user=" tail cannot choose the banned host', () => {
  const name = 'a rhost=198.51.100.7  user=b'
  const hosts = failures(`${PREFIX}ruser=${name} rhost=192.0.2.7  user=${name}`).map((f) => f.host)
  assert.ok(!hosts.includes('198.51.100.7'), `got ${hosts.join(',')}`)
})

test('without a user field the last rhost is the host, whatever the remote user holds', () => {
  const [f, ...rest] = failures(`${PREFIX}ruser=test rhost=198.51.100.7 rhost=192.0.2.8`)
  assert.equal(f?.host, '192.0.2.8')
  assert.equal(f?.fields['user'], 'test rhost=198.51.100.7')
  assert.equal(rest.length, 0)
})

test('a user name ending in " rhost=<ip>" cannot pose as the last rhost', () => {
  assert.deepEqual(failures(`${PREFIX}ruser=a rhost=192.0.2.9  user=b rhost=198.51.100.7`), [])
  assert.deepEqual(failures(`${PREFIX}ruser= rhost=192.0.2.9 user=b rhost=198.51.100.7`), [])
})

test('_ttys_re limits the services', () => {
  const line = `${PREFIX}ruser= rhost=192.0.2.1  user=admin`
  assert.equal(failures(line, { _ttys_re: 'ftp' }).length, 0)
  assert.equal(failures(line, { _ttys_re: '(?:ssh|ftp)' }).length, 1)
})

test('a 100 KiB line and backtracking shapes get the right answer', () => {
  const pad = (c: string) => c.repeat(100 * 1024)
  assert.equal(failures(`${PREFIX}ruser=${pad('a')} rhost=192.0.2.1  user=${pad('a')}`)[0]?.host, '192.0.2.1')
  assert.equal(failures(`${PREFIX}ruser=${pad(' ')} rhost=192.0.2.1 ${pad(' ')}x`).length, 0)
  assert.equal(failures(`${PREFIX}ruser= rhost=${pad(':')}x`).length, 0)
  assert.equal(failures(`${PREFIX}${pad('ruser=a ')}`).length, 0)
})

test('fail2ban\'s and banstream\'s sample logs pass', () => {
  for (const dir of ['../shared/conformance/logs', 'test/samples']) {
    const r = runSampleFile(join(process.cwd(), dir), 'pam-generic', { filterDir: FILTERS })
    assert.equal(r.error, undefined)
    assert.deepEqual(r.failures, [], dir)
    assert.ok(r.cases > 0)
  }
})
