import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  chainRestoreScript, IPSET_MAX_TIMEOUT_SECS, ipsetBanScript, ipsetChainRules, ipsetCreateScript, ipsetDestroyScript, ipsetElement,
  ipsetFlushScript, IpsetInputError, ipsetJail, ipsetReconcileScript, ipsetUnbanScript, jumpRules, parseIpsetSave,
} from '../../../sinks/actuators/ipset-commands.js'
import { parseServices } from '../../../sinks/actuators/services.js'

const services = parseServices(['ssh\t\t22/tcp', 'smtp\t\t25/tcp\t\tmail', 'submission\t587/tcp', 'sip\t\t5060/udp'].join('\n'))
const sshd = ipsetJail('sshd', { port: 'ssh', protocol: 'tcp' }, services)

describe('ipset command generation', () => {
  test('defaults follow fail2ban: port ssh, tcp, chain INPUT, REJECT with port-unreachable per family, maxelem 65536', () => {
    assert.deepEqual(sshd, {
      jail: 'sshd', name: 'sshd', ports: [{ from: 22, to: 22 }], protocols: ['tcp'], chains: ['INPUT'],
      blocktype: { 4: ['REJECT', '--reject-with', 'icmp-port-unreachable'], 6: ['REJECT', '--reject-with', 'icmp6-port-unreachable'] },
      maxelem: 65536,
    })
  })

  test('sets are created with -exist input, hash:ip and hash:net per family, timeout 0 and maxelem', () => {
    const mail = ipsetJail('postfix', { name: 'mail', maxelem: '1000' }, services)
    assert.equal(ipsetCreateScript([sshd, mail]), [
      'create bs-sshd hash:ip family inet timeout 0 maxelem 65536',
      'create bs-sshd-net hash:net family inet timeout 0 maxelem 65536',
      'create bs-sshd-v6 hash:ip family inet6 timeout 0 maxelem 65536',
      'create bs-sshd-net6 hash:net family inet6 timeout 0 maxelem 65536',
      'create bs-mail hash:ip family inet timeout 0 maxelem 1000',
      'create bs-mail-net hash:net family inet timeout 0 maxelem 1000',
      'create bs-mail-v6 hash:ip family inet6 timeout 0 maxelem 1000',
      'create bs-mail-net6 hash:net family inet6 timeout 0 maxelem 1000',
      '',
    ].join('\n'))
    assert.equal(ipsetFlushScript([sshd]), 'flush bs-sshd\nflush bs-sshd-net\nflush bs-sshd-v6\nflush bs-sshd-net6\n')
    assert.equal(ipsetDestroyScript([sshd]), 'destroy bs-sshd\ndestroy bs-sshd-net\ndestroy bs-sshd-v6\ndestroy bs-sshd-net6\n')
  })

  test('the chain is declared, emptied and filled in one iptables-restore commit per family', () => {
    assert.equal(chainRestoreScript([sshd], 4), [
      '*filter',
      ':bs-sshd - [0:0]',
      '-F bs-sshd',
      '-A bs-sshd -p tcp -m multiport --dports 22 -m set --match-set bs-sshd src -j REJECT --reject-with icmp-port-unreachable',
      '-A bs-sshd -p tcp -m multiport --dports 22 -m set --match-set bs-sshd-net src -j REJECT --reject-with icmp-port-unreachable',
      'COMMIT',
      '',
    ].join('\n'))
    assert.match(chainRestoreScript([sshd], 6),
      /^-A bs-sshd -p tcp -m multiport --dports 22 -m set --match-set bs-sshd-v6 src -j REJECT --reject-with icmp6-port-unreachable$/m)
    assert.match(chainRestoreScript([sshd], 6),
      /^-A bs-sshd -p tcp -m multiport --dports 22 -m set --match-set bs-sshd-net6 src -j REJECT --reject-with icmp6-port-unreachable$/m)
  })

  test('an argument of <known/...> takes the action default, as jail.conf passes chain', () => {
    assert.deepEqual(ipsetJail('sshd', { chain: '<known/chain>', port: 'ssh' }, services).chains, ['INPUT'])
  })

  test('every chain of `chain` jumps to the jail chain', () => {
    const j = ipsetJail('sshd', { chain: 'INPUT, FORWARD' }, services)
    assert.deepEqual(jumpRules(j), [['INPUT', '-j', 'bs-sshd'], ['FORWARD', '-j', 'bs-sshd']])
  })

  test('several protocols give one rule each; ranges use a:b; more than 15 port slots split the rule', () => {
    const sip = ipsetJail('asterisk', { port: 'sip,5061,6000:6010', protocol: 'udp,tcp', blocktype: 'DROP' }, services)
    assert.deepEqual(ipsetChainRules(sip, 4).map((r) => r.join(' ')), [
      '-p udp -m multiport --dports 5060:5061,6000:6010 -m set --match-set bs-asterisk src -j DROP',
      '-p tcp -m multiport --dports 5060:5061,6000:6010 -m set --match-set bs-asterisk src -j DROP',
      '-p udp -m multiport --dports 5060:5061,6000:6010 -m set --match-set bs-asterisk-net src -j DROP',
      '-p tcp -m multiport --dports 5060:5061,6000:6010 -m set --match-set bs-asterisk-net src -j DROP',
    ])
    const many = ipsetJail('many', { port: Array.from({ length: 20 }, (_, i) => String(1000 + 2 * i)).join(',') }, services)
    const rules = ipsetChainRules(many, 4).filter((r) => r.includes('bs-many'))
    assert.equal(rules.length, 2)
    assert.equal(rules[0]![5]!.split(',').length, 15)
    assert.equal(rules[1]![5]!.split(',').length, 5)
  })

  test('allports matches the protocol only; allports with protocol all matches every packet', () => {
    const all = ipsetJail('recidive', { type: 'allports', protocol: 'tcp' }, services)
    assert.deepEqual(ipsetChainRules(all, 4).map((r) => r.join(' ')), [
      '-p tcp -m set --match-set bs-recidive src -j REJECT --reject-with icmp-port-unreachable',
      '-p tcp -m set --match-set bs-recidive-net src -j REJECT --reject-with icmp-port-unreachable',
    ])
    const any = ipsetJail('any', { type: 'allports', protocol: 'all', blocktype: 'drop' }, services)
    assert.deepEqual(ipsetChainRules(any, 6).map((r) => r.join(' ')), ['-m set --match-set bs-any-v6 src -j DROP', '-m set --match-set bs-any-net6 src -j DROP'])
  })

  test('REJECT types map to ICMPv6 for ip6tables; tcp-reset only with tcp; other targets refused', () => {
    assert.deepEqual(ipsetJail('a', { blocktype: 'REJECT --reject-with icmp-admin-prohibited' }, services).blocktype,
      { 4: ['REJECT', '--reject-with', 'icmp-admin-prohibited'], 6: ['REJECT', '--reject-with', 'icmp6-adm-prohibited'] })
    assert.deepEqual(ipsetJail('a', { blocktype: 'REJECT --reject-with tcp-reset' }, services).blocktype[6], ['REJECT', '--reject-with', 'tcp-reset'])
    assert.throws(() => ipsetJail('a', { blocktype: 'REJECT --reject-with tcp-reset', protocol: 'udp' }, services), IpsetInputError)
    for (const bad of ['ACCEPT', 'RETURN', 'DROP; iptables -F', 'REJECT --reject-with icmp-bogus', 'DROP -j ACCEPT', 'LOG']) {
      assert.throws(() => ipsetJail('a', { blocktype: bad }, services), IpsetInputError, bad)
    }
  })

  test('hostile jail names, names and chains are refused', () => {
    for (const jail of ['ssh d', 'sshd;reboot', '$(id)', '-sshd', '', 'a\nb', 'x'.repeat(129)]) {
      assert.throws(() => ipsetJail(jail, {}, services), IpsetInputError, JSON.stringify(jail))
    }
    assert.equal(ipsetJail('sshd', { name: 'x'.repeat(22) }, services).name.length, 22)
    for (const name of ['x'.repeat(23), 'a b', '`id`', 'a/b']) {
      assert.throws(() => ipsetJail('sshd', { name }, services), IpsetInputError, name)
    }
    assert.equal(ipsetJail('3proxy', {}, services).name, '3proxy')
    for (const chain of ['INPUT -j ACCEPT', '-INPUT', 'IN;PUT', 'x'.repeat(29)]) {
      assert.throws(() => ipsetJail('sshd', { chain }, services), IpsetInputError, chain)
    }
  })

  test('bad ports, protocols, types and maxelem are refused', () => {
    const bad: Record<string, string>[] = [{ port: '70000' }, { port: 'nosuchservice' }, { port: '22;id' }, { port: '30:20' }, { port: '' },
      { protocol: 'icmp' }, { protocol: 'all' }, { type: 'bogus' }, { maxelem: '0' }, { maxelem: '1e3x' }]
    for (const args of bad) {
      assert.throws(() => ipsetJail('sshd', args, services), IpsetInputError, JSON.stringify(args))
    }
  })

  test('a ban names the family set and a re-serialised address with its timeout; permanent or too long is timeout 0', () => {
    assert.equal(ipsetBanScript([
      { jail: sshd, ip: '192.0.2.2', timeout_secs: 600 },
      { jail: sshd, ip: '2001:DB8:0:0::2', timeout_secs: null },
      { jail: sshd, ip: '192.0.2.3', timeout_secs: IPSET_MAX_TIMEOUT_SECS + 1 },
    ]), 'add bs-sshd 192.0.2.2 timeout 600\nadd bs-sshd-v6 2001:db8::2 timeout 0\nadd bs-sshd 192.0.2.3 timeout 0\n')
    assert.equal(ipsetUnbanScript([{ jail: sshd, ip: '2001:db8::2' }]), 'del bs-sshd-v6 2001:db8::2\n')
  })

  test('networks go to the hash:net set of their family, canonical', () => {
    assert.deepEqual(ipsetElement(sshd, '192.0.2.7/24'), { set: 'bs-sshd-net', family: 4, text: '192.0.2.0/24' })
    assert.deepEqual(ipsetElement(sshd, '2001:DB8:0:0:1::/64'), { set: 'bs-sshd-net6', family: 6, text: '2001:db8::/64' })
    assert.deepEqual(ipsetElement(sshd, '192.0.2.7/32'), { set: 'bs-sshd', family: 4, text: '192.0.2.7' })
  })

  test('non-addresses, /0 and bad timeouts never reach ipset', () => {
    for (const ip of ['192.0.2.2\nflush', '192.0.2.2 timeout 0', 'example.com', '0.0.0.0/0', '::/0', '192.0.2.0/33', '010.0.0.1', '']) {
      assert.throws(() => ipsetElement(sshd, ip), IpsetInputError, JSON.stringify(ip))
    }
    assert.throws(() => ipsetBanScript([{ jail: sshd, ip: '192.0.2.2', timeout_secs: 0 }]), IpsetInputError)
    assert.throws(() => ipsetBanScript([{ jail: sshd, ip: '192.0.2.2', timeout_secs: 1.5 }]), IpsetInputError)
  })

  test('ipset save output reads as set contents; timeout 0 is permanent', () => {
    const save = [
      'create bs-sshd hash:ip family inet hashsize 1024 maxelem 65536 timeout 0 bucketsize 12 initval 0x1',
      'add bs-sshd 192.0.2.4 timeout 0',
      'add bs-sshd 192.0.2.3 timeout 499',
      'create bs-sshd-v6 hash:ip family inet6 hashsize 1024 maxelem 65536 timeout 0 bucketsize 12 initval 0x2',
      'create other hash:ip family inet hashsize 1024 maxelem 65536',
      'add other 198.51.100.1',
    ].join('\n')
    assert.deepEqual(parseIpsetSave(save), new Map([
      ['bs-sshd', new Map([['192.0.2.4', null], ['192.0.2.3', 499]])],
      ['bs-sshd-v6', new Map()],
      ['other', new Map([['198.51.100.1', null]])],
    ]))
  })

  test('reconcile adds the missing, re-adds a wrong timeout, deletes the stale and leaves other sets alone', () => {
    const current = new Map([
      ['bs-sshd', new Map<string, number | null>([['192.0.2.4', null], ['192.0.2.3', 100], ['192.0.2.5', 598]])],
      ['other', new Map<string, number | null>([['198.51.100.1', null]])],
    ])
    const plan = ipsetReconcileScript([sshd], current, [
      { jail: sshd, ip: '192.0.2.3', timeout_secs: 600 },
      { jail: sshd, ip: '192.0.2.5', timeout_secs: 600 },
      { jail: sshd, ip: '2001:db8::9', timeout_secs: null },
    ])
    assert.equal(plan.script, 'del bs-sshd 192.0.2.4\nadd bs-sshd 192.0.2.3 timeout 600\nadd bs-sshd-v6 2001:db8::9 timeout 0\n')
    assert.deepEqual(plan.remove, [{ set: 'bs-sshd', element: '192.0.2.4' }])
    assert.equal(plan.add.length, 2)
    assert.equal(ipsetReconcileScript([sshd], new Map([['bs-sshd', new Map([['192.0.2.3', 598]])]]),
      [{ jail: sshd, ip: '192.0.2.3', timeout_secs: 600 }]).script, '')
  })

  test('reconcile refuses a listed element that is not an address', () => {
    assert.throws(() => ipsetReconcileScript([sshd], new Map([['bs-sshd', new Map([['x; reboot', null]])]]), []), IpsetInputError)
  })
})
