import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadRunJails } from '../../src/roles/run-jails.js'
import { builtinConfigDir } from '../../src/package-root.js'
import { tempTree } from '../config/temp-tree.js'

// fail2ban's unmodified configuration tree, beside the repository (/work/shared/fail2ban).
const TREE = resolve(process.cwd(), '../shared/fail2ban')
const now = () => Date.UTC(2026, 10, 22) / 1000

test('an existing fail2ban tree with every jail enabled runs; filters RE2 cannot run are replaced by built-ins or skipped with the construct named', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-f2b-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(TREE, dir, { recursive: true })
  writeFileSync(join(dir, 'jail.local'), '[DEFAULT]\nenabled = true\n')
  const { jails, skipped, substituted } = loadRunJails(dir, now, { fallbackFilterDir: join(builtinConfigDir(), 'filter.d') })
  const names = jails.map((j) => j.config.name)
  for (const jail of ['sshd', 'postfix', 'dovecot', 'exim', 'asterisk', 'recidive']) assert.ok(names.includes(jail), `${jail} runs`)
  assert.ok(substituted.some((s) => s.jail === 'sshd' && /lookahead.*built-in sshd filter is used instead/.test(s.reason)))
  assert.ok(skipped.length > 0)
  for (const { reason } of skipped) assert.match(reason, /unsupported construct|has no|is not one of|logpath/)
})

test('without a fallback, a jail whose filter RE2 cannot run is skipped and the others run', (t) => {
  const dir = tempTree({
    'jail.conf': '[good]\nenabled = true\nfilter = good\nlogpath = /var/log/good.log\n\n[bad]\nenabled = true\nfilter = bad\nlogpath = /var/log/bad.log\n\n[off]\nenabled = false\nfilter = missing\n',
    'filter.d/good.conf': '[Definition]\nfailregex = ^Failed login from <HOST>$\n',
    'filter.d/bad.conf': '[Definition]\nfailregex = ^(?!x)Failed login from <HOST>$\n',
  })
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { jails, skipped, substituted } = loadRunJails(dir, now)
  assert.deepEqual(jails.map((j) => j.config.name), ['good'])
  assert.deepEqual(skipped.map((s) => s.jail), ['bad'])
  assert.match(skipped[0]!.reason, /bad\.conf: failregex: unsupported construct "lookahead \(\?!"/)
  assert.deepEqual(substituted, [])
  assert.deepEqual(jails[0]!.files, [{ pattern: '/var/log/good.log', start_at: 'head' }])
})

test('a systemd backend jail reads the journal with its filter journalmatch, on a stream of its own', (t) => {
  const dir = tempTree({
    'jail.conf': '[sshd]\nenabled = true\nbackend = systemd\nfilter = sshd\n',
    'filter.d/sshd.conf': '[Definition]\nfailregex = ^Failed password for \\S+ from <HOST>\njournalmatch = _SYSTEMD_UNIT=sshd.service + _COMM=sshd\n',
  })
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const [jail] = loadRunJails(dir, now).jails
  assert.deepEqual(jail!.journal, { stream: 'journald:sshd', journalmatch: '_SYSTEMD_UNIT=sshd.service + _COMM=sshd' })
  assert.deepEqual(jail!.match.streams, ['journald:sshd'])
  assert.deepEqual(jail!.files, [])
})

test('a syslog backend jail reads the syslog stream and no file, so needs no logpath', (t) => {
  const dir = tempTree({
    'jail.conf': '[sshd]\nenabled = true\nbackend = syslog\nfilter = sshd\n\n[typo]\nenabled = true\nbackend = sislog\nfilter = sshd\n',
    'filter.d/sshd.conf': '[Definition]\nfailregex = ^Failed password for \\S+ from <HOST>\n',
  })
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { jails: [jail], skipped } = loadRunJails(dir, now)
  assert.equal(jail!.syslog, true)
  assert.deepEqual(jail!.match.streams, ['syslog'])
  assert.deepEqual(jail!.files, [])
  assert.match(skipped[0]!.reason, /jail 'typo': backend = sislog is not one of auto, polling, pyinotify, systemd, syslog/)
})
