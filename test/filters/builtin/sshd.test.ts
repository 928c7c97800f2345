import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../../src/config/filter-config.js'
import { runSampleFile } from '../../../src/conformance/run-conformance.js'
import { compileFilter } from '../../../src/filters/compiled-filter.js'
import { FilterMatcher, type Failure } from '../../../src/filters/filter-matcher.js'

const FILTERS = join(process.cwd(), 'config/filter.d')
const PREFIX = 'Feb 25 14:34:10 belka sshd[31602]: '

function matcher(name = 'sshd', opts: Record<string, string> = {}): FilterMatcher {
  const def = loadFilter(FILTERS, name, opts)
  return new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => 1124013600 }))
}

/** The failures (not helpers) one line yields, in the given mode. */
function failures(message: string, mode = 'normal'): Failure[] {
  return matcher('sshd', { mode }).processLine(Buffer.from(PREFIX + message)).failures.filter((f) => !f.nofail)
}

function host(message: string, mode = 'normal'): string | null | undefined {
  const found = failures(message, mode)
  assert.ok(found.length <= 1, `one failure at most, got ${found.length}`)
  return found[0]?.host
}

test('a user name containing " from <ip> port <n> ssh2" cannot move the banned host', () => {
  const line = 'Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2'
  const [f] = failures(line, 'aggressive')
  assert.equal(f!.address?.ip, '127.0.0.1')
  assert.equal(f!.fields['user'], 'test from 10.10.1.2 port 55555 ssh2')
})

test('a user name carrying a fake auth info cannot move the banned host', () => {
  assert.equal(host('Failed password for invalid user x from 198.51.100.1 port 1 ssh2: y from 192.0.2.1 port 5 ssh2'), '192.0.2.1')
})

test('a user name carrying a fake key cannot move the host of a public key failure', () => {
  const line = 'Failed publickey for invalid user a from 198.51.100.2 port 1 ssh2: RSA SHA256:x from 192.0.2.2 port 4001 ssh2: ED25519 SHA256:Jq1xQ5oTnOEx0vJ8ZKfM8Gyr8z7o3+xAV3X1pZ2ZbHo'
  assert.equal(host(line), '192.0.2.2')
})

test('an auth info after the address cannot move the banned host', () => {
  assert.equal(host('Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2'), '127.0.0.1')
  assert.equal(host('Failed hostbased for dan from 127.0.0.1 port 45785 ssh2: RSA SHA256:x, client user "u from 10.0.0.1 port 1 ssh2", client host "h"'), '127.0.0.1')
})

test('a method name with " for ... from <ip>" cannot move the banned host', () => {
  assert.equal(host('Failed x for invalid user y from 198.51.100.6 port 1 ssh2 for invalid user z from 192.0.2.26 port 2 ssh2'), '192.0.2.26')
})

test('invalid, PAM and maximum-attempts messages take the address sshd wrote last', () => {
  assert.equal(host('Invalid user x from 198.51.100.3 port 1 from 192.0.2.23 port 40000'), '192.0.2.23')
  assert.equal(host('error: PAM: Authentication failure for illegal user x from 198.51.100.5 from 192.0.2.25'), '192.0.2.25')
  assert.equal(host('error: maximum authentication attempts exceeded for invalid user a from 198.51.100.4 port 1 ssh2 from 192.0.2.24 port 2222 ssh2 [preauth]'), '192.0.2.24')
})

test('an address in the SSH version string cannot move the banned host', () => {
  assert.equal(host("Bad protocol version identification 'SSH-2.0-x' from 198.51.100.10' from 192.0.2.40 port 4444", 'ddos'), '192.0.2.40')
})

test('a closed connection of a user whose name holds an address bans the real address', () => {
  assert.equal(host('Connection closed by invalid user x 198.51.100.11 port 1 192.0.2.41 port 3333 [preauth]', 'ddos'), '192.0.2.41')
  assert.equal(host('Disconnected from invalid user x 198.51.100.12 port 1 192.0.2.50 port 6000 [preauth]', 'extra'), '192.0.2.50')
})

test('a pam_unix rhost smuggled in the user name is not taken', () => {
  const m = matcher('sshd', { mode: 'aggressive' })
  const r = m.processLine(Buffer.from(`${PREFIX}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=x rhost=198.51.100.9 rhost=192.0.2.31  user=x rhost=198.51.100.9`))
  assert.deepEqual(r.failures.map((f) => f.host), [])
})

test('a change of user name whose names fake the message is not matched', () => {
  const line = 'Disconnecting invalid user x 198.51.100.8 port 1: Change of username or service not allowed: (x,y) -> (z,w) 192.0.2.30 port 4321: Change of username or service not allowed: (x 198.51.100.8 port 1: Change of username or service not allowed: (x,y) -> (z,w),ssh-connection) -> (y,ssh-connection) [preauth]'
  assert.deepEqual(failures(line, 'aggressive').map((f) => f.host), [])
})

