import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../src/config/filter-config.js'
import { FailRegex } from '../../src/filters/failregex.js'
import { PrefregexCut, type PrefregexCutResult } from '../../src/filters/prefregex-cut.js'

const FILTERS = join(process.cwd(), 'config/filter.d')
const LOGS = resolve(process.cwd(), '../shared/conformance/logs')
const CUT_FILTERS = ['asterisk', 'dovecot', 'exim', 'exim-spam', 'freeswitch', 'pam-generic', 'postfix', 'roundcube-auth', 'sendmail-auth', 'sendmail-reject', 'sshd']

/** What the full prefregex gives: its groups, or null. */
function fullRegex(regex: FailRegex, text: Buffer): Record<string, string> | null {
  return regex.exec(text)?.fields ?? null
}

/** The same from the cut. */
function cutGroups(result: PrefregexCutResult | null): Record<string, string> | null {
  if (result === null) return null
  return { ...result.fields, ...(result.mlfid !== undefined && { mlfid: result.mlfid }), content: result.content.toString('utf8') }
}

/** Each line, and each text after one of its first spaces: the line as the prefregex sees it with its date cut out. */
function texts(line: string): string[] {
  const out = [line]
  for (let i = line.indexOf(' '); i >= 0 && i < 40; i = line.indexOf(' ', i + 1)) out.push(line.slice(i + 1), line.slice(i))
  return out
}

const HOSTILE = [
  'mx1 sshd[1]: ',
  'mx1 sshd[1]:  ',
  'mx1 sshd[1]: error: ',
  'mx1 sshd[1]: error: x',
  'mx1 sshd[1]: Failed password for x\nfrom 192.0.2.9 port 1 ssh2',
  'mx1 sshd[1]: Failed password for invalid user sshd[2]: from 192.0.2.9 port 1 ssh2',
  'mx1 sshd[1]: sshd[2]: error: Received disconnect from 192.0.2.9 port 1:11: bye',
  'mx1 kernel: [ 12.5]: sshd[3]: fatal: PAM: x',
  '\u00e9\u00e9 sshd[1]: Accepted publickey for \u00fc from 192.0.2.1 port 2 ssh2',
  'sshd[1]: x',
  '',
  'mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 Relay access denied, sasl_username=eve',
  'mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 x, sasl_username=eve, sasl_username=bob  ',
  'mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 x, sasl_username=e ve',
  'mx1 postfix/smtpd[1]: NOQUEUE: reject: , sasl_username=eve',
  'mx1 postfix/smtpd[1]: NOQUEUE: reject: \u00e9, sasl_username=\u00fc\u00fc \t',
  'mx1 postfix/smtpd[1]: NOQUEUE: reject:    ',
  'mx1 postfix/smtpd[1]: NOQUEUE: reject: x\u2003\u2003',
  'mx1 dovecot: auth-worker(7): pam(a,192.0.2.7): pam_authenticate() failed: Permission denied',
  'mx1 dovecot: auth-worker(7): pam(a,b,192.0.2.7,<s>): unknown user',
  'mx1 dovecot: auth: passwd-file(x,2001:db8::7,<s>): unknown user',
  'mx1 dovecot: auth(a,192.0.2.7): auth(b,192.0.2.8): unknown user',
  'mx1 dovecot: auth-worker(7): ',
  'mx1 dovecot: imap-login: ',
  'mx1 dovecot: conn unix:auth-worker (pid=1,uid=2): auth-worker<3>: sql(u,192.0.2.9,<s>): Password mismatch',
  'mx1 sm-mta[1]: x1y2z3a4b5c6d7e8: ruleset=check_rcpt, arg1=<a@b>, relay=[192.0.2.1], reject=550',
]

for (const name of CUT_FILTERS) {
  test(`${name}: the cut gives the mlfid and content the full prefregex gives, on every sample line`, () => {
    const def = loadFilter(FILTERS, name)
    const cut = PrefregexCut.of(def.prefregex!, {})
    assert.ok(cut, `${name}'s prefregex is of the shape that is cut`)
    const full = FailRegex.compile(def.prefregex!)
    const sample = join(LOGS, name)
    const lines = existsSync(sample) ? readFileSync(sample, 'utf8').split('\n').filter((l) => !l.startsWith('#') && l !== '') : []
    let decided = 0
    for (const text of [...lines, ...HOSTILE].flatMap(texts)) {
      const buf = Buffer.from(text)
      const got = cut.cut(buf)
      if (got === undefined) continue
      decided++
      assert.deepEqual(cutGroups(got), fullRegex(full, buf), JSON.stringify(text))
    }
    assert.ok(decided > 0)
  })
}

