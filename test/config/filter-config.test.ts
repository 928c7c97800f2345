import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { ConfigError } from '../../src/config/errors.js'
import { loadFilter } from '../../src/config/filter-config.js'
import { tempTree } from './temp-tree.js'

const COMMON = `[DEFAULT]
logtype = file
_daemon = \\S*
__prefix_line = <lt_<logtype>/__prefix_line>
datepattern = <lt_<logtype>/datepattern>
[lt_file]
__prefix_line = \\s*<_daemon>:\\s+
datepattern = {^LN-BEG}
[lt_journal]
__prefix_line = \\s*
datepattern = %(lt_file/datepattern)s
`
const DEMO = `[INCLUDES]
before = common.conf
[DEFAULT]
_daemon = demo
[Definition]
prefregex = ^%(__prefix_line)s<F-CONTENT>.+</F-CONTENT>$
failregex = ^bad login for <F-USER>\\S+</F-USER> from <HOST>$
            <extra-<mode>>

            ^denied <ADDR>$
extra-normal =
extra-aggressive = ^probe from <HOST>$
mode = normal
ignoreregex =
`

test('resolves includes, %() and <tag> into the regexes, keeping <HOST>/<F-USER>', () => {
  const dir = tempTree({ 'filter.d/common.conf': COMMON, 'filter.d/demo.conf': DEMO })
  const filter = loadFilter(join(dir, 'filter.d'), 'demo')
  assert.equal(filter.name, 'demo')
  assert.equal(filter.file, join(dir, 'filter.d/demo.conf'))
  assert.equal(filter.prefregex, '^\\s*demo:\\s+<F-CONTENT>.+</F-CONTENT>$')
  assert.deepEqual(filter.failregex, ['^bad login for <F-USER>\\S+</F-USER> from <HOST>$', '^denied <ADDR>$'])
  assert.deepEqual(filter.ignoreregex, [])
  assert.equal(filter.datepattern, '{^LN-BEG}')
  assert.equal(filter.maxlines, 1)
  assert.equal(filter.journalmatch, undefined)
})

test('arguments override options, also inside %() of other options', () => {
  const dir = tempTree({ 'filter.d/common.conf': COMMON, 'filter.d/demo.conf': DEMO })
  const filter = loadFilter(join(dir, 'filter.d'), 'demo', { mode: 'aggressive' })
  assert.deepEqual(filter.failregex, ['^bad login for <F-USER>\\S+</F-USER> from <HOST>$', '^probe from <HOST>$', '^denied <ADDR>$'])
  assert.equal(filter.options['mode'], 'aggressive')
})

test('options hold every combined option, DEFAULT ones included', () => {
  const dir = tempTree({ 'filter.d/common.conf': COMMON, 'filter.d/demo.conf': DEMO })
  const { options } = loadFilter(join(dir, 'filter.d'), 'demo')
  assert.equal(options['logtype'], 'file')
  assert.equal(options['mode'], 'normal')
  assert.equal(options['__prefix_line'], '\\s*demo:\\s+')
  assert.equal(options['extra-aggressive'], '^probe from <HOST>$')
})

test('a systemd backend sets logtype journal, which selects the [lt_journal] look-ups', () => {
  const dir = tempTree({ 'filter.d/common.conf': COMMON, 'filter.d/demo.conf': DEMO })
  const filter = loadFilter(join(dir, 'filter.d'), 'demo', {}, 'systemd')
  assert.equal(filter.options['logtype'], 'journal')
  assert.equal(filter.prefregex, '^\\s*<F-CONTENT>.+</F-CONTENT>$')
  assert.equal(filter.datepattern, '{^LN-BEG}')
})

test('a logtype argument wins over the backend', () => {
  const dir = tempTree({ 'filter.d/common.conf': COMMON, 'filter.d/demo.conf': DEMO })
  assert.equal(loadFilter(join(dir, 'filter.d'), 'demo', { logtype: 'file' }, 'systemd').options['logtype'], 'file')
})

test('the filter .local overrides the .conf', () => {
  const dir = tempTree({
    'filter.d/common.conf': COMMON,
    'filter.d/demo.conf': DEMO,
    'filter.d/demo.local': '[Definition]\nignoreregex = ^trusted <HOST>$\nmaxlines = 3\n',
  })
  const filter = loadFilter(join(dir, 'filter.d'), 'demo')
  assert.deepEqual(filter.ignoreregex, ['^trusted <HOST>$'])
  assert.equal(filter.maxlines, 3)
})

test('a path loads that file with includes beside it and without its .local', () => {
  const dir = tempTree({ 'x/common.conf': COMMON, 'x/demo.conf': DEMO, 'x/demo.local': '[Definition]\nmaxlines = 3\n' })
  const filter = loadFilter('/nonexistent', join(dir, 'x/demo.conf'))
  assert.equal(filter.name, 'demo')
  assert.equal(filter.maxlines, 1)
  assert.equal(filter.prefregex, '^\\s*demo:\\s+<F-CONTENT>.+</F-CONTENT>$')
})

test('[Init] options feed tags and arguments override them', () => {
  const dir = tempTree({
    'filter.d/f.conf': '[Definition]\nfailregex = ^<word> from <HOST>$\n[Init]\nword = failed\n',
  })
  assert.deepEqual(loadFilter(join(dir, 'filter.d'), 'f').failregex, ['^failed from <HOST>$'])
  assert.deepEqual(loadFilter(join(dir, 'filter.d'), 'f', { word: 'refused' }).failregex, ['^refused from <HOST>$'])
})

test('a file without [Definition] is not a filter', () => {
  const dir = tempTree({ 'filter.d/common.conf': COMMON })
  assert.throws(() => loadFilter(join(dir, 'filter.d'), 'common'), (err: unknown) => err instanceof ConfigError && /no \[Definition\]/.test(err.message))
})

test('a missing filter is an error', () => {
  const dir = tempTree({})
  assert.throws(() => loadFilter(join(dir, 'filter.d'), 'nope'), ConfigError)
})

test('maxlines must be a positive integer', () => {
  const dir = tempTree({ 'filter.d/f.conf': '[Definition]\nfailregex = <HOST>\nmaxlines = many\n' })
  assert.throws(() => loadFilter(join(dir, 'filter.d'), 'f'), /maxlines/)
})
