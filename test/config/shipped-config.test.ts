import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadJailFilter, loadJails, type JailConfig } from '../../src/config/jail-config.js'
import { jailPolicyOptions } from '../../src/config/jail-policy.js'
import { compileFilter } from '../../src/filters/compiled-filter.js'
import { FilterMatcher } from '../../src/filters/filter-matcher.js'
import { builtinConfigDir, packageRoot } from '../../src/package-root.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { banLine } from '../../sinks/fail2ban-log.js'

const CONFIG = builtinConfigDir()
// fail2ban's unmodified configuration tree, beside the repository.
const FAIL2BAN = join(packageRoot(), '../shared/fail2ban')
// 2026-11-22 10:00:00 UTC
const NOW_MS = Date.UTC(2026, 10, 22, 10, 0, 0)

const JAILS = [
  'sshd', 'roundcube-auth', 'horde', 'sogo-auth', 'assp', 'courier-smtp', 'postfix', 'postfix-rbl',
  'sendmail-auth', 'sendmail-reject', 'qmail-rbl', 'dovecot', 'sieve', 'solid-pop3d', 'exim', 'exim-spam',
  'kerio', 'domino-smtp', 'courier-auth', 'postfix-sasl', 'perdition', 'squirrelmail', 'cyrus-imap',
  'uwimap-auth', 'asterisk', 'freeswitch', 'recidive', 'pam-generic',
]

function jail(jails: JailConfig[], name: string): JailConfig {
  const found = jails.find((j) => j.name === name)
  assert.ok(found, `no jail [${name}]`)
  return found
}

/** A copy of the shipped config/ with the given jail.local, in a fresh temporary directory. */
function withJailLocal(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-shipped-'))
  cpSync(CONFIG, dir, { recursive: true })
  writeFileSync(join(dir, 'jail.local'), text)
  return dir
}

function compiled(configDir: string, j: JailConfig) {
  const def = loadJailFilter(configDir, j)
  assert.ok(def, `jail [${j.name}] has no filter`)
  return compileFilter(def, { timezone: 'UTC', now: () => NOW_MS / 1000 })
}

test('loadJails reads every jail of the shipped jail.conf, in file order', () => {
  assert.deepEqual(loadJails(CONFIG).map((j) => j.name), JAILS)
})

test('exactly sshd, postfix and dovecot are enabled', () => {
  assert.deepEqual(loadJails(CONFIG).filter((j) => j.enabled).map((j) => j.name), ['sshd', 'postfix', 'dovecot'])
})

test('every jail filter loads from filter.d and compiles to RE2', () => {
  for (const j of loadJails(CONFIG)) {
    const filter = compiled(CONFIG, j)
    assert.ok(filter.failregex.length > 0, j.name)
  }
})

test('every jail has a log path with every variable resolved', () => {
  for (const j of loadJails(CONFIG)) {
    assert.ok(j.logpath.length > 0, j.name)
    for (const path of j.logpath) assert.match(path, /^\/[^%]*$/, j.name)
  }
})

test('the enabled jails read /var/log/auth.log and /var/log/mail.log from files', () => {
  const jails = loadJails(CONFIG)
  assert.deepEqual(jail(jails, 'sshd').logpath, ['/var/log/auth.log'])
  assert.deepEqual(jail(jails, 'postfix').logpath, ['/var/log/mail.log'])
  assert.deepEqual(jail(jails, 'dovecot').logpath, ['/var/log/mail.log'])
  for (const name of ['sshd', 'postfix', 'dovecot']) {
    assert.equal(jail(jails, name).options['backend'], 'auto', name)
    assert.equal(loadJailFilter(CONFIG, jail(jails, name))?.options['logtype'], 'file', name)
  }
})

test('jailPolicyOptions accepts every jail with fail2ban defaults and banstream options', () => {
  for (const j of loadJails(CONFIG)) {
    const policy = jailPolicyOptions(j)
    assert.equal(policy.window, 'fail2ban', j.name)
    assert.equal(policy.reset_on_success, false, j.name)
    assert.equal(policy.ipv6_prefix, 64, j.name)
    assert.equal(policy.ignore_self, true, j.name)
    assert.deepEqual(policy.ignore_ip, ['127.0.0.0/8', '::1'], j.name)
    assert.equal(policy.ignore_command, null, j.name)
    assert.equal(policy.increment, null, j.name)
  }
  const sshd = jailPolicyOptions(jail(loadJails(CONFIG), 'sshd'))
  assert.equal(sshd.max_retry, 5)
  assert.equal(sshd.max_matches, 5)
  assert.equal(sshd.find_time_secs, 600)
  assert.equal(sshd.ban_time_secs, 600)
})

test('recidive reads banstream.log for a week-long all-ports ban after bans within a day', () => {
  const recidive = jail(loadJails(CONFIG), 'recidive')
  assert.deepEqual(recidive.logpath, ['/var/log/banstream.log'])
  assert.deepEqual(recidive.actions, [{ name: 'nftables', args: { type: 'allports', port: '0:65535', protocol: 'tcp', chain: '<known/chain>' } }])
  const policy = jailPolicyOptions(recidive)
  assert.equal(policy.ban_time_secs, 7 * 86400)
  assert.equal(policy.find_time_secs, 86400)
})