test('prefregexes of other shapes are left to the full regex', () => {
  for (const name of ['courier-smtp']) {
    assert.equal(PrefregexCut.of(loadFilter(FILTERS, name).prefregex!, {}), undefined, name)
  }
  const shapes = [
    String.raw`^<F-MLFID>\S+</F-MLFID>\b<F-CONTENT>.+</F-CONTENT>$`,
    String.raw`^<F-MLFID>\S+</F-MLFID> x <F-CONTENT>.+</F-CONTENT>$`,
    String.raw`^(?i)\S+ <F-CONTENT>.+</F-CONTENT>$`,
    String.raw`^\S+ <HOST> <F-CONTENT>.+</F-CONTENT>$`,
    String.raw`^\S+ <F-CONTENT>.+</F-CONTENT>\s*$`,
    String.raw`^\S+ <F-CONTENT>.+?</F-CONTENT>x+$`,
    String.raw`^\S+ <F-CONTENT>.+?</F-CONTENT>(?: x\b)?$`,
    String.raw`^\S+ <F-CONTENT>.+</F-CONTENT>`,
  ]
  for (const pattern of shapes) assert.equal(PrefregexCut.of(pattern, {}), undefined, pattern)
  assert.equal(PrefregexCut.of(String.raw`^\S+ <F-CONTENT>.+</F-CONTENT>$`, { multiline: true }), undefined)
})

test('a text whose content would be empty or hold a newline is left to the full regex; one the head misses is no match', () => {
  const cut = PrefregexCut.of(loadFilter(FILTERS, 'sshd').prefregex!, {})!
  assert.equal(cut.cut(Buffer.from('mx1 sshd[1]: ')), undefined)
  assert.equal(cut.cut(Buffer.from('mx1 sshd[1]: Failed\npassword')), undefined)
  assert.deepEqual(cut.cut(Buffer.from('mx1 sshd[1]: error: Failed password')), { mlfid: 'mx1 sshd[1]: ', content: Buffer.from('Failed password') })
  const strict = PrefregexCut.of(String.raw`^<F-MLFID>\S+ sshd\[\d+\]: </F-MLFID><F-CONTENT>.+</F-CONTENT>$`, {})!
  assert.equal(strict.cut(Buffer.from('mx1 cron[1]: Failed password')), null)
})

test("dovecot's prefregex is cut after the syslog prefix: the address an auth process writes before its message is taken from that part alone", () => {
  const cut = PrefregexCut.of(loadFilter(FILTERS, 'dovecot').prefregex!, {})!
  assert.deepEqual(cut.cut(Buffer.from('mx1 dovecot: auth(default,192.0.2.7): unknown user')), { fields: { ip4: '192.0.2.7' }, content: Buffer.from('unknown user') })
  assert.deepEqual(cut.cut(Buffer.from('mx1 dovecot: auth-worker(default,2001:db8::7,<s>): unknown user')), { fields: { ip6: '2001:db8::7' }, content: Buffer.from('unknown user') })
  assert.deepEqual(cut.cut(Buffer.from('mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<u>, rip=192.0.2.9')),
    { content: Buffer.from('Disconnected (auth failed, 1 attempts): user=<u>, rip=192.0.2.9') })
})

test("postfix's lazy content ends where its sasl_username tail begins, and the tail gives the user", () => {
  const cut = PrefregexCut.of(loadFilter(FILTERS, 'postfix').prefregex!, {})!
  const head = 'mx1 postfix/smtpd[1]: warning: '
  assert.deepEqual(cut.cut(Buffer.from(`${head}reject: RCPT from x[192.0.2.9]: 554 denied, sasl_username=eve  `)),
    { content: Buffer.from('RCPT from x[192.0.2.9]: 554 denied'), fields: { user: 'eve' } })
  assert.deepEqual(cut.cut(Buffer.from(`${head}reject: RCPT from x, sasl_username=e ve `)), { content: Buffer.from('RCPT from x, sasl_username=e ve') })
})
