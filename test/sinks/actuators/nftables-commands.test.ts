import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  banScript, DEFAULT_NFTABLES_TABLE, flushScript, MAX_TIMEOUT_SECS, NftablesInputError, nftablesJail, nftablesSetName,
  nftablesTable, parseSetListing, reconcileScript, setupScript, teardownScript, unbanScript,
} from '../../../sinks/actuators/nftables-commands.js'
import { parseServices } from '../../../sinks/actuators/services.js'

const services = parseServices([
  'ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol',
  'smtp\t\t25/tcp\t\tmail',
  'imap2\t\t143/tcp\t\timap\t\t# Interim Mail Access P 2 and 4',
  'submissions\t465/tcp\t\tssmtp smtps urd',
  'submission\t587/tcp',
  'sip\t\t5060/tcp',
  'sip\t\t5060/udp',
  'git-daemon\t9418/tcp',
].join('\n'))
const table = DEFAULT_NFTABLES_TABLE
const sshd = nftablesJail('sshd', { port: 'ssh', protocol: 'tcp' }, services)

describe('nftables command generation', () => {
  test('setup creates the table, chain, four sets per jail and one rule per set', () => {
    assert.equal(setupScript(table, [sshd]), [
      'add table inet banstream',
      'add chain inet banstream input { type filter hook input priority -1; policy accept; }',
      'add set inet banstream sshd-v4 { type ipv4_addr; flags timeout; }',
      'add set inet banstream sshd-v4-net { type ipv4_addr; flags interval, timeout; }',
      'add set inet banstream sshd-v6 { type ipv6_addr; flags timeout; }',
      'add set inet banstream sshd-v6-net { type ipv6_addr; flags interval, timeout; }',
      'flush chain inet banstream input',
      'add rule inet banstream input ip saddr @sshd-v4 tcp dport { 22 } reject',
      'add rule inet banstream input ip saddr @sshd-v4-net tcp dport { 22 } reject',
      'add rule inet banstream input ip6 saddr @sshd-v6 tcp dport { 22 } reject',
      'add rule inet banstream input ip6 saddr @sshd-v6-net tcp dport { 22 } reject',
      '',
    ].join('\n'))
  })

  test('setup honours table, chain, hook, priority and set size', () => {
    const custom = nftablesTable({ table: 'f2b', chain: 'fwd', hook: 'forward', priority: 10, set_size: 65536 })
    const script = setupScript(custom, [sshd])
    assert.match(script, /^add chain inet f2b fwd \{ type filter hook forward priority 10; policy accept; \}$/m)
    assert.match(script, /^add set inet f2b sshd-v4 \{ type ipv4_addr; flags timeout; size 65536; \}$/m)
  })

  test('service names, numbers and ranges become merged sorted port sets', () => {
    const mail = nftablesJail('postfix', { port: 'submission, smtp,465,ssmtp, imap, 1000:2000, 1500-2500', protocol: 'tcp', blocktype: 'drop' }, services)
    assert.deepEqual(mail.ports, [{ from: 25, to: 25 }, { from: 143, to: 143 }, { from: 465, to: 465 }, { from: 587, to: 587 }, { from: 1000, to: 2500 }])
    assert.match(setupScript(table, [mail]), /^add rule inet banstream input ip saddr @postfix-v4 tcp dport \{ 25, 143, 465, 587, 1000-2500 \} drop$/m)
  })

  test('0:65535 and type=allports match no port', () => {
    const all = nftablesJail('recidive', { port: '0:65535', protocol: 'tcp' }, services)
    const allports = nftablesJail('recidive', { type: 'allports', port: 'ssh', protocol: 'tcp' }, services)
    assert.equal(all.ports, null)
    assert.equal(allports.ports, null)
    assert.match(setupScript(table, [all]), /^add rule inet banstream input ip saddr @recidive-v4 meta l4proto \{ tcp \} reject$/m)
  })

  test('several protocols share one rule; protocol all matches any transport', () => {
    const sip = nftablesJail('asterisk', { port: 'sip,5061', protocol: 'udp,tcp' }, services)
    assert.match(setupScript(table, [sip]), /^add rule inet banstream input ip saddr @asterisk-v4 meta l4proto \{ udp, tcp \} th dport \{ 5060-5061 \} reject$/m)
    const any = nftablesJail('any', { port: 'ssh', protocol: 'all' }, services)
    assert.match(setupScript(table, [any]), /^add rule inet banstream input ip saddr @any-v4 th dport \{ 22 \} reject$/m)
    const everything = nftablesJail('everything', { type: 'allports', protocol: 'all', blocktype: 'DROP' }, services)
    assert.match(setupScript(table, [everything]), /^add rule inet banstream input ip saddr @everything-v4 drop$/m)
  })

  test('reject variants are accepted, other block types refused', () => {
    assert.equal(nftablesJail('a', { blocktype: 'reject with icmpx type admin-prohibited' }, services).blocktype, 'reject with icmpx type admin-prohibited')
    assert.equal(nftablesJail('a', { blocktype: 'reject with tcp reset' }, services).blocktype, 'reject with tcp reset')
    assert.throws(() => nftablesJail('a', { blocktype: 'reject with tcp reset', protocol: 'udp' }, services), NftablesInputError)
    assert.throws(() => nftablesJail('a', { blocktype: 'accept' }, services), NftablesInputError)
    assert.throws(() => nftablesJail('a', { blocktype: 'drop; flush ruleset' }, services), NftablesInputError)
  })

  test('a ban of an address re-adds it with its timeout; a permanent one has none', () => {
    assert.equal(banScript(table, [
      { jail: 'sshd', ip: '192.0.2.2', timeout_secs: 600 },
      { jail: 'sshd', ip: '192.0.2.3', timeout_secs: null },
    ]), [
      'add element inet banstream sshd-v4 { 192.0.2.2, 192.0.2.3 }',
      'delete element inet banstream sshd-v4 { 192.0.2.2, 192.0.2.3 }',
      'add element inet banstream sshd-v4 { 192.0.2.2 timeout 600s, 192.0.2.3 }',
      '',
    ].join('\n'))
  })

  test('IPv6 addresses and networks go to their own sets, written canonically', () => {
    assert.equal(banScript(table, [
      { jail: 'sshd', ip: '2001:DB8:0:0::7', timeout_secs: 60 },
      { jail: 'sshd', ip: '2001:db8:1:2::/64', timeout_secs: 60 },
      { jail: 'sshd', ip: '192.0.2.9/24', timeout_secs: 60 },
    ]), [
      'add element inet banstream sshd-v6 { 2001:db8::7 }',
      'delete element inet banstream sshd-v6 { 2001:db8::7 }',
      'add element inet banstream sshd-v6 { 2001:db8::7 timeout 60s }',
      'add element inet banstream sshd-v6-net { 2001:db8:1:2::/64 }',
      'delete element inet banstream sshd-v6-net { 2001:db8:1:2::/64 }',
      'add element inet banstream sshd-v6-net { 2001:db8:1:2::/64 timeout 60s }',
      'add element inet banstream sshd-v4-net { 192.0.2.0/24 }',
      'delete element inet banstream sshd-v4-net { 192.0.2.0/24 }',
      'add element inet banstream sshd-v4-net { 192.0.2.0/24 timeout 60s }',
      '',
    ].join('\n'))
  })

  test('an address banned twice in one batch is written once, with the later timeout', () => {
    const script = banScript(table, [
      { jail: 'sshd', ip: '192.0.2.2', timeout_secs: 60 },
      { jail: 'sshd', ip: '192.0.2.2', timeout_secs: 120 },
    ])
    assert.match(script, /^add element inet banstream sshd-v4 \{ 192\.0\.2\.2 timeout 120s \}$/m)
    assert.equal(script.split('\n').filter((l) => l.includes('192.0.2.2')).length, 3)
  })

  test('a timeout past what nft accepts becomes no timeout', () => {
    assert.match(banScript(table, [{ jail: 'sshd', ip: '192.0.2.2', timeout_secs: MAX_TIMEOUT_SECS + 1 }]), /^add element inet banstream sshd-v4 \{ 192\.0\.2\.2 \}\n$/m)
    assert.throws(() => banScript(table, [{ jail: 'sshd', ip: '192.0.2.2', timeout_secs: 0 }]), NftablesInputError)
  })

  test('an unban adds then deletes, so an absent element is no error', () => {
    assert.equal(unbanScript(table, [{ jail: 'sshd', ip: '192.0.2.2' }]), [
      'add element inet banstream sshd-v4 { 192.0.2.2 }',
      'delete element inet banstream sshd-v4 { 192.0.2.2 }',
      '',
    ].join('\n'))
  })

  test('flush empties every set; teardown deletes the table even when absent', () => {
    assert.equal(flushScript(table, [sshd]), [
      'flush set inet banstream sshd-v4', 'flush set inet banstream sshd-v4-net',
      'flush set inet banstream sshd-v6', 'flush set inet banstream sshd-v6-net', '',
    ].join('\n'))
    assert.equal(teardownScript(table), 'add table inet banstream\ndelete table inet banstream\n')
  })

  test('hostile jail names are refused everywhere', () => {
    for (const jail of ['ssh d', 'sshd;flush ruleset', 'sshd}', '', '-x', '_x', 'a'.repeat(129), 'sshd\n']) {
      assert.throws(() => nftablesJail(jail, {}, services), NftablesInputError, jail)
      assert.throws(() => banScript(table, [{ jail, ip: '192.0.2.2', timeout_secs: 1 }]), NftablesInputError, jail)
    }
  })

  test('a jail name starting with a digit gets sets with a leading underscore', () => {
    assert.equal(nftablesSetName('3proxy', 4, false), '_3proxy-v4')
    assert.match(banScript(table, [{ jail: '3proxy', ip: '192.0.2.2', timeout_secs: 1 }]), /_3proxy-v4 \{ 192\.0\.2\.2 timeout 1s \}/)
  })

  test('non-address input never reaches a script', () => {
    for (const ip of ['192.0.2.2 }; flush ruleset; add element inet banstream sshd-v4 { 1.1.1.1', 'example.com', '192.0.2.256',
      '0.0.0.0/0', '::/0', '192.0.2.2/33', '', '010.0.0.1']) {
      assert.throws(() => banScript(table, [{ jail: 'sshd', ip, timeout_secs: 1 }]), NftablesInputError, ip)
      assert.throws(() => unbanScript(table, [{ jail: 'sshd', ip }]), NftablesInputError, ip)
    }
  })

  test('bad ports, protocols and table names are refused', () => {
    assert.throws(() => nftablesJail('a', { port: 'nosuchservice' }, services), /unknown service name/)
    assert.throws(() => nftablesJail('a', { port: '70000' }, services), /invalid port/)
    assert.throws(() => nftablesJail('a', { port: '22 }; flush ruleset' }, services), /invalid port/)
    assert.throws(() => nftablesJail('a', { port: '30:20' }, services), /backwards/)
    assert.throws(() => nftablesJail('a', { protocol: 'icmp' }, services), /protocol/)
    assert.throws(() => nftablesJail('a', { type: 'custom' }, services), /type/)
    assert.throws(() => nftablesTable({ table: 'bad table' }), NftablesInputError)
    assert.throws(() => nftablesTable({ hook: 'ingress' as 'input' }), NftablesInputError)
  })

  test('a set listing reads addresses, networks, ranges and what time they have left', () => {
    const listing = parseSetListing(JSON.stringify({ nftables: [
      { metainfo: { version: '1.0.6' } },
      { table: { family: 'inet', name: 'banstream' } },
      { set: { family: 'inet', name: 'sshd-v4', table: 'banstream', type: 'ipv4_addr', flags: ['timeout'], elem: [
        { elem: { val: '192.0.2.2', timeout: 600, expires: 599 } }, '192.0.2.3'] } },
      { set: { family: 'inet', name: 'sshd-v6-net', table: 'banstream', type: 'ipv6_addr', flags: ['interval', 'timeout'], elem: [
        { elem: { val: { prefix: { addr: '2001:db8:1:2::', len: 64 } }, timeout: 60, expires: 12 } },
        { range: ['2001:db8::1', '2001:db8::5'] }] } },
      { set: { family: 'inet', name: 'sshd-v6', table: 'banstream', type: 'ipv6_addr', flags: ['timeout'] } },
    ] }))
    assert.deepEqual(listing, new Map([
      ['sshd-v4', new Map([['192.0.2.2', 599], ['192.0.2.3', null]])],
      ['sshd-v6-net', new Map([['2001:db8:1:2::/64', 12], ['2001:db8::1-2001:db8::5', null]])],
      ['sshd-v6', new Map()],
    ]))
  })

  test('reconcile adds missing bans, refreshes drifted timeouts, removes stale elements and keeps the rest', () => {
    const current = new Map([
      ['sshd-v4', new Map<string, number | null>([['192.0.2.2', 598], ['192.0.2.3', 10], ['192.0.2.4', null], ['192.0.2.5', 100]])],
      ['sshd-v6-net', new Map<string, number | null>([['2001:db8::1-2001:db8::5', null]])],
      ['other-v4', new Map<string, number | null>([['198.51.100.1', null]])],
    ])
    const plan = reconcileScript(table, [sshd], current, [
      { jail: 'sshd', ip: '192.0.2.2', timeout_secs: 600 },
      { jail: 'sshd', ip: '192.0.2.3', timeout_secs: 600 },
      { jail: 'sshd', ip: '192.0.2.4', timeout_secs: null },
      { jail: 'sshd', ip: '2001:db8::9', timeout_secs: 30 },
    ])
    assert.deepEqual(plan.add.map((b) => b.ip), ['192.0.2.3', '2001:db8::9'])
    assert.deepEqual(plan.remove, [{ set: 'sshd-v4', element: '192.0.2.5' }, { set: 'sshd-v6-net', element: '2001:db8::1-2001:db8::5' }])
    assert.equal(plan.script, [
      'add element inet banstream sshd-v4 { 192.0.2.5 }',
      'delete element inet banstream sshd-v4 { 192.0.2.5 }',
      'add element inet banstream sshd-v6-net { 2001:db8::1-2001:db8::5 }',
      'delete element inet banstream sshd-v6-net { 2001:db8::1-2001:db8::5 }',
      'add element inet banstream sshd-v4 { 192.0.2.3 }',
      'delete element inet banstream sshd-v4 { 192.0.2.3 }',
      'add element inet banstream sshd-v4 { 192.0.2.3 timeout 600s }',
      'add element inet banstream sshd-v6 { 2001:db8::9 }',
      'delete element inet banstream sshd-v6 { 2001:db8::9 }',
      'add element inet banstream sshd-v6 { 2001:db8::9 timeout 30s }',
      '',
    ].join('\n'))
  })

  test('reconcile of a firewall already in step plans nothing', () => {
    const current = new Map([['sshd-v4', new Map<string, number | null>([['192.0.2.2', 598]])]])
    const plan = reconcileScript(table, [sshd], current, [{ jail: 'sshd', ip: '192.0.2.2', timeout_secs: 600 }])
    assert.deepEqual(plan, { script: '', add: [], remove: [] })
  })

  test('a listed element that is not an address is refused, not deleted', () => {
    const current = new Map([['sshd-v4', new Map<string, number | null>([['1.2.3.4 } ; flush ruleset', null]])]])
    assert.throws(() => reconcileScript(table, [sshd], current, []), NftablesInputError)
  })

  test('services: first name wins, aliases resolve, comments skipped', () => {
    assert.equal(services.get('imap'), 143)
    assert.equal(services.get('ssmtp'), 465)
    assert.equal(services.get('sip'), 5060)
    assert.deepEqual(nftablesJail('git', { port: 'git-daemon,ssh:git-daemon' }, services).ports, [{ from: 22, to: 9418 }])
    assert.equal(services.get('#'), undefined)
  })
})