test('the recidive jail finds the bans banstream writes to its log', () => {
  const matcher = new FilterMatcher(compiled(CONFIG, jail(loadJails(CONFIG), 'recidive')))
  const ban: BanIssued = {
    type: 'BanIssued', event_id: 'b-1', cause_event_id: 'f-1', jail: 'sshd', ip: '192.0.2.1', failures: 5,
    ban_time_secs: 600, ban_count: 1, expires_at: '2026-11-22T10:10:00.000Z', occurred_at: '2026-11-22T10:00:00.000Z',
    reason: 'threshold', matches: [],
  }
  const line = banLine(NOW_MS, ban, { pid: 1234, time_zone: 'UTC' })
  assert.deepEqual(matcher.processLine(Buffer.from(line)).failures.map((f) => f.host), ['192.0.2.1'])
})

test('the sshd jail finds failures in the bundled sample log', () => {
  const matcher = new FilterMatcher(compiled(CONFIG, jail(loadJails(CONFIG), 'sshd')))
  const lines = readFileSync(join(CONFIG, 'samples/auth.log'), 'utf8').split('\n').filter((l) => l !== '')
  const hosts = lines.flatMap((l) => matcher.processLine(Buffer.from(l)).failures.map((f) => f.host))
  assert.ok(hosts.length > 0)
})

test('the SIP jails ban TCP and UDP under separate names', () => {
  const asterisk = jail(loadJails(CONFIG), 'asterisk')
  assert.deepEqual(asterisk.actions.map((a) => [a.args['name'], a.args['protocol'], a.args['port']]), [
    ['asterisk-tcp', 'tcp', '5060,5061'],
    ['asterisk-udp', 'udp', '5060,5061'],
  ])
})

test('enabling every jail in jail.local loads each one with its filter', () => {
  const dir = withJailLocal(JAILS.map((name) => `[${name}]\nenabled = true\n`).join('\n'))
  try {
    const jails = loadJails(dir)
    assert.deepEqual(jails.filter((j) => j.enabled).map((j) => j.name), JAILS)
    for (const j of jails) assert.ok(compiled(dir, j).failregex.length > 0, j.name)
  } finally {
    rmSync(dir, { recursive: true })
  }
})

test('jail.local overrides enabled, logpath and maxretry of the shipped jails', () => {
  const dir = withJailLocal([
    '[sshd]', 'enabled = false', '',
    '[exim]', 'enabled = true', 'logpath = /srv/exim/mainlog', '          /srv/exim/rejectlog', 'maxretry = 3', '',
  ].join('\n'))
  try {
    const jails = loadJails(dir)
    assert.deepEqual(jails.filter((j) => j.enabled).map((j) => j.name), ['postfix', 'dovecot', 'exim'])
    const exim = jail(jails, 'exim')
    assert.deepEqual(exim.logpath, ['/srv/exim/mainlog', '/srv/exim/rejectlog'])
    const policy = jailPolicyOptions(exim)
    assert.equal(policy.max_retry, 3)
    // maxmatches = %(maxretry)s follows the jail's own maxretry, as in fail2ban.
    assert.equal(policy.max_matches, 3)
    assert.equal(jailPolicyOptions(jail(jails, 'postfix')).max_retry, 5)
  } finally {
    rmSync(dir, { recursive: true })
  }
})

test('a path variable or backend set in jail.local [DEFAULT] moves every jail that uses it', () => {
  const dir = withJailLocal(['[DEFAULT]', 'syslog_mail = /srv/log/mail.log', 'sshd_backend = systemd', ''].join('\n'))
  try {
    const jails = loadJails(dir)
    assert.deepEqual(jail(jails, 'postfix').logpath, ['/srv/log/mail.log'])
    assert.deepEqual(jail(jails, 'dovecot').logpath, ['/srv/log/mail.log'])
    assert.deepEqual(jail(jails, 'cyrus-imap').logpath, ['/srv/log/mail.log'])
    const sshd = jail(jails, 'sshd')
    assert.equal(sshd.options['backend'], 'systemd')
    assert.equal(loadJailFilter(dir, sshd)?.options['logtype'], 'journal')
  } finally {
    rmSync(dir, { recursive: true })
  }
})

test('fail2ban\'s tree is beside the repository for the comparisons below', () => {
  assert.ok(existsSync(join(FAIL2BAN, 'jail.conf')), `${FAIL2BAN}/jail.conf is missing`)
})

test('every built-in filter fail2ban has a jail for has that jail here', () => {
  const ours = new Set(loadJails(CONFIG).map((j) => j.name))
  const missing = loadJails(FAIL2BAN)
    .filter((j) => j.filter && existsSync(join(CONFIG, 'filter.d', `${j.filter.name}.conf`)))
    .map((j) => j.name)
    .filter((name) => !ours.has(name))
  assert.deepEqual(missing, [])
})

test('each jail has fail2ban\'s filter, ports, log paths, counting and actions', () => {
  const theirs = loadJails(FAIL2BAN)
  for (const ours of loadJails(CONFIG)) {
    const f2b = jail(theirs, ours.name)
    assert.deepEqual(ours.filter, f2b.filter, ours.name)
    assert.deepEqual(ours.actions, f2b.actions, ours.name)
    for (const option of ['port', 'protocol', 'maxretry', 'maxmatches', 'findtime', 'bantime', 'usedns', 'logencoding']) {
      assert.equal(ours.options[option], f2b.options[option], `${ours.name} ${option}`)
    }
    // banstream's recidive counts the bans of banstream's own log.
    if (ours.name !== 'recidive') assert.deepEqual(ours.logpath, f2b.logpath, ours.name)
  }
})
