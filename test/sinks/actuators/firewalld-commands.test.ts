import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  directRuleArgv, directRules, entriesArgv, entryFailures, firewalldEntry, FirewalldInputError, firewalldJail, firewalldSets, isJailRule,
  newIpsetArgv, parseDirectRules,
} from '../../../sinks/actuators/firewalld-commands.js'

const services = new Map([['ssh', 22], ['smtp', 25]])
const REJECT4 = ['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable']
const REJECT6 = ['-j', 'REJECT', '--reject-with', 'icmp6-port-unreachable']

describe('firewalld commands', () => {
  test("firewallcmd-ipset's defaults: sets f2b-<jail>(6) and direct rules in INPUT_direct rejecting tcp to ssh", () => {
    const jail = firewalldJail('sshd', 'firewallcmd-ipset', {}, services)
    assert.deepEqual(firewalldSets(jail).map((s) => [s.name, s.type, s.family]), [
      ['f2b-sshd', 'hash:ip', 4], ['f2b-sshd-net', 'hash:net', 4], ['f2b-sshd6', 'hash:ip', 6], ['f2b-sshd-net6', 'hash:net', 6],
    ])
    assert.deepEqual(directRules(jail), [
      ['ipv4', 'filter', 'INPUT_direct', '0', '-p', 'tcp', '-m', 'multiport', '--dports', '22', '-m', 'set', '--match-set', 'f2b-sshd', 'src', ...REJECT4],
      ['ipv4', 'filter', 'INPUT_direct', '0', '-p', 'tcp', '-m', 'multiport', '--dports', '22', '-m', 'set', '--match-set', 'f2b-sshd-net', 'src', ...REJECT4],
      ['ipv6', 'filter', 'INPUT_direct', '0', '-p', 'tcp', '-m', 'multiport', '--dports', '22', '-m', 'set', '--match-set', 'f2b-sshd6', 'src', ...REJECT6],
      ['ipv6', 'filter', 'INPUT_direct', '0', '-p', 'tcp', '-m', 'multiport', '--dports', '22', '-m', 'set', '--match-set', 'f2b-sshd-net6', 'src', ...REJECT6],
    ])
  })

  test('actiontype=<allports> matches every port; name, protocol, chain and blocktype as given', () => {
    const jail = firewalldJail('postfix', 'firewallcmd-ipset', { actiontype: '<allports>', name: 'mail', protocol: 'udp', chain: 'INPUT', blocktype: 'DROP' }, services)
    assert.deepEqual(directRules(jail)[0], ['ipv4', 'filter', 'INPUT', '0', '-p', 'udp', '-m', 'set', '--match-set', 'f2b-mail', 'src', '-j', 'DROP'])
  })

  test('firewallcmd-multiport and -new keep their match of new connections; -allports has none', () => {
    const multiport = firewalldJail('sshd', 'firewallcmd-multiport', { port: 'ssh,smtp' }, services)
    assert.deepEqual(directRules(multiport)[0]!.slice(0, 12),
      ['ipv4', 'filter', 'INPUT_direct', '0', '-m', 'conntrack', '--ctstate', 'NEW', '-p', 'tcp', '-m', 'multiport'])
    assert.equal(directRules(multiport)[0]![13], '22,25')
    const fresh = firewalldJail('sshd', 'firewallcmd-new', {}, services)
    assert.deepEqual(directRules(fresh)[0]!.slice(4, 8), ['-m', 'state', '--state', 'NEW'])
    const all = firewalldJail('sshd', 'firewallcmd-allports', { port: 'smtp' }, services)
    assert.deepEqual(directRules(all)[0], ['ipv4', 'filter', 'INPUT_direct', '0', '-p', 'tcp', '-m', 'set', '--match-set', 'f2b-sshd', 'src', ...REJECT4])
  })

  test('rejecttype sets the reject message when blocktype is not given', () => {
    const jail = firewalldJail('sshd', 'firewallcmd-ipset', { rejecttype: 'icmp-host-prohibited' }, services)
    assert.deepEqual(directRules(jail)[0]!.slice(-4), ['-j', 'REJECT', '--reject-with', 'icmp-host-prohibited'])
    assert.deepEqual(directRules(jail)[2]!.slice(-4), ['-j', 'REJECT', '--reject-with', 'icmp6-adm-prohibited'])
  })

  test('hostile names, ports, chains, block types and unknown actions are refused', () => {
    assert.throws(() => firewalldJail('sshd$(id)', 'firewallcmd-ipset', {}, services), FirewalldInputError)
    assert.throws(() => firewalldJail('sshd', 'firewallcmd-ipset', { name: 'a b' }, services), FirewalldInputError)
    assert.throws(() => firewalldJail('sshd', 'firewallcmd-ipset', { port: '22;reboot' }, services), FirewalldInputError)
    assert.throws(() => firewalldJail('sshd', 'firewallcmd-ipset', { chain: 'INPUT -j ACCEPT' }, services), FirewalldInputError)
    assert.throws(() => firewalldJail('sshd', 'firewallcmd-ipset', { blocktype: 'ACCEPT' }, services), FirewalldInputError)
    assert.throws(() => firewalldJail('sshd', 'firewallcmd-ipset', { actiontype: '-j ACCEPT' }, services), FirewalldInputError)
    assert.throws(() => firewalldJail('sshd', 'firewallcmd-rich-rules', {}, services), FirewalldInputError)
  })

  test('a set is created permanent, with fail2ban timeout and maxelem options and the family for IPv6', () => {
    const jail = firewalldJail('sshd', 'firewallcmd-ipset', { maxelem: '1000' }, services)
    const sets = firewalldSets(jail)
    const v4 = sets[0]!
    const v6net = sets[3]!
    assert.deepEqual(newIpsetArgv(v4, jail.maxelem),
      ['firewall-cmd', '--permanent', '--new-ipset=f2b-sshd', '--type=hash:ip', '--option=timeout=0', '--option=maxelem=1000'])
    assert.deepEqual(newIpsetArgv(v6net, jail.maxelem),
      ['firewall-cmd', '--permanent', '--new-ipset=f2b-sshd-net6', '--type=hash:net', '--option=timeout=0', '--option=maxelem=1000', '--option=family=inet6'])
  })

  test("direct rules are read from --get-all-rules; only rules over a jail's sets are the jail's", () => {
    const jail = firewalldJail('sshd', 'firewallcmd-ipset', {}, services)
    const rules = parseDirectRules('ipv4 filter INPUT_direct 0 -p tcp -m multiport --dports 2222 -m set --match-set f2b-sshd src -j DROP\n' +
      'ipv4 filter INPUT_direct 0 -p tcp -m set --match-set f2b-sshd-other src -j DROP\nipv4 filter INPUT_direct 0 -s 192.0.2.1 -j ACCEPT\n')
    assert.deepEqual(rules.map((r) => isJailRule(jail, r)), [true, false, false])
    assert.deepEqual(directRuleArgv('remove', rules[0]!).slice(0, 7), ['firewall-cmd', '--direct', '--remove-rule', 'ipv4', 'filter', 'INPUT_direct', '0'])
  })

  test('an address goes to the hash:ip set of its family and a network to the hash:net one; a /0 is refused', () => {
    const jail = firewalldJail('sshd', 'firewallcmd-ipset', {}, services)
    assert.deepEqual(firewalldEntry(jail, '192.0.2.7'), { set: 'f2b-sshd', entry: '192.0.2.7' })
    assert.deepEqual(firewalldEntry(jail, '2001:DB8::7'), { set: 'f2b-sshd6', entry: '2001:db8::7' })
    assert.deepEqual(firewalldEntry(jail, '192.0.2.9/24'), { set: 'f2b-sshd-net', entry: '192.0.2.0/24' })
    assert.deepEqual(firewalldEntry(jail, '2001:db8::/64'), { set: 'f2b-sshd-net6', entry: '2001:db8::/64' })
    assert.throws(() => firewalldEntry(jail, '::/0'), FirewalldInputError)
    assert.throws(() => firewalldEntry(jail, "192.0.2.7' --add-rich-rule='x"), FirewalldInputError)
  })

  test('entries reach firewall-cmd one option each, canonical only', () => {
    assert.deepEqual(entriesArgv('add', 'f2b-sshd', ['192.0.2.7', '192.0.2.8']),
      ['firewall-cmd', '--ipset=f2b-sshd', '--add-entry=192.0.2.7', '--add-entry=192.0.2.8'])
    assert.deepEqual(entriesArgv('remove', 'f2b-sshd6', ['2001:db8::7']), ['firewall-cmd', '--ipset=f2b-sshd6', '--remove-entry=2001:db8::7'])
    assert.throws(() => entriesArgv('add', 'f2b-sshd', ['192.0.2.7 --reload']), FirewalldInputError)
  })

  test("firewall-cmd's warnings fail only the entries they name; ALREADY_ENABLED and NOT_ENABLED are success", () => {
    const stderr = "Warning: ALREADY_ENABLED: '192.0.2.2' already is in 'f2b-sshd-net'\n" +
      "Warning: INVALID_ENTRY: Entry '192.0.2.0/25' overlaps with existing entry '192.0.2.0/24'\n" +
      "Warning: NOT_ENABLED: '192.0.2.99' not in 'f2b-sshd-net'\n"
    assert.deepEqual(entryFailures(['192.0.2.2', '192.0.2.0/25', '192.0.2.99'], 0, stderr),
      new Map([['192.0.2.0/25', "Warning: INVALID_ENTRY: Entry '192.0.2.0/25' overlaps with existing entry '192.0.2.0/24'"]]))
  })

  test('a failure naming no entry of the call fails every entry with it', () => {
    assert.deepEqual(entryFailures(['192.0.2.1', '192.0.2.2'], 135, 'Error: INVALID_IPSET: f2b-nope\n'),
      new Map([['192.0.2.1', 'Error: INVALID_IPSET: f2b-nope'], ['192.0.2.2', 'Error: INVALID_IPSET: f2b-nope']]))
    assert.deepEqual(entryFailures(['192.0.2.1'], 252, 'FirewallD is not running\n'), new Map([['192.0.2.1', 'FirewallD is not running']]))
    assert.deepEqual(entryFailures(['192.0.2.1'], 0, "Warning: ALREADY_ENABLED: '192.0.2.1' already is in 'f2b-sshd'\n"), new Map())
  })
})
