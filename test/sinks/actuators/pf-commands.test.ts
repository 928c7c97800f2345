import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  pfAddress, pfAddresses, pfAnchor, PfInputError, pfJail, pfLoadArgv, pfRuleset, pfTable, pfTableArgv,
} from '../../../sinks/actuators/pf-commands.js'

const services = new Map([['ssh', 22], ['smtp', 25], ['submission', 587]])

describe('pf commands', () => {
  test("a jail's defaults are fail2ban's: table f2b-<jail> in anchor f2b/<jail>, block quick, tcp to ssh", () => {
    const jail = pfJail('sshd', {}, services)
    assert.deepEqual(jail, { jail: 'sshd', name: 'sshd', tablename: 'f2b', ports: [{ from: 22, to: 22 }], protocols: ['tcp'], block: 'block quick' })
    assert.equal(pfAnchor(jail), 'f2b/sshd')
    assert.equal(pfTable(jail), 'f2b-sshd')
    assert.equal(pfRuleset(jail), 'table <f2b-sshd> persist counters\nblock quick proto tcp from <f2b-sshd> to any port { 22 }\n')
  })

  test('name and tablename name the anchor and table; ports (names, ranges, braces) and protocols make the rule', () => {
    const jail = pfJail('postfix', { name: 'mail', tablename: 'bs', port: '{smtp, submission, 2000:2010}', protocol: 'tcp,udp', block: 'block return  quick' }, services)
    assert.equal(pfAnchor(jail), 'f2b/mail')
    assert.equal(pfRuleset(jail), 'table <bs-mail> persist counters\nblock return quick proto { tcp udp } from <bs-mail> to any port { 25 587 2000:2010 }\n')
  })

  test('actiontype=<allports> blocks every port, and protocol all every protocol', () => {
    assert.equal(pfRuleset(pfJail('sshd', { actiontype: '<allports>' }, services)),
      'table <f2b-sshd> persist counters\nblock quick proto tcp from <f2b-sshd> to any\n')
    assert.equal(pfRuleset(pfJail('sshd', { actiontype: '<allports>', protocol: 'all' }, services)),
      'table <f2b-sshd> persist counters\nblock quick from <f2b-sshd> to any\n')
  })

  test('ports with protocol all or a protocol pf has no ports for are refused', () => {
    assert.throws(() => pfJail('sshd', { protocol: 'all' }, services), PfInputError)
    assert.throws(() => pfJail('sshd', { protocol: 'sctp' }, services), PfInputError)
  })

  test('hostile or oversized names, block actions and actiontypes are refused', () => {
    assert.throws(() => pfJail('sshd; rm -rf /', {}, services), PfInputError)
    assert.throws(() => pfJail('sshd', { name: 'a>b' }, services), PfInputError)
    assert.throws(() => pfJail('sshd', { name: 'x'.repeat(28) }, services), PfInputError)
    assert.throws(() => pfJail('sshd', { block: 'pass quick' }, services), PfInputError)
    assert.throws(() => pfJail('sshd', { block: 'block quick\npass all' }, services), PfInputError)
    assert.throws(() => pfJail('sshd', { actiontype: 'any port 22' }, services), PfInputError)
  })

  test('the argv loads the anchor from stdin and changes the table from stdin; show takes no file', () => {
    const jail = pfJail('sshd', {}, services)
    assert.deepEqual(pfLoadArgv(jail), ['pfctl', '-a', 'f2b/sshd', '-f', '-'])
    assert.deepEqual(pfTableArgv(jail, 'add'), ['pfctl', '-a', 'f2b/sshd', '-t', 'f2b-sshd', '-T', 'add', '-f', '-'])
    assert.deepEqual(pfTableArgv(jail, 'delete', '/sbin/pfctl'), ['/sbin/pfctl', '-a', 'f2b/sshd', '-t', 'f2b-sshd', '-T', 'delete', '-f', '-'])
    assert.deepEqual(pfTableArgv(jail, 'show'), ['pfctl', '-a', 'f2b/sshd', '-t', 'f2b-sshd', '-T', 'show'])
  })

  test('addresses reach pfctl re-serialised, one a line; a /0 or a non-address is refused', () => {
    assert.equal(pfAddresses(['192.0.2.7', '2001:DB8::1', '198.51.100.9/24']), '192.0.2.7\n2001:db8::1\n198.51.100.0/24\n')
    assert.throws(() => pfAddress('0.0.0.0/0'), PfInputError)
    assert.throws(() => pfAddress('192.0.2.7\n10.0.0.0/8'), PfInputError)
  })
})
