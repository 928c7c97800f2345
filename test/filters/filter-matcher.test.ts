import assert from 'node:assert/strict'
import { test } from 'node:test'
import RE2 from 're2'
import type { ResolvedFilter } from '../../src/config/filter-config.js'
import { compileFilter } from '../../src/filters/compiled-filter.js'
import { FilterMatcher } from '../../src/filters/filter-matcher.js'

const NOW = Date.UTC(2005, 7, 14, 10, 0, 0) / 1000

function matcher(def: Partial<ResolvedFilter>, checkAllRegex = false): FilterMatcher {
  const full: ResolvedFilter = {
    name: 'test', file: '<test>', failregex: [], ignoreregex: [], maxlines: 1, options: {}, datepattern: '{^LN-BEG}', ...def,
  }
  return new FilterMatcher(compileFilter(full, { useDns: 'raw', timezone: 'UTC', now: () => NOW }), { checkAllRegex })
}

const line = (s: string): Buffer => Buffer.from(s, 'utf8')

/** A filter of sshd's shape: the prefregex names the connection (F-MLFID) by host and pid. */
function connectionMatcher(failregex: string[]): FilterMatcher {
  return matcher({ prefregex: '^ <F-MLFID>\\S+ sshd\\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$', failregex })
}

test('the date is cut out of the line (the space after it stays) before the failregex runs, and gives the failure its time', () => {
  const m = matcher({ failregex: ['^ host sshd\\[\\d+\\]: Failed password for \\S+ from <HOST>$'] })
  const r = m.processLine(line('Aug 14 11:59:58 host sshd[42]: Failed password for root from 192.0.2.7'))
  assert.equal(r.outcome, 'matched')
  assert.equal(r.failures[0]!.host, '192.0.2.7')
  assert.equal(r.failures[0]!.time, Date.UTC(2005, 7, 14, 11, 59, 58) / 1000)
  assert.deepEqual(r.failures[0]!.matches, ['Aug 14 11:59:58 host sshd[42]: Failed password for root from 192.0.2.7'])
})

test('failregexes see only the prefregex F-CONTENT, and prefregex groups join the failure', () => {
  const m = connectionMatcher(['^Invalid user <F-USER>\\S+</F-USER> from <HOST>$'])
  const r = m.processLine(line('Aug 14 11:00:00 host sshd[7]: Invalid user admin from 2001:db8::1'))
  assert.equal(r.failures[0]!.host, '2001:db8::1')
  assert.equal(r.failures[0]!.fields['user'], 'admin')
  assert.equal(r.failures[0]!.fields['mlfid'], 'host sshd[7]:')
  assert.equal(m.processLine(line('Aug 14 11:00:00 other[7]: Invalid user admin from 192.0.2.1')).outcome, 'missed')
})

test('an ignoreregex match suppresses the failure and counts the line as ignored', () => {
  const m = matcher({ failregex: ['Failed login from <HOST>$'], ignoreregex: ['^ trusted-scanner '] })
  const r = m.processLine(line('Aug 14 11:00:00 trusted-scanner Failed login from 192.0.2.9'))
  assert.equal(r.outcome, 'ignored')
  assert.deepEqual(r.failures, [])
  assert.deepEqual(r.ignoredBy, [0])
})

test('lines of one connection (F-MLFID) merge: users gathered, attempts counted, success forgets', () => {
  const m = connectionMatcher([
    '^Failed password for <F-USER>\\S+</F-USER> from <HOST> port \\d+$',
    '^<F-MLFFORGET><F-MLFGAINED>Accepted password</F-MLFGAINED></F-MLFFORGET> for <F-USER>\\S+</F-USER> from <HOST> port \\d+$',
  ])
  m.processLine(line('Aug 14 11:00:00 h sshd[9]: Failed password for root from 192.0.2.5 port 1'))
  const second = m.processLine(line('Aug 14 11:00:01 h sshd[9]: Failed password for admin from 192.0.2.5 port 1'))
  assert.deepEqual(second.failures[0]!.users!.sort(), ['admin', 'root'])
  const ok = m.processLine(line('Aug 14 11:00:02 h sshd[10]: Accepted password for bob from 192.0.2.6 port 1'))
  assert.equal(ok.failures[0]!.nofail, true, 'a gained login is a helper, not a failure')
})

