import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { readConfig } from '../../src/config/config-reader.js'
import { ConfigError } from '../../src/config/errors.js'
import { tempTree } from './temp-tree.js'

test('reads .conf, .d/*.conf, .local, .d/*.local in that order, each group sorted', () => {
  const dir = tempTree({
    'jail.conf': '[j]\na = conf\nb = conf\nc = conf\nd = conf\n',
    'jail.d/b.conf': '[j]\na = d-b\nb = d-b\n',
    'jail.d/a.conf': '[j]\na = d-a\nb = d-a\nc = d-a\n',
    'jail.local': '[j]\na = local\n',
    'jail.d/z.local': '[j]\nd = d-z-local\n',
  })
  const { store, files } = readConfig(join(dir, 'jail'))
  assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['jail.conf', 'jail.d/a.conf', 'jail.d/b.conf', 'jail.local', 'jail.d/z.local'])
  assert.deepEqual(['a', 'b', 'c', 'd'].map((o) => store.get('j', o)), ['local', 'd-b', 'd-a', 'd-z-local'])
})

test('.local overrides single options and keeps the others of the section', () => {
  const dir = tempTree({ 'f.conf': '[Definition]\na = 1\nb = 2\n', 'f.local': '[Definition]\nb = 3\n' })
  const { store } = readConfig(join(dir, 'f'))
  assert.deepEqual([store.get('Definition', 'a'), store.get('Definition', 'b')], ['1', '3'])
})

test('a name with no file at all is an error', () => {
  const dir = tempTree({})
  assert.throws(() => readConfig(join(dir, 'missing')), ConfigError)
})

test('[INCLUDES] before is read first and after last, relative to the including file', () => {
  const dir = tempTree({
    'filter.d/x.conf': '[INCLUDES]\nbefore = common.conf\nafter = extra.conf\n[Definition]\na = x\nb = x\n',
    'filter.d/common.conf': '[Definition]\na = common\nb = common\nc = common\n',
    'filter.d/extra.conf': '[Definition]\nb = extra\n',
  })
  const { store, files } = readConfig(join(dir, 'filter.d/x'))
  assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['filter.d/common.conf', 'filter.d/x.conf', 'filter.d/extra.conf'])
  assert.deepEqual(['a', 'b', 'c'].map((o) => store.get('Definition', o)), ['x', 'extra', 'common'])
})

test('includes are recursive, list several files one per line, and skip missing ones', () => {
  const dir = tempTree({
    'a.conf': '[INCLUDES]\nbefore = b.conf\n         missing.conf\n         c.conf\n[s]\nv = a\n',
    'b.conf': '[INCLUDES]\nbefore = sub/d.conf\n[s]\nv = b\n',
    'sub/d.conf': '[s]\nv = d\n',
    'c.conf': '[s]\nv = c\n',
  })
  const { files } = readConfig(join(dir, 'a'))
  assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['sub/d.conf', 'b.conf', 'c.conf', 'a.conf'])
})

test('an include loop is cut', () => {
  const dir = tempTree({ 'a.conf': '[INCLUDES]\nbefore = b.conf\n[s]\nv = a\n', 'b.conf': '[INCLUDES]\nbefore = a.conf\n[s]\nv = b\n' })
  const { store, files } = readConfig(join(dir, 'a'))
  assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['b.conf', 'a.conf'])
  assert.equal(store.get('s', 'v'), 'a')
})

test('an included file reads its .local only where it says so in after =', () => {
  const dir = tempTree({
    'x.conf': '[INCLUDES]\nbefore = common.conf\n[s]\nv = x\n',
    'common.conf': '[INCLUDES]\nafter = common.local\n[DEFAULT]\nd = common\n',
    'common.local': '[DEFAULT]\nd = common-local\n',
  })
  assert.equal(readConfig(join(dir, 'x')).store.get('s', 'd'), 'common-local')
})

test('DEFAULT options of later files override earlier ones', () => {
  const dir = tempTree({ 'j.conf': '[DEFAULT]\nd = 1\n[s]\n', 'j.local': '[DEFAULT]\nd = 2\n' })
  assert.equal(readConfig(join(dir, 'j')).store.get('s', 'd'), '2')
})

