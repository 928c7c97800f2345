import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../../src/package-root.js'

const root = packageRoot()
const main = fileURLToPath(new URL(`../../src/cli/main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url))
const upstreamFilters = join(root, '..', 'shared', 'fail2ban', 'filter.d')
const NOW = '2005-08-14T12:00:00+02:00'

function banstream(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...process.execArgv, main, ...args], { env: { ...process.env, TZ: 'Europe/Zurich' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }))
    if (stdin !== undefined) child.stdin!.end(stdin)
  })
}

const dir = mkdtempSync(join(tmpdir(), 'banstream-regex-'))
const log = join(dir, 'auth.log')
writeFileSync(log, [
  'Aug 14 11:50:01 mx1 sshd[100]: Failed password for root from 192.0.2.10 port 5000 ssh2',
  'Aug 14 11:50:02 mx1 CRON[200]: (root) CMD (true)',
  'Aug 14 11:50:03 mx1 sshd[101]: Failed password for admin from 2001:db8::7 port 5001 ssh2',
  '',
].join('\n'))
const inline = 'Failed password for <F-USER>\\S+</F-USER> from <HOST> port \\d+ ssh2$'

test('--json prints one object per line that produced a failure, and nothing else', async () => {
  const r = await banstream(['regex', '--json', '--now', NOW, log, inline])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
    { lineno: 1, host: '192.0.2.10', time: Date.UTC(2005, 7, 14, 9, 50, 1) / 1000, user: 'root', filter: 'inline', regex: 0 },
    { lineno: 3, host: '2001:db8::7', time: Date.UTC(2005, 7, 14, 9, 50, 3) / 1000, user: 'admin', filter: 'inline', regex: 0 },
  ])
})

test('the default output summarises lines, hits per failregex and date templates like fail2ban-regex', async () => {
  const r = await banstream(['regex', '--now', NOW, '--missed', log, inline])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /Failregex: 2 total/)
  assert.match(r.stdout, /Use {6}failregex line : Failed password for/)
  assert.match(r.stdout, /\| +1\) \[2\] Failed password for/)
  assert.match(r.stdout, /Lines: 3 lines, 0 ignored, 2 matched, 1 missed/)
  assert.match(r.stdout, /Missed line\(s\):\n\| {2}Aug 14 11:50:02 mx1 CRON\[200\]/)
  assert.match(r.stdout, /Date template hits:\n\|- \[# of hits\] date format\n\| {2}\[3\] /)
})

/** A log file of these lines in the test's directory. */
function logOf(name: string, lines: string[]): string {
  const path = join(dir, name)
  writeFileSync(path, [...lines, ''].join('\n'))
  return path
}

test('helper and success lines count as ignored and print nothing with --json, as fail2ban-regex counts them', async () => {
  const sessions = logOf('sessions.log', [
    'Aug 14 11:50:01 mx1 sshd[300]: Failed password for root from 192.0.2.10 port 5000 ssh2',
    'Aug 14 11:50:02 mx1 sshd[300]: Received disconnect from 192.0.2.10 port 5000:11: Bye Bye [preauth]',
    'Aug 14 11:50:03 mx1 sshd[301]: Accepted publickey for deploy from 198.51.100.4 port 5002 ssh2: RSA SHA256:abc',
    'Aug 14 11:50:04 mx1 sshd[302]: Connection closed by 198.51.100.5 port 5004 [preauth]',
    'Aug 14 11:50:05 mx1 CRON[200]: (root) CMD (true)',
  ])
  const summary = await banstream(['regex', '--now', NOW, sessions, 'sshd'])
  assert.equal(summary.code, 0, summary.stderr)
  assert.match(summary.stdout, /Lines: 5 lines, 3 ignored, 1 matched, 1 missed/)
  const json = await banstream(['regex', '--json', '--now', NOW, sessions, 'sshd'])
  assert.deepEqual(json.stdout.trim().split('\n').map((l) => JSON.parse(l).lineno), [1])
})

test('date template hits count every dated line, also those no failregex could match, as fail2ban-regex counts them', async () => {
  const mail = logOf('mail.log', [
    'Aug 14 11:50:01 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, TLS',
    'Aug 14 11:50:02 mx1 postfix/smtpd[22]: connect from unknown[198.51.100.4]',
    'Aug 14 11:50:03 mx1 CRON[200]: (root) CMD (true)',
    'no date on this line',
  ])
  const r = await banstream(['regex', '--now', NOW, mail, 'dovecot'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /Date template hits:\n\|- \[# of hits\] date format\n\| {2}\[3\] /)
  assert.match(r.stdout, /Lines: 4 lines, 0 ignored, 1 matched, 3 missed/)
})

test('a fail2ban filter file is read with its includes resolved beside it', async () => {
  const vsftpd = join(dir, 'vsftpd.log')
  writeFileSync(vsftpd, 'Aug 14 11:51:00 ftp vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=joe rhost=192.0.2.77\n')
  const r = await banstream(['regex', '--json', '--now', NOW, vsftpd, join(upstreamFilters, 'vsftpd.conf')])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).host, '192.0.2.77')
})

test("reads the log from standard input with '-', and --opt logtype=journal takes --now as the time", async () => {
  const r = await banstream(['regex', '--json', '--now', NOW, '--opt', 'logtype=journal', '-', inline],
    'mx1 sshd[9]: Failed password for bob from 192.0.2.20 port 1 ssh2\n')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), { lineno: 1, host: '192.0.2.20', time: Date.parse(NOW) / 1000, user: 'bob', filter: 'inline', regex: 0 })
})

test('an unreadable log exits 2 with one clear line on stderr', async () => {
  const r = await banstream(['regex', join(dir, 'missing.log'), inline])
  assert.equal(r.code, 2)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, /^banstream: cannot read log file: .*missing\.log\n$/)
})

test('a filter needing a construct RE2 lacks exits 2 naming file, option, pattern and construct', async () => {
  const r = await banstream(['regex', log, join(upstreamFilters, 'apache-auth.conf')])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^banstream: .*apache-auth\.conf: failregex: unsupported construct "lookahead \(\?!" in "\^user/)
  assert.equal(r.stderr.split('\n').length, 2, 'exactly one line')
})

test('an inline regex with a backreference is refused, never approximated', async () => {
  const r = await banstream(['regex', log, '(\\w+) again \\1 from <HOST>'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /unsupported construct "backreference/)
})