test('a line of a connection (F-MLFID) names its own address, not one cached for an earlier client of the same id', () => {
  const m = connectionMatcher([
    '^<F-NOFAIL>Connection from</F-NOFAIL> <HOST> port \\d+$',
    '^Failed password for <F-USER>\\S+</F-USER> from <HOST> port \\d+$',
  ])
  m.processLine(line('Aug 14 11:00:00 h sshd[9]: Connection from 192.0.2.77 port 50000'))
  const v6 = m.processLine(line('Aug 14 11:03:00 h sshd[9]: Failed password for admin from 2001:db8::66 port 40000'))
  assert.equal(v6.failures[0]!.host, '2001:db8::66', 'sshd reused the pid: this IPv6 client is not the IPv4 one')
  const name = m.processLine(line('Aug 14 11:03:01 h sshd[9]: Failed password for root from client.example.net port 40000'))
  assert.equal(name.failures[0]!.host, 'client.example.net')
  assert.deepEqual(name.failures[0]!.users!.sort(), ['admin', 'root'], 'the connection keeps its users')
})

test('a line with no date takes the last date only while it is recent; otherwise it yields no failure', () => {
  const m = matcher({ failregex: ['^\\s*refused <HOST>$'] })
  assert.deepEqual(m.processLine(line('refused 192.0.2.1')).failures, [], 'no date known at all')
  m.processLine(line('Aug 14 11:59:30 refused 192.0.2.1'))
  const r = m.processLine(line('refused 192.0.2.2'))
  assert.equal(r.failures[0]!.time, Date.UTC(2005, 7, 14, 11, 59, 30) / 1000)
})

test('multi-line filters (maxlines) match across buffered lines, skipping lines with <SKIPLINES>', () => {
  const m = matcher({ maxlines: 3, failregex: ['^\\s*conn (?P<c>\\d+) auth failed<SKIPLINES>^\\s*conn \\d+ from <HOST>$'] })
  m.processLine(line('Aug 14 11:00:00 conn 1 auth failed'))
  m.processLine(line('Aug 14 11:00:00 unrelated noise'))
  const r = m.processLine(line('Aug 14 11:00:01 conn 1 from 192.0.2.44'))
  assert.equal(r.failures[0]!.host, '192.0.2.44')
  assert.equal(r.failures[0]!.matches.length, 2, 'the skipped line is not part of the failure')
})

test('captured hosts are validated: only real addresses get an address, other text stays a name', () => {
  const m = matcher({ failregex: ['^\\s*bad login from <HOST>$'] })
  const mapped = m.processLine(line('Aug 14 11:00:00 bad login from ::ffff:192.0.2.3')).failures[0]!
  assert.equal(mapped.address?.ip, '192.0.2.3')
  const leadingZero = m.processLine(line('Aug 14 11:00:00 bad login from 192.030.0.6')).failures[0]!
  assert.equal(leadingZero.host, '192.030.0.6')
  assert.equal(leadingZero.address, undefined, 'an octet with a leading zero is not an address')
  const name = m.processLine(line('Aug 14 11:00:00 bad login from mail.example.com')).failures[0]!
  assert.equal(name.host, 'mail.example.com')
  assert.equal(name.address, undefined)
})

test('on the hot path the first matching failregex wins; checkAllRegex tries them all', () => {
  const def = { failregex: ['from <HOST>$', '^\\s*x from <HOST>$'] }
  assert.deepEqual(matcher(def).processLine(line('Aug 14 11:00:00 x from 192.0.2.1')).matchedRegexes, [0])
  assert.deepEqual(matcher(def, true).processLine(line('Aug 14 11:00:00 x from 192.0.2.1')).matchedRegexes, [0, 1])
})

