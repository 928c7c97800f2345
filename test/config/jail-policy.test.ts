import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import { test } from 'node:test'
import { ConfigError } from '../../src/config/errors.js'
import { loadJails, type JailConfig } from '../../src/config/jail-config.js'
import { jailPolicyOptions } from '../../src/config/jail-policy.js'
import { banTimeSecs } from '../../streams/ban-time.js'
import { jailPolicy } from '../../streams/decide-policy.js'

// fail2ban's unmodified configuration tree, beside the repository (/work/shared/fail2ban).
const TREE = resolve(process.cwd(), '../shared/fail2ban')

function jail(options: Record<string, string>, name = 'test'): JailConfig {
  return { name, enabled: true, options, actions: [], logpath: [] }
}

function refusal(option: string, value: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ConfigError, String(err))
    assert.equal(err.option, option)
    assert.match(err.message, /jail \[test\]/)
    assert.ok(err.message.includes(option) && err.message.includes(value), err.message)
    return true
  }
}

function refuses(options: Record<string, string>, option: string): void {
  assert.throws(() => jailPolicyOptions(jail(options)), refusal(option, options[option]!), `${option} = ${options[option]}`)
}

test('every jail of fail2ban\'s jail.conf maps to a valid policy', () => {
  const jails = loadJails(TREE)
  assert.ok(jails.length > 90)
  for (const config of jails) {
    const policy = jailPolicy(jailPolicyOptions(config))
    assert.equal(policy.name, config.name)
  }
})

test('jail.conf\'s values arrive: defaults, recidive\'s 1w/1d and pass2allow-ftp\'s findtime 1', () => {
  const byName = new Map(loadJails(TREE).map((j) => [j.name, jailPolicyOptions(j)]))
  assert.deepEqual(byName.get('sshd'), {
    name: 'sshd', max_retry: 5, max_matches: 5, find_time_secs: 600, ban_time_secs: 600, increment: null,
    ignore_ip: [], ignore_hosts: [], ignore_self: true, ignore_command: null,
  })
  assert.equal(byName.get('recidive')?.ban_time_secs, 7 * 86400)
  assert.equal(byName.get('recidive')?.find_time_secs, 86400)
  assert.equal(byName.get('pass2allow-ftp')?.find_time_secs, 1)
  assert.equal(byName.get('pass2allow-ftp')?.ban_time_secs, 3600)
  assert.equal(byName.get('apache-fakegooglebot')?.max_retry, 1)
  assert.equal(byName.get('apache-fakegooglebot')?.ignore_command, `${TREE}/filter.d/ignorecommands/apache-fakegooglebot <ip>`)
})

test('absent and blank options are left to the policy defaults', () => {
  assert.deepEqual(jailPolicyOptions(jail({ maxretry: '', bantime: '  ' })), {
    name: 'test', increment: null, ignore_ip: [], ignore_hosts: [], ignore_self: true, ignore_command: null,
  })
})

test('durations take fail2ban\'s syntax', () => {
  const cases: Array<[string, number]> = [
    ['10m', 600], ['1h 30m', 5400], ['1d', 86400], ['1w', 604800], ['1mo', 2629800], ['1y', 31557600], ['3600', 3600],
  ]
  for (const [text, secs] of cases) {
    const options = jailPolicyOptions(jail({ bantime: text, findtime: text }))
    assert.equal(options.ban_time_secs, secs, text)
    assert.equal(options.find_time_secs, secs, text)
  }
})

test('bantime -1 is a permanent ban', () => {
  assert.equal(jailPolicyOptions(jail({ bantime: '-1' })).ban_time_secs, -1)
})

test('bantime keeps whole seconds, as fail2ban\'s int()', () => {
  assert.equal(jailPolicyOptions(jail({ bantime: '90.9' })).ban_time_secs, 90)
})

test('a malformed or out-of-range duration is refused with jail, option and value', () => {
  refuses({ bantime: '10x' }, 'bantime')
  refuses({ bantime: '0' }, 'bantime')
  refuses({ bantime: '-2' }, 'bantime')
  refuses({ findtime: '0' }, 'findtime')
  refuses({ findtime: '-10m' }, 'findtime')
  refuses({ findtime: 'ten minutes' }, 'findtime')
})

