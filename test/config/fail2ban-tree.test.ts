import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { loadAction } from '../../src/config/action-config.js'
import { ConfigError } from '../../src/config/errors.js'
import { loadFilter } from '../../src/config/filter-config.js'
import { parseIni } from '../../src/config/ini-parser.js'
import { loadJailActions, loadJailFilter, loadJails } from '../../src/config/jail-config.js'

// fail2ban's unmodified configuration tree, beside the repository (/work/shared/fail2ban).
const TREE = resolve(process.cwd(), '../shared/fail2ban')
const FILTERS = join(TREE, 'filter.d')
const ACTIONS = join(TREE, 'action.d')

const confNames = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -'.conf'.length)).sort()

/** Files that some other file of the directory lists in its [INCLUDES]: fail2ban reads them
 *  as parts of other filters/actions; used alone some lack [Definition] or options. */
function includedNames(dir: string): Set<string> {
  const included = new Set<string>()
  for (const name of confNames(dir)) {
    const includes = parseIni(readFileSync(join(dir, `${name}.conf`), 'utf8'), name).sections.get('INCLUDES')
    for (const value of includes?.values() ?? []) {
      for (const line of value.split('\n')) if (line.endsWith('.conf')) included.add(line.slice(0, -'.conf'.length))
    }
  }
  return included
}

function failures(names: string[], load: (name: string) => unknown): string[] {
  return names.filter((name) => {
    try {
      load(name)
      return false
    } catch (err) {
      if (err instanceof ConfigError) return true
      throw err
    }
  })
}

test('every filter that no other filter includes loads with at least one failregex', () => {
  const included = includedNames(FILTERS)
  const standalone = confNames(FILTERS).filter((name) => !included.has(name))
  assert.ok(standalone.length > 90)
  const empty = standalone.filter((name) => loadFilter(FILTERS, name).failregex.length === 0)
  assert.deepEqual(empty, [])
})

test('the filters that do not load alone are exactly include-only files', () => {
  const included = includedNames(FILTERS)
  // No [Definition] (apache-common, botsearch-common, common, nginx-error-common), or
  // options that only the including filter defines (selinux-common needs selinux-ssh's _type).
  const failing = failures(confNames(FILTERS), (name) => loadFilter(FILTERS, name))
  assert.deepEqual(failing, ['apache-common', 'botsearch-common', 'common', 'nginx-error-common', 'selinux-common'])
  for (const name of failing) assert.ok(included.has(name), name)
})

test('every action loads except include-only files without [Definition]', () => {
  const included = includedNames(ACTIONS)
  const failing = failures(confNames(ACTIONS), (name) => loadAction(ACTIONS, name))
  assert.deepEqual(failing, ['firewallcmd-common', 'helpers-common', 'mail-whois-common'])
  for (const name of failing) assert.ok(included.has(name), name)
})

test('loadJails gives every jail of jail.conf, in order, with a filter reference and actions', () => {
  const sections = [...parseIni(readFileSync(join(TREE, 'jail.conf'), 'utf8'), 'jail.conf').sections.keys()]
  const jails = loadJails(TREE)
  assert.deepEqual(jails.map((j) => j.name), sections.filter((s) => s !== 'INCLUDES'))
  for (const jail of jails) {
    assert.equal(jail.enabled, false, jail.name)
    assert.ok(jail.filter, jail.name)
    assert.ok(jail.actions.length > 0, jail.name)
  }
})

test('every jail filter and action of jail.conf resolves', () => {
  for (const jail of loadJails(TREE)) {
    const filter = loadJailFilter(TREE, jail)
    assert.ok(filter && filter.failregex.length > 0, jail.name)
    for (const action of loadJailActions(TREE, jail)) assert.ok(action.options['actionban'] !== undefined, `${jail.name} ${action.name}`)
  }
})

test('jail sshd takes its backend from paths-debian and its logpath through paths-common', () => {
  const sshd = loadJails(TREE).find((j) => j.name === 'sshd')
  assert.ok(sshd)
  assert.deepEqual(sshd.filter, { name: 'sshd', args: { mode: 'normal' } })
  assert.equal(sshd.options['backend'], 'systemd')
  assert.deepEqual(sshd.logpath, ['/var/log/auth.log'])
  assert.deepEqual(sshd.actions, [{ name: 'nftables', args: { port: 'ssh', protocol: 'tcp', chain: '<known/chain>' } }])
})

test('sshd in mode=aggressive gets the ddos and extra regexes', () => {
  const normal = loadFilter(FILTERS, 'sshd')
  const aggressive = loadFilter(FILTERS, 'sshd', { mode: 'aggressive' })
  assert.equal(normal.failregex.length, 22)
  assert.equal(aggressive.failregex.length, 33)
  const ddos = '^(?:Did not receive identification string from|Timeout before authentication for(?: connection from)?) <HOST>'
  const extra = '^Unable to negotiate a (?:(?:\\w+ (?!found\\b)){0,2}\\w+)'
  assert.ok(aggressive.failregex.includes(ddos) && aggressive.failregex.includes(extra))
  assert.ok(!normal.failregex.includes(ddos) && !normal.failregex.includes(extra))
})

test('logtype=journal resolves <lt_journal/__prefix_line> through lt_short', () => {
  const sshd = loadFilter(FILTERS, 'sshd', {}, 'systemd')
  assert.equal(sshd.options['logtype'], 'journal')
  assert.equal(sshd.prefregex,
    '^<F-MLFID>\\s*(?:\\S+\\s+)?(?:sshd(?:-session)?(?:\\[\\d+\\])?:?\\s+)?(?:kernel:\\s?\\[ *\\d+\\.\\d+\\]:?\\s+)?</F-MLFID>(?:(?:error|fatal): (?:PAM: )?)?<F-CONTENT>.+</F-CONTENT>$')
  assert.equal(sshd.datepattern, '{^LN-BEG}')
  assert.equal(sshd.journalmatch, '_SYSTEMD_UNIT=sshd.service + _COMM=sshd + _COMM=sshd-session')
})

test('the file log type gives the syslog prefix', () => {
  const sshd = loadFilter(FILTERS, 'sshd')
  assert.equal(sshd.options['logtype'], 'file')
  assert.match(sshd.prefregex ?? '', /^\^<F-MLFID>\(\?:\\\[\\\]\)\?\\s\*\(\?:<\[\^\.\]\+\\\.\[\^\.\]\+>\\s\+\)\?/)
})

test('the sshd jail action is nftables named after the jail, run-time tags kept', () => {
  const sshd = loadJails(TREE).find((j) => j.name === 'sshd')
  assert.ok(sshd)
  const [nftables] = loadJailActions(TREE, sshd)
  assert.equal(nftables?.options['name'], 'sshd')
  assert.equal(nftables?.options['actionban'], 'nft add element inet f2b-table <addr_set> \\{ <ip> \\}')
  assert.equal(nftables?.options['addr_set?family=inet6'], 'addr6-set-<name>')
})