test('the prefilter names only the failregexes that may match a line, and never leaves out one that does', () => {
  const m = matcher({ failregex: ['^\\s*Failed password for \\S+ from <HOST>$', '^\\s*Invalid user \\S+ from <HOST>$'] })
  assert.deepEqual(m.candidates(line('Aug 14 11:00:00 CRON[1]: (root) CMD (true)')), [])
  assert.deepEqual(m.candidates(line('Aug 14 11:00:00 Invalid user x from 192.0.2.1')), [1])
})

test('the prefilter names the ignoreregexes that may match after the failregexes, and fail2ban-regex still sees a line only an ignoreregex matches as ignored', () => {
  const filter = compileFilter({
    name: 'test', file: '<test>', maxlines: 1, options: {}, datepattern: '{^LN-BEG}',
    failregex: ['^\\s*Failed password for \\S+ from <HOST>$', '^\\s*Invalid user \\S+ from <HOST>$', '^\\s*Bad protocol from <HOST>$', '^\\s*Timeout for <HOST>$'],
    ignoreregex: ['^\\s*Disconnecting <HOST>: Too many authentication failures$'],
  }, { useDns: 'raw', timezone: 'UTC', now: () => NOW })
  const m = new FilterMatcher(filter, { exactOutcomes: true })
  const ignoredOnly = line('Aug 14 11:00:00 Disconnecting 192.0.2.1: Too many authentication failures')
  assert.deepEqual(m.candidates(ignoredOnly), [4])
  const r = m.processLine(ignoredOnly)
  assert.equal(r.outcome, 'ignored')
  assert.deepEqual(r.ignoredBy, [0])
  const neither = m.processLine(line('Aug 14 11:00:00 CRON[1]: (root) CMD (true)'))
  assert.equal(neither.outcome, 'missed')
  assert.equal(neither.date?.time, Date.UTC(2005, 7, 14, 11) / 1000, 'its date is still found, as fail2ban-regex counts it')
  assert.equal(m.processLine(line('Aug 14 11:00:01 Timeout for 192.0.2.2')).failures[0]!.host, '192.0.2.2')
})

test('the prefilter of a failregex asks for the prefregex\'s part before the content first: a line the failregex alone would pass stops there', () => {
  const filter = compileFilter({
    name: 'test', file: '<test>', ignoreregex: [], maxlines: 1, options: {}, datepattern: '{^LN-BEG}',
    prefregex: '^ \\S+ postfix/smtpd\\[\\d+\\]: (?:NOQUEUE: )?reject: <F-CONTENT>.+</F-CONTENT>$',
    failregex: ['from [^[]*\\[<HOST>\\]'],
  }, { useDns: 'raw', timezone: 'UTC', now: () => NOW })
  const prefilters = new RE2.Set(filter.prefilterSources, 'u')
  const connect = line('Aug 14 11:00:00 mx postfix/smtpd[7]: connect from unknown[192.0.2.1]')
  assert.deepEqual(prefilters.match(connect), [])
  assert.deepEqual(new FilterMatcher(filter).candidates(connect), [])
  const reject = line('Aug 14 11:00:00 mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 Relay access denied')
  assert.deepEqual(prefilters.match(reject), [0])
  assert.deepEqual(new FilterMatcher(filter).candidates(reject), [0])
  assert.equal(new FilterMatcher(filter).processLine(reject).failures[0]!.host, '192.0.2.1')
})

test('with dates not at the line start, the prefilter runs on the line once its date is cut out', () => {
  const m = matcher({ datepattern: undefined, failregex: ['^\\[client <HOST>\\] denied$'] })
  assert.equal(m.candidates(line('[client 192.0.2.8] [2005-08-14 11:00:00] denied')), undefined)
  const r = m.processLine(line('[client 192.0.2.8] 2005-08-14 11:00:00 denied'))
  assert.equal(r.outcome, 'missed', 'the space on each side of the cut date stays')
  assert.equal(m.processLine(line('[client 192.0.2.8]2005-08-14 11:00:00 denied')).failures[0]!.host, '192.0.2.8')
})