test('maxretry and maxmatches take Python integers', () => {
  const options = jailPolicyOptions(jail({ maxretry: '+3', maxmatches: '1_000' }))
  assert.equal(options.max_retry, 3)
  assert.equal(options.max_matches, 1000)
  assert.equal(jailPolicyOptions(jail({ maxmatches: '0' })).max_matches, 0)
})

test('a maxretry or maxmatches that is not a whole number in range is refused', () => {
  refuses({ maxretry: '5.0' }, 'maxretry')
  refuses({ maxretry: '0' }, 'maxretry')
  refuses({ maxretry: 'five' }, 'maxretry')
  refuses({ maxmatches: '-1' }, 'maxmatches')
})

test('booleans read as configparser reads them, any case', () => {
  for (const text of ['true', 'Yes', 'ON', '1']) assert.equal(jailPolicyOptions(jail({ resetonsuccess: text })).reset_on_success, true, text)
  for (const text of ['false', 'No', 'off', '0']) assert.equal(jailPolicyOptions(jail({ resetonsuccess: text })).reset_on_success, false, text)
  assert.equal(jailPolicyOptions(jail({ ignoreself: 'false' })).ignore_self, false)
})

test('a boolean that is none of true/false/yes/no/on/off/1/0 is refused', () => {
  refuses({ resetonsuccess: 'enabled' }, 'resetonsuccess')
  refuses({ 'bantime.increment': 'y' }, 'bantime.increment')
  refuses({ ignoreself: '2' }, 'ignoreself')
})

test('window and ipv6prefix, banstream\'s own options', () => {
  const options = jailPolicyOptions(jail({ window: 'Sliding', ipv6prefix: '56' }))
  assert.equal(options.window, 'sliding')
  assert.equal(options.ipv6_prefix, 56)
  refuses({ window: 'tumbling' }, 'window')
  refuses({ ipv6prefix: '8' }, 'ipv6prefix')
  refuses({ ipv6prefix: '129' }, 'ipv6prefix')
})

test('ignoreip: addresses and networks separated by blanks, commas or new lines, canonical and without duplicates', () => {
  const options = jailPolicyOptions(jail({ ignoreip: '127.0.0.1/8 ::1,192.0.2.7\n2001:DB8::/32 127.0.0.0/8' }))
  assert.deepEqual(options.ignore_ip, ['127.0.0.0/8', '::1', '192.0.2.7', '2001:db8::/32'])
  assert.deepEqual(options.ignore_hosts, [])
})

test('ignoreip: a mask written as an address and a bracketed IPv6 address, as fail2ban reads them', () => {
  const options = jailPolicyOptions(jail({ ignoreip: '192.0.2.0/255.255.255.0 [2001:db8::1] 2001:db8::/ffff:ffff::' }))
  assert.deepEqual(options.ignore_ip, ['192.0.2.0/24', '2001:db8::1', '2001:db8::/32'])
})

test('ignoreip: host names are kept apart for the caller to resolve', () => {
  const options = jailPolicyOptions(jail({ ignoreip: '10.0.0.0/8 monitor.example.org localhost Backup-1.example.net.' }))
  assert.deepEqual(options.ignore_ip, ['10.0.0.0/8'])
  assert.deepEqual(options.ignore_hosts, ['monitor.example.org', 'localhost', 'backup-1.example.net.'])
})

test('ignoreip: /0 and /1 networks are refused', () => {
  for (const entry of ['0.0.0.0/0', '128.0.0.0/1', '::/0', '::/1', '0.0.0.0/0.0.0.0']) {
    refuses({ ignoreip: `127.0.0.1 ${entry}` }, 'ignoreip')
  }
})

test('ignoreip: an entry that is neither an address, a network nor a host name is refused', () => {
  for (const entry of ['10.0.0.256', '10.0.0.1/33', '192.0.2.0/255.0.255.0', 'bad_host!', 'file:/etc/ignore.list']) {
    refuses({ ignoreip: entry }, 'ignoreip')
  }
})