test('an address the client writes into the service of a change of user name is not taken, even where sshd cuts the message short', () => {
  const line = (service: string) =>
    `Disconnecting authenticating user root 198.51.100.13 port 22: Change of username or service not allowed: (root,ssh-connection) -> (root,${service} [preauth]`
  for (const mode of ['normal', 'ddos', 'extra', 'aggressive']) {
    for (const service of ['x 192.0.2.77 port 1: a)', 'x 192.0.2.77 on a)', 'x 192.0.2.77 port 1: aaaaa', 'x 2001:db8::77: a)']) {
      assert.deepEqual(failures(line(service), mode).map((f) => f.host), [], `${mode}: ${service}`)
    }
  }
  assert.equal(host(line('ssh-connection)'), 'aggressive'), '198.51.100.13', 'a change without spaces names the client')
})

test('publickey = ignore does not count public key failures, any counts every one', () => {
  const valid = `${PREFIX}Failed publickey for git from 192.0.2.1 port 57904 ssh2: ECDSA SHA256:abc`
  const invalid = `${PREFIX}Failed publickey for invalid user git from 192.0.2.2 port 57904 ssh2: ECDSA SHA256:abc`
  const count = (publickey: string, line: string) =>
    matcher('sshd', { publickey }).processLine(Buffer.from(line)).failures.filter((f) => !f.nofail).length
  assert.equal(count('ignore', valid), 0)
  assert.equal(count('ignore', invalid), 0)
  assert.equal(count('invalid', valid), 0)
  assert.equal(count('invalid', invalid), 1)
  assert.equal(count('any', valid), 1)
  assert.equal(count('nofail', valid), 0)
  assert.equal(count('nofail', invalid), 1)
  assert.equal(count('ignore', `${PREFIX}Failed publickeys for git from 192.0.2.3 port 1 ssh2`), 0)
  assert.equal(count('ignore', `${PREFIX}Failed publicke for git from 192.0.2.3 port 1 ssh2`), 1)
})

test('sshd-journal reads journal lines with the sshd failregexes', () => {
  const r = matcher('sshd-journal').processLine(Buffer.from('srv sshd-session[5002]: Invalid user admin from 2001:db8::60 port 4000'), 1124013600)
  assert.equal(r.failures[0]?.address?.ip, '2001:db8::60')
})

test('a 100 KiB line and backtracking shapes get the right answer', () => {
  const pad = (c: string) => c.repeat(100 * 1024)
  assert.equal(host(`Failed password for invalid user ${pad('a')} from 192.0.2.1 port 1 ssh2`, 'aggressive'), '192.0.2.1')
  assert.equal(host(`Failed password for invalid user ${pad(' from ')}192.0.2.2 port 1 ssh2`, 'aggressive'), '192.0.2.2')
  assert.equal(host(`Failed password for invalid user a${pad(' ')}from 192.0.2.3${pad(' ')}x`, 'aggressive'), undefined)
  assert.equal(host(`Connection closed by invalid user ${pad(': ')} 192.0.2.4 port 1 [preauth]`, 'aggressive'), '192.0.2.4')
  assert.equal(host(`Connection closed by invalid user ${pad(':')}`, 'aggressive'), undefined)
  assert.equal(host(`Bad protocol version identification '${pad("' from 198.51.100.1 ")}' from 192.0.2.5 port 2`, 'aggressive'), '192.0.2.5')
  assert.equal(host(`Unable to negotiate with 192.0.2.6 port 1: no matching ${pad('a ')}found.`, 'aggressive'), undefined)
})

test('fail2ban\'s and banstream\'s sample logs pass, but for the cases the engine gets wrong', () => {
  // Engine issues (reported, not filter issues): attempts after an "Accepted" that ends a several-user
  // connection (fail2ban counts the Accepted line), and a non-participating group compared as null.
  const known = new Set(['sshd:251', 'sshd:261', 'sshd:344', 'sshd:346', 'sshd-journal:242', 'sshd-journal:252'])
  const shared = runSampleFile(join(process.cwd(), '../shared/conformance/logs'), 'sshd', { filterDir: FILTERS })
  assert.equal(shared.error, undefined)
  assert.deepEqual(shared.failures.filter((f) => !known.has(`${f.file}:${f.lineno}`)), [])
  for (const name of ['sshd', 'sshd-journal']) {
    const own = runSampleFile(join(process.cwd(), 'test/samples'), name, { filterDir: FILTERS })
    assert.equal(own.error, undefined)
    assert.deepEqual(own.failures, [], name)
    assert.ok(own.cases > 0)
  }
})
