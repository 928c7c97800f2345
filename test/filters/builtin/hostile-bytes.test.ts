import assert from 'node:assert/strict'
import { test } from 'node:test'
import { builtinFilter } from './builtin-filter.js'

// Lines as bytes, the way sources hand them over: control characters and invalid UTF-8 included.
function sshd(): (line: Buffer) => (string | null)[] {
  const m = builtinFilter('sshd')
  return (line) => m(line).failures.filter((f) => !f.nofail).map((f) => f.host)
}

const PREFIX = 'Aug 14 11:00:00 host sshd[42]: Failed password for invalid user '
const SUFFIX = ' from 192.0.2.1 port 2222 ssh2'
const line = (user: Buffer | string): Buffer => Buffer.concat([Buffer.from(PREFIX), Buffer.from(user), Buffer.from(SUFFIX)])

test('an escaped newline and a forged log line in a user name cannot move the banned host', () => {
  const forged = 'x\\nAug 14 11:00:00 host sshd[43]: Failed password for root from 10.0.0.1 port 1 ssh2'
  assert.deepEqual(sshd()(line(forged)), ['192.0.2.1'])
})

test('a real newline inside one line never yields the address written after it by the attacker', () => {
  const forged = 'x\nAug 14 11:00:00 host sshd[43]: Failed password for root from 10.0.0.1 port 1 ssh2 y'
  const hosts = sshd()(line(forged))
  assert.ok(!hosts.includes('10.0.0.1'), `got ${JSON.stringify(hosts)}`)
})

test('a carriage return, NUL bytes and invalid UTF-8 in a user name leave the real host', () => {
  const m = sshd()
  assert.deepEqual(m(line('a\rb')), ['192.0.2.1'])
  assert.deepEqual(m(line(Buffer.from([0x61, 0x00, 0x62]))), ['192.0.2.1'])
  assert.deepEqual(m(line(Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0x62]))), ['192.0.2.1'])
})

test('a trailing carriage return (CRLF logs) does not hide the failure', () => {
  assert.deepEqual(sshd()(Buffer.concat([line('bob'), Buffer.from('\r')])), ['192.0.2.1'])
})

test('a line of 1 MiB of NUL bytes and invalid UTF-8 is processed and yields nothing', () => {
  const junk = Buffer.alloc(1 << 20, 0)
  junk.fill(0xff, 0, 1 << 19)
  assert.deepEqual(sshd()(Buffer.concat([Buffer.from('Aug 14 11:00:00 host sshd[42]: '), junk])), [])
})