test('bantime.increment off gives no increment', () => {
  assert.equal(jailPolicyOptions(jail({ 'bantime.increment': 'false', 'bantime.factor': '2' })).increment, null)
})

test('bantime.increment with jail.conf\'s defaults doubles each ban', () => {
  const increment = jailPolicyOptions(jail({ 'bantime.increment': 'true' })).increment
  assert.ok(increment)
  assert.deepEqual([1, 2, 3].map((n) => banTimeSecs(600, n, increment, 'e')), [1200, 2400, 4800])
  assert.equal(increment.overall_jails, false)
})

test('bantime.factor, maxtime and overalljails arrive', () => {
  const increment = jailPolicyOptions(jail({
    'bantime.increment': 'yes', 'bantime.factor': '3', 'bantime.maxtime': '1h', 'bantime.overalljails': 'true',
  })).increment
  assert.ok(increment)
  assert.equal(increment.factor, 3)
  assert.equal(increment.max_time_secs, 3600)
  assert.equal(increment.overall_jails, true)
  assert.equal(banTimeSecs(600, 1, increment, 'e'), 3600)
})

test('bantime.multipliers and the exponential formula of jail.conf', () => {
  const multiplied = jailPolicyOptions(jail({ 'bantime.increment': 'on', 'bantime.multipliers': '1 5 30' })).increment
  assert.deepEqual(multiplied?.multipliers, [1, 5, 30])
  assert.equal(banTimeSecs(60, 1, multiplied!, 'e'), 300)
  const exponential = jailPolicyOptions(jail({
    'bantime.increment': 'true', 'bantime.factor': '2.0 / 2.885385',
    'bantime.formula': 'ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)',
  })).increment
  assert.equal(exponential?.factor, 2 / 2.885385)
  assert.equal(banTimeSecs(600, 1, exponential!, 'e'), Math.floor(600 * Math.exp(2 * 2 / 2.885385) / Math.exp(2 / 2.885385)))
})

test('bantime.rndtime is read as a duration', () => {
  assert.equal(jailPolicyOptions(jail({ 'bantime.increment': '1', 'bantime.rndtime': '5m' })).increment?.rnd_time_secs, 300)
})

test('bad bantime.* values are refused, even while the increment is off', () => {
  refuses({ 'bantime.factor': 'two' }, 'bantime.factor')
  refuses({ 'bantime.factor': '0' }, 'bantime.factor')
  refuses({ 'bantime.formula': 'ban.Time * 3' }, 'bantime.formula')
  refuses({ 'bantime.multipliers': '1 2.5 4' }, 'bantime.multipliers')
  refuses({ 'bantime.multipliers': '0 1' }, 'bantime.multipliers')
  refuses({ 'bantime.maxtime': '0' }, 'bantime.maxtime')
  refuses({ 'bantime.rndtime': '-5' }, 'bantime.rndtime')
  refuses({ 'bantime.overalljails': 'maybe' }, 'bantime.overalljails')
})

test('bantarget: origin by default, fleet, or host names (a group interpolated from a list) with or without origin', () => {
  assert.equal(jailPolicyOptions(jail({})).ban_target, undefined)
  assert.equal(jailPolicyOptions(jail({ bantarget: 'fleet' })).ban_target, 'fleet')
  assert.deepEqual(jailPolicyOptions(jail({ bantarget: 'mx2, mx1\nmx1' })).ban_target, { origin: false, hosts: ['mx1', 'mx2'] })
  assert.deepEqual(jailPolicyOptions(jail({ bantarget: 'origin edge1.example.net' })).ban_target, { origin: true, hosts: ['edge1.example.net'] })
})

test('a bantarget that is not host names, or fleet with more, is refused naming the word', () => {
  assert.throws(() => jailPolicyOptions(jail({ bantarget: 'mx1 $(reboot)' })), /bantarget = .*"\$\(reboot\)" is neither origin, fleet nor a host name/)
  assert.throws(() => jailPolicyOptions(jail({ bantarget: 'fleet mx1' })), /fleet already means every host/)
})