test('%(name)s reads the same section first, then DEFAULT, recursively', () => {
  const dir = tempTree({ 'c.conf': '[DEFAULT]\nx = dx\ny = %(x)s-y\n[s]\nx = sx\nv = %(y)s/%(x)s/%%\n' })
  assert.equal(readConfig(join(dir, 'c')).store.get('s', 'v'), 'sx-y/sx/%')
})

test('%(section/name)s reads another section, falling back to its DEFAULT', () => {
  const dir = tempTree({ 'c.conf': '[DEFAULT]\nonly = d\n[lt_file]\np = file-prefix\n[s]\nv = %(lt_file/p)s %(lt_file/only)s %(default/only)s\n' })
  assert.equal(readConfig(join(dir, 'c')).store.get('s', 'v'), 'file-prefix d d')
})

test('%(__name__)s is the name of the section being read', () => {
  const dir = tempTree({ 'jail.conf': '[DEFAULT]\nfilter = %(__name__)s[mode=%(mode)s]\nmode = normal\n[sshd]\n' })
  assert.equal(readConfig(join(dir, 'jail')).store.get('sshd', 'filter'), 'sshd[mode=normal]')
})

test('%(known/name)s is the value before the override in a later file', () => {
  const dir = tempTree({ 'jail.conf': '[sshd]\nport = ssh\n', 'jail.local': '[sshd]\nport = %(known/port)s,2222\n' })
  assert.equal(readConfig(join(dir, 'jail')).store.get('sshd', 'port'), 'ssh,2222')
})

test('%(known/name)s is the value from the included before file', () => {
  const dir = tempTree({
    'x.conf': '[INCLUDES]\nbefore = common.conf\n[lt_journal]\np = %(known/p)s+extra\n',
    'common.conf': '[lt_journal]\np = base\n',
  })
  assert.equal(readConfig(join(dir, 'x')).store.get('lt_journal', 'p'), 'base+extra')
})

test('%(known/name)s falls back to DEFAULT when the section had no earlier value', () => {
  const dir = tempTree({
    'x.conf': '[INCLUDES]\nbefore = common.conf\n[Definition]\n__prefix_line = %(known/__prefix_line)s(?:\\w+: )?\n',
    'common.conf': '[DEFAULT]\n__prefix_line = \\s*\n',
  })
  assert.equal(readConfig(join(dir, 'x')).store.get('Definition', '__prefix_line'), '\\s*(?:\\w+: )?')
})

test('a conditional section [Init?family=inet6] becomes options name?family=inet6 of [Init]', () => {
  const dir = tempTree({ 'a.conf': '[Init]\nblocktype = REJECT\n[Init?family=inet6]\nblocktype = REJECT6\n' })
  const { store } = readConfig(join(dir, 'a'))
  assert.deepEqual(store.options('Init', false), ['blocktype', 'blocktype?family=inet6'])
  assert.equal(store.get('Init', 'blocktype?family=inet6'), 'REJECT6')
})

test('a reference to a missing option is an error naming the option and file', () => {
  const dir = tempTree({ 'c.conf': '[s]\nv = %(nope)s\n' })
  assert.throws(() => readConfig(join(dir, 'c')).store.get('s', 'v'), (err: unknown) =>
    err instanceof ConfigError && err.option === 'v' && err.file === join(dir, 'c.conf') && /%\(nope\)s/.test(err.message))
})

test('a lone % is an error, as in configparser', () => {
  const dir = tempTree({ 'c.conf': '[s]\nv = 50%\n' })
  assert.throws(() => readConfig(join(dir, 'c')).store.get('s', 'v'), /'%' must be followed by '%' or '\('/)
})

test('self-referencing interpolation stops at configparser depth 10', () => {
  const dir = tempTree({ 'c.conf': '[s]\nv = %(v)s\n' })
  assert.throws(() => readConfig(join(dir, 'c')).store.get('s', 'v'), /nested deeper than 10/)
})

test('getEx reads section/option names the way tag look-ups need', () => {
  const dir = tempTree({ 'c.conf': '[DEFAULT]\nlogtype = file\n[Definition]\na = 1\n[lt_short]\np = %(lt_file/p)s short\n[lt_file]\np = file\n' })
  const { store } = readConfig(join(dir, 'c'))
  assert.equal(store.getEx('Definition', 'lt_short/p'), 'file short')
  assert.equal(store.getEx('Definition', 'default/logtype'), 'file')
  assert.equal(store.getEx('Definition', 'lt_none/p'), undefined)
})
