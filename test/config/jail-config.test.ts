import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '../../src/config/errors.js'
import { loadJailActions, loadJailFilter, loadJails } from '../../src/config/jail-config.js'
import { tempTree } from './temp-tree.js'

const JAIL_CONF = `[INCLUDES]
before = paths.conf
[DEFAULT]
enabled = false
filter = %(__name__)s[mode=%(mode)s]
mode = normal
port = 0:65535
protocol = tcp
banaction = fw
action_ = %(banaction)s[port="%(port)s", protocol="%(protocol)s"]
action_mw = %(action_)s
            mail[dest=%(destemail)s, logpath=%(logpath)s]
action = %(action_)s
[demo]
port = ssh
logpath = %(demo_log)s
          /var/log/other.log tail
[second]
enabled = true
filter = demo
backend = systemd
`
const FILES = {
  'paths.conf': '[DEFAULT]\ndemo_log = /var/log/demo.log\ndestemail = root@localhost\n',
  'filter.d/demo.conf': '[Definition]\nfailregex = ^fail from <HOST>$\n            <extra-<mode>>\nextra-normal =\nextra-ddos = ^ddos <HOST>$\nmode = normal\n',
  'action.d/fw.conf': '[Definition]\nactionban = fw add <name> <ip> <port>/<protocol>\n[Init]\nname = default\nport = any\nprotocol = tcp\n',
}

test('returns every jail section in order with its filter reference, actions and logpath', () => {
  const dir = tempTree({ 'jail.conf': JAIL_CONF, ...FILES })
  const jails = loadJails(dir)
  assert.deepEqual(jails.map((j) => [j.name, j.enabled]), [['demo', false], ['second', true]])
  const demo = jails[0]
  assert.deepEqual(demo?.filter, { name: 'demo', args: { mode: 'normal' } })
  assert.deepEqual(demo?.actions, [{ name: 'fw', args: { port: 'ssh', protocol: 'tcp' } }])
  assert.deepEqual(demo?.logpath, ['/var/log/demo.log', '/var/log/other.log tail'])
  assert.equal(demo?.options['port'], 'ssh')
  assert.equal(demo?.options['fail2ban_confpath'], dir)
})

test('jail.local and jail.d/*.local override jail.conf per jail and option', () => {
  const dir = tempTree({
    'jail.conf': JAIL_CONF,
    ...FILES,
    'jail.local': '[DEFAULT]\nmode = ddos\n[demo]\nenabled = true\nport = %(known/port)s,2222\n',
    'jail.d/a.local': '[demo]\naction = %(action_mw)s\n',
  })
  const demo = loadJails(dir)[0]
  assert.equal(demo?.enabled, true)
  assert.deepEqual(demo?.filter, { name: 'demo', args: { mode: 'ddos' } })
  assert.deepEqual(demo?.actions, [
    { name: 'fw', args: { port: 'ssh,2222', protocol: 'tcp' } },
    { name: 'mail', args: { dest: 'root@localhost', logpath: '/var/log/demo.log\n/var/log/other.log tail' } },
  ])
})

test('an enabled jail can extend its filter through %(known/failregex)s', () => {
  const dir = tempTree({
    'jail.conf': JAIL_CONF,
    ...FILES,
    'jail.local': '[second]\nfailregex = %(known/failregex)s\n            ^also <HOST>$\n',
  })
  const second = loadJails(dir)[1]
  assert.ok(second)
  assert.equal(second.options['failregex'], '^fail from <HOST>$\n\n^also <HOST>$')
  assert.deepEqual(loadJailFilter(dir, second)?.failregex, ['^fail from <HOST>$', '^also <HOST>$'])
})

test('the jail filter reads logtype from the backend and the actions are named after the jail', () => {
  const dir = tempTree({ 'jail.conf': JAIL_CONF, ...FILES })
  const second = loadJails(dir)[1]
  assert.ok(second)
  assert.equal(loadJailFilter(dir, second)?.options['logtype'], 'journal')
  const [action] = loadJailActions(dir, second)
  assert.equal(action?.options['actionban'], 'fw add second <ip> 0:65535/tcp')
})

test('an unreadable option fail2ban never reads is left out; a read one is an error', () => {
  const dir = tempTree({ 'jail.conf': JAIL_CONF, ...FILES, 'jail.local': '[second]\nunused = %(nope)s\n' })
  assert.equal(loadJails(dir)[1]?.options['unused'], undefined)
  const broken = tempTree({ 'jail.conf': JAIL_CONF, ...FILES, 'jail.local': '[second]\nbantime = %(nope)s\n' })
  assert.throws(() => loadJails(broken), (err: unknown) => err instanceof ConfigError && /jail \[second\]/.test(err.message))
})

test('an enabled value that is not a boolean is an error', () => {
  const dir = tempTree({ 'jail.conf': JAIL_CONF, ...FILES, 'jail.local': '[demo]\nenabled = ture\n' })
  assert.throws(() => loadJails(dir), /enabled must be one of/)
})
