import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { packageRoot } from '../../src/package-root.js'
import { prepareJailActions, type JailActions } from '../../src/roles/jail-actions.js'
import { loadRunJails } from '../../src/roles/run-jails.js'

// A jail.conf naming fail2ban's route, pf and firewalld actions: each goes to its backend with the
// jail's arguments. The tools are kept from the host: `true` answers for ip (an empty listing), pfctl
// is a path that does not exist and firewall-cmd runs under `false`, so setups fail and are noted.
describe('jail actions with the route, pf and firewalld backends', () => {
  let dir: string
  let actions: JailActions
  const notes: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banstream-firewall-actions-'))
    const config = join(dir, 'config')
    await mkdir(config)
    await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
    await writeFile(join(dir, 'auth.log'), '')
    const jail = (name: string, action: string) => `[${name}]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\naction = ${action}\n`
    await writeFile(join(config, 'jail.conf'), [
      jail('sshd', 'route[blocktype=blackhole]\n         pf[port="ssh,2222", protocol=tcp]'),
      jail('postfix', 'firewallcmd-multiport[port="25,587"]'),
      jail('dovecot', 'firewallcmd-ipset[actiontype=<allports>]\n         firewallcmd-rich-rules[port=imap]'),
      jail('hostile', 'pf[port="22;reboot"]'),
    ].join('\n'))
    const { jails } = loadRunJails(config, () => Date.now() / 1000)
    actions = await prepareJailActions(jails, {
      note: (_level, message) => notes.push(message),
      route: { command_prefix: ['true'] },
      pf: { pfctl: join(dir, 'no-pfctl') },
      firewalld: { command_prefix: ['false'] },
    })
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('route, pf and the firewallcmd actions are claimed by their backends', () => {
    assert.deepEqual(actions.of('sshd').map((a) => a.backend), ['route', 'pf'])
    assert.deepEqual(actions.of('postfix').map((a) => a.backend), ['firewalld'])
    assert.equal(actions.of('dovecot')[0]!.backend, 'firewalld')
    assert.deepEqual([...actions.backends.keys()].sort(), ['firewalld', 'pf', 'route'])
  })

  test('the rich-rule actions are not the firewalld backend\'s', () => {
    assert.notEqual(actions.of('dovecot')[1]!.backend, 'firewalld')
  })

  test('a hostile argument is logged and its action not applied', () => {
    assert.deepEqual(actions.of('hostile').map((a) => a.backend), ['dry-run'])
    assert.ok(notes.some((n) => /hostile.*port.*22;reboot/.test(n)), notes.join('\n'))
  })

  test('a backend whose tool is missing is kept, its setup failure noted', () => {
    assert.ok(notes.some((n) => n.startsWith('pf: setting up failed')), notes.join('\n'))
    assert.ok(notes.some((n) => n.startsWith('firewalld: setting up failed')), notes.join('\n'))
    assert.ok(!notes.some((n) => n.startsWith('route:')), notes.join('\n'))
  })
})
