import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DateDetector, type DateDetectorOptions, type DateMatch } from '../../src/filters/date-detector.js'
import { DatePatternError } from '../../src/filters/date-regex.js'

/** fail2ban's sample tests run at 2005-08-14 12:00 CEST, in Europe/Zurich. */
const SAMPLE_NOW = 1124013600

function detector(opts: Partial<DateDetectorOptions> = {}): DateDetector {
  return new DateDetector({ now: () => SAMPLE_NOW, localZone: 'Europe/Zurich', ...opts })
}

/** Epoch seconds of a Europe/Zurich wall-clock time (CET = +1, CEST = +2 in the dates used here). */
function zurich(y: number, mo: number, d: number, h: number, mi: number, s: number, offsetHours: number): number {
  return Date.UTC(y, mo - 1, d, h - offsetHours, mi, s) / 1000
}

function text(line: string, m: DateMatch | null): string | null {
  return m === null ? null : Buffer.from(line).subarray(m.start, m.end).toString()
}

function find(d: DateDetector, line: string): DateMatch | null {
  return d.match(Buffer.from(line))
}

// One real line per default template, from the conformance sample logs; time is the failJSON's.
const DEFAULT_TEMPLATE_SAMPLES: [string, string, number][] = [
  ['Aug 14 11:59:58 myhost sshd[1234]: Invalid user admin from 192.0.2.1', 'Aug 14 11:59:58', zurich(2005, 8, 14, 11, 59, 58, 2)],
  ['[Thu Jul 11 01:21:41 2013] [error] [client 194.228.20.113] user  not found: /', 'Thu Jul 11 01:21:41 2013', zurich(2013, 7, 11, 1, 21, 41, 2)],
  ['[Sat Jul 20 21:34:49.453232 2013] [access_compat:error] [pid 17512:tid 140123104306944] [client 127.0.0.1:51380] AH01797',
    'Sat Jul 20 21:34:49.453232 2013', zurich(2013, 7, 20, 21, 34, 49, 2)],
  ['Oct 27 2015 12:35:40 test1.beezwax.net screensharingd[1170]: Authentication: FAILED :: User Name: sdfsdfs', 'Oct 27 2015 12:35:40', zurich(2015, 10, 27, 12, 35, 40, 1)],
  ['[2016-08-19 11:11:26] NOTICE[12931]: chan_sip.c:28468 handle_request_register: Registration', '2016-08-19 11:11:26', zurich(2016, 8, 19, 11, 11, 26, 2)],
  ['2016-02-24T15:26:18.237955 6 [Note] Access denied for user \'root\'@\'localhost\' (using password: YES)', '2016-02-24T15:26:18.237955', zurich(2016, 2, 24, 15, 26, 18, 1)],
  ['11-06-2013 02:09:40 +0300 PROXY.3128 00004 - 1.2.3.4:28783 0.0.0.0:0 0 0 0 GET http://www.yandex.ua/', '11-06-2013 02:09:40', zurich(2013, 6, 11, 2, 9, 40, 2)],
  ['1.2.3.4 - - [05/Mar/2007:14:39:21 +0100] "POST /123.html/trackback/ HTTP/1.0" 301 459', '05/Mar/2007:14:39:21 +0100', zurich(2007, 3, 5, 14, 39, 21, 1)],
  ['[17/Jun/2011 17:00:45] Attempt to deliver to unknown recipient <advertise@aplawrence.com>', '17/Jun/2011 17:00:45', zurich(2011, 6, 17, 17, 0, 45, 2)],
  ['Apr-07-13 07:08:36 [SSL-out] 68.171.223.68 SSL negotiation with client failed', 'Apr-07-13 07:08:36', zurich(2013, 4, 7, 7, 8, 36, 2)],
  ['[PDT Apr 16 21:05:29] error    : Warning: Client \'69.93.127.111\' supplied unknown user \'foo\'', 'PDT Apr 16 21:05:29', zurich(2005, 4, 17, 6, 5, 29, 2)],
  ['[1387288694] nsd[7745]: info: ratelimit block example.com. type any target 192.0.2.0/24', '1387288694', zurich(2013, 12, 17, 14, 58, 14, 1)],
  ['type=USER_ERR msg=audit(1373330717.000:4070): user pid=12000 uid=0 auid=4294967295 ses=4294967295', '1373330717.000', zurich(2013, 7, 9, 2, 45, 17, 2)],
  ['@400000004c91b044077a9e94 imap-login: Info: Aborted login (auth failed, 1 attempts): user=<martin@example.com>', '@400000004c91b044077a9e94', zurich(2010, 9, 16, 7, 51, 0, 2)],
  ['[28325:00010-3735542592] 22-06-2014 09:56:12   smtp: postmaster [1.2.3.4] authentication failure', '22-06-2014 09:56:12', zurich(2014, 6, 22, 9, 56, 12, 2)],
]

for (const [line, date, time] of DEFAULT_TEMPLATE_SAMPLES) {
  test(`default templates read "${date}" from a sample line`, () => {
    const m = find(detector(), line)
    assert.equal(text(line, m), date)
    assert.equal(m!.time, time)
  })
}

// fail2ban's testVariousTimes: every form means 2005-01-23 21:59:59 CET; "anchored" forms only at line start.
const VARIOUS_TIMES: [anchored: boolean, bounded: boolean, date: string, cut?: string][] = [
  [false, true, 'Jan 23 21:59:59'], [false, false, 'Sun Jan 23 21:59:59 2005'], [false, false, 'Sun Jan 23 21:59:59'],
  [false, false, 'Sun Jan 23 2005 21:59:59'], [false, true, '2005/01/23 21:59:59'], [false, true, '2005.01.23 21:59:59'],
  [false, true, '23/01/2005 21:59:59'], [false, true, '23/01/05 21:59:59'], [false, true, '23/Jan/2005:21:59:59'],
  [false, true, '23/Jan/2005:21:59:59 +0100'], [false, true, '01/23/2005:21:59:59'], [false, true, '2005-01-23 21:59:59'],
  [false, true, '2005-01-23 21:59:59,000'], [false, true, '23-Jan-2005 21:59:59'], [false, true, '23-Jan-2005 21:59:59.02'],
  [false, true, '23-Jan-2005 21:59:59 +0100'], [false, true, '23-01-2005 21:59:59'], [true, true, '1106513999'],
  [false, true, '01-23-2005 21:59:59.252'], [false, false, '@4000000041f4104f00000000'], [false, true, '2005-01-23T20:59:59.252Z'],
  [false, true, '2005-01-23T15:59:59-05:00'], [false, true, '20050123T215959'], [false, true, '20050123 215959'],
  [true, true, '<01/23/05@21:59:59>'], [false, true, '050123 21:59:59'], [true, true, 'Jan-23-05 21:59:59'],
  [false, true, 'Jan 23, 2005 9:59:59 PM'], [true, true, '1106513999.000'], [true, true, '[1106513999.000]', '1106513999.000'],
  [false, true, 'audit(1106513999.000:987)', '1106513999.000'],
]

for (const [anchored, bounded, date, cut] of VARIOUS_TIMES) {
  test(`"${date}" is found at line start${anchored ? ' only' : ' and after a prefix'}${bounded ? ', not inside a word' : ''}`, () => {
    const d = detector()
    const tail = '[sshd] error: PAM: Authentication failure'
    for (const [prefix, expected] of [['', true], ['bogus-prefix ', !anchored], ['word-boundary', false]] as const) {
      if (!bounded && prefix === 'word-boundary') continue
      const line = prefix + date + tail
      const m = find(d, line)
      if (!expected) {
        assert.equal(m, null, line)
        continue
      }
      assert.equal(text(line, m), cut ?? date, line)
      assert.equal(Math.floor(m!.time), 1106513999, line)
    }
  })
}

test('a line without a date gives null', () => {
  assert.equal(find(detector(), 'no date line[sshd] error: PAM: Authentication failure'), null)
})

test('the date nearest the line start wins, and a date deep in the message does not replace the known one', () => {
  const d = detector()
  const cases: [string, string, number][] = [
    ['030324  0:03:59', 'some free text 030324  0:03:59 -- 2003-03-07 17:05:01 ...', 1],
    ['2003-03-07 17:05:01', 'some free text 2003-03-07 17:05:01 test ...', 15],
    ['030324  0:04:00', 'server mysqld[1000]: 030324  0:04:00 [Warning] Access denied ... foreign-input just some free text 2003-03-07 17:05:01 test', 10],
    ['Sep 16 21:30:26', 'server mysqld[1020]: Sep 16 21:30:26 server mysqld: 030916 21:30:26 [Warning] Access denied', 15],
    ['2005-10-07 06:09:42', 'server mysqld[5906]: 2005-10-07 06:09:42 5907 [Warning] Access denied', 20],
    ['2005-10-08T15:26:18.237955', 'server mysqld[5906]: 2005-10-08T15:26:18.237955 6 [Note] Access denied', 20],
    ['051009 10:05:30', 'server mysqld[1000]: 051009 10:05:30 [Warning] Access denied ...', 50],
  ]
  for (const [date, line, times] of cases) {
    for (let i = 0; i < times; i++) assert.equal(text(line, find(d, line)), date, `${line} #${i}`)
  }
})

test('a yearless date more than a day ahead of now is last year\'s', () => {
  const d = detector()
  assert.equal(find(d, 'Aug 15 12:00:01 host sshd[1]: x')!.time, zurich(2004, 8, 15, 12, 0, 1, 2))
  assert.equal(find(d, 'Aug 15 11:59:59 host sshd[1]: x')!.time, zurich(2005, 8, 15, 11, 59, 59, 2))
})

test('lines of one second share their time until now moves, and each detector reads them in its own zone', () => {
  let now = SAMPLE_NOW
  const d = detector({ now: () => now })
  const utc = detector({ localZone: 'UTC' })
  const line = 'Aug 15 12:00:01 host sshd[1]: x'
  assert.equal(find(d, line)!.time, zurich(2004, 8, 15, 12, 0, 1, 2))
  assert.equal(find(utc, line)!.time, Date.UTC(2004, 7, 15, 12, 0, 1) / 1000)
  assert.equal(find(d, 'Aug 15 12:00:01 host sshd[2]: y')!.time, zurich(2004, 8, 15, 12, 0, 1, 2))
  now += 86400
  assert.equal(find(d, line)!.time, zurich(2005, 8, 15, 12, 0, 1, 2))
})

test('on New Year\'s night a December date belongs to the old year', () => {
  const d = detector({ now: () => zurich(2006, 1, 1, 0, 30, 0, 1) })
  assert.equal(find(d, 'Dec 31 23:59:59 host sshd[1]: x')!.time, zurich(2005, 12, 31, 23, 59, 59, 1))
  assert.equal(find(d, 'Jan  1 00:29:00 host sshd[1]: x')!.time, zurich(2006, 1, 1, 0, 29, 0, 1))
})

test('a time without a date is today, or yesterday when it is still ahead', () => {
  assert.equal(find(detector({ datepattern: '^%ExH:%ExM:%ExS**' }), '21:59:59')!.time, 1123963199)
  assert.equal(find(detector({ datepattern: '^%ExH:%ExM:%ExS**' }), '00:00:01')!.time, 1123970401)
})

test('a month/day date ahead of now goes back a year', () => {
  assert.equal(find(detector({ datepattern: '^%m/%d %ExH:%ExM:%ExS**' }), '09/01 21:59:59')!.time, 1094068799)
})

test('two-digit years are in the 2000s', () => {
  const m = find(detector(), '23/01/99 21:59:59 x')
  assert.equal(m!.time, zurich(2099, 1, 23, 21, 59, 59, 1))
})

test('the 12-hour clock reads 12 AM as midnight and 12 PM as noon', () => {
  const d = detector({ datepattern: '^%b %d, %ExY %I:%M:%S %p' })
  assert.equal(find(d, 'Apr 16, 2013 12:32:13 AM x')!.time, zurich(2013, 4, 16, 0, 32, 13, 2))
  assert.equal(find(d, 'Apr 16, 2013 12:32:13 PM x')!.time, zurich(2013, 4, 16, 12, 32, 13, 2))
  assert.equal(find(d, 'Apr 15, 2013 8:34:08 PM x')!.time, zurich(2013, 4, 15, 20, 34, 8, 2))
  assert.equal(find(detector({ datepattern: '^%B %Exd %I:%ExM:%ExS**' }), 'January 23 12:59:59')!.time, 1106438399)
})

test('week number and weekday give the date', () => {
  assert.equal(find(detector({ datepattern: '^%y %U %A %ExH:%ExM:%ExS**' }), '01 11 Wednesday 21:59:59')!.time, 985208399)
  assert.equal(find(detector({ datepattern: '^%y %W %A %ExH:%ExM:%ExS**' }), '01 11 Wednesday 21:59:59')!.time, 984603599)
  assert.equal(find(detector({ datepattern: '^%y %W %w %ExH:%ExM:%ExS**' }), '01 11 0 21:59:59')!.time, 984949199)
  assert.equal(find(detector({ datepattern: '^%y %W %w %ExH:%ExM:%ExS**' }), '01 11 6 21:59:59')!.time, 984862799)
})

test('day of the year and the C locale\'s %c, %x and %X read as strptime does', () => {
  assert.equal(find(detector({ datepattern: '^%Y %j %H:%M:%S' }), '2005 023 21:59:59 x')!.time, 1106513999)
  assert.equal(find(detector({ datepattern: '^%c' }), 'Sun Jan 23 21:59:59 2005 x')!.time, 1106513999)
  assert.equal(find(detector({ datepattern: '^%x %X' }), '01/23/05 21:59:59 x')!.time, 1106513999)
})

test('a matched text that is no valid date gives NaN', () => {
  const m = find(detector(), '2005-02-30 10:00:00 x')
  assert.equal(text('2005-02-30 10:00:00 x', m), '2005-02-30 10:00:00')
  assert.ok(Number.isNaN(m!.time))
})

test('fractions of a second are dropped from %f, as fail2ban does', () => {
  assert.equal(find(detector(), '2005-01-23 21:59:59.999 x')!.time, 1106513999)
})

test('EPOCH finds seconds at line start, in leading brackets and in audit(), with fractions', () => {
  const d = detector({ datepattern: 'EPOCH' })
  for (const u of [1138049999, 32535244799]) {
    for (const form of ['%s', '[%s]', '[%s.555]', 'audit(%s.555:101)']) {
      const line = form.replace('%s', String(u)) + ' [sshd] error: PAM: Authentication failure'
      assert.equal(Math.floor(find(d, line)!.time), u, line)
    }
  }
  assert.equal(find(d, '[1138049999.555] x')!.time, 1138049999.555)
  for (const u of ['123456789', '9999999999999999', '1138049999A', 'A1138049999']) {
    for (const form of ['%s', '[%s]', '[%s.555]', 'audit(%s.555:101)']) {
      assert.equal(find(d, form.replace('%s', u) + ' [sshd] error'), null, form.replace('%s', u))
    }
  }
})

test('LEPOCH reads milliseconds, microseconds and fractional milliseconds', () => {
  const d = detector({ datepattern: 'LEPOCH' })
  assert.equal(find(d, '1700000000 x')!.time, 1700000000)
  assert.equal(find(d, '1700000000123 x')!.time, 1700000000.123)
  assert.equal(find(d, '1700000000123456 x')!.time, 1700000000.123456)
  assert.equal(find(d, '1700000000123.5 x')!.time, 1700000000.1235)
})

test('{^LN-BEG}Epoch only takes a number at the line start', () => {
  const d = detector({ datepattern: '{^LN-BEG}Epoch' })
  const line = '1386543323.000      4 91.188.124.227 TCP_DENIED/403 4099 GET http://www.proxy-listen.de/azenv.php'
  assert.equal(find(d, line)!.time, 1386543323)
  assert.equal(find(d, 'x 1386543323 y'), null)
})

test('a pattern with {EPOCH} cuts the whole pattern and reads the number', () => {
  const d = detector({ datepattern: String.raw`^ts=\{?{EPOCH}\}?` })
  const line = 'ts={1386543323} login failed'
  const m = find(d, line)
  assert.equal(text(line, m), 'ts={1386543323}')
  assert.equal(m!.time, 1386543323)
})

test('TAI64N reads the seconds of the label', () => {
  const line = '@400000004c91b044077a9e94 imap-login: Info: Aborted login'
  assert.equal(find(detector({ datepattern: '{^LN-BEG}TAI64N' }), line)!.time, 1284616260)
  assert.equal(find(detector({ datepattern: 'TAI64N' }), 'x ' + line)!.time, 1284616260)
})

test('{NONE} matches every line with an empty date and the time now', () => {
  const now = 1700000000.5
  const d = detector({ datepattern: '{NONE}', now: () => now })
  assert.deepEqual(find(d, 'Aug 14 11:59:58 any line'), { start: 0, end: 0, time: now, template: '{NONE}' })
})

test('an empty date group means "no date here": the time is now', () => {
  const d = detector({ datepattern: '^WARNING:()**\n^%b %d, %ExY %I:%M:%S %p' })
  const m = find(d, 'WARNING: Authentication attempt from 192.0.2.0 for user "null" failed.')
  assert.deepEqual(m, { start: 8, end: 8, time: SAMPLE_NOW, template: '^WARNING:()**' })
  assert.equal(find(d, 'Apr 15, 2013 8:34:08 PM org.slf4j.impl.JCLLoggerAdapter warn')!.time, zurich(2013, 4, 15, 20, 34, 8, 2))
})

// datepattern values of fail2ban's filter.d, after config substitution, with lines of their sample logs.
const FILTER_DATEPATTERNS: [filter: string, datepattern: string, line: string, date: string, time: number][] = [
  ['common.conf (file)', '{^LN-BEG}', 'Aug 14 11:59:58 myhost sshd[1234]: x', 'Aug 14 11:59:58', zurich(2005, 8, 14, 11, 59, 58, 2)],
  ['common.conf (rfc5424)', String.raw`^<\d+>\d+\s+{DATE}`,
    '<38>1 2005-08-14T11:53:18.123456+02:00 host sshd 21810 - - Connection closed by 192.0.2.1 port 22',
    '<38>1 2005-08-14T11:53:18.123456+02:00', zurich(2005, 8, 14, 11, 53, 18, 2)],
  ['apache-badbots', String.raw`^[^\[]*\[({DATE})`, '1.2.3.4 - - [05/Mar/2007:14:39:21 +0100] "POST /x HTTP/1.0" 301 459',
    '05/Mar/2007:14:39:21 +0100', zurich(2007, 3, 5, 14, 39, 21, 1)],
  ['apache-fakegooglebot', String.raw`^[^\[]*(\[{DATE}\s*\])`, '66.249.66.1 - - [28/Nov/2014:22:21:04 +0100] "GET /"',
    '[28/Nov/2014:22:21:04 +0100]', zurich(2014, 11, 28, 22, 21, 4, 1)],
  ['kerio', String.raw`^\[%d/%b/%Y %H:%M:%S\]`, '[17/Jun/2011 17:00:45] Attempt to deliver to unknown recipient',
    '[17/Jun/2011 17:00:45]', zurich(2011, 6, 17, 17, 0, 45, 2)],
  ['counter-strike', '^L %d/%m/%Y - %H:%M:%S', 'L 12/10/2014 - 08:22:44: "Player<2><STEAM_0:1:1><>" connected, address "192.0.2.2:27005"',
    'L 12/10/2014 - 08:22:44', zurich(2014, 10, 12, 8, 22, 44, 2)],
  ['directadmin', '^%Y:%m:%d-%H:%M:%S', '2014:07:02-00:17:45: \'3.2.1.4\' 2 failed login attempts. Account \'test\'',
    '2014:07:02-00:17:45', zurich(2014, 7, 2, 0, 17, 45, 2)],
  ['squirrelmail', '^%m/%d/%Y %H:%M:%S', '10/06/2013 15:50:41 [LOGIN_ERROR] dadas (mydomain.org) from 151.64.44.11',
    '10/06/2013 15:50:41', zurich(2013, 10, 6, 15, 50, 41, 2)],
  ['freeswitch', String.raw`^(?:%Y-)?%m-%d[ T]%H:%M:%S(?:\.%f)?`, '2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:2531 Can\'t find user',
    '2013-12-31 17:39:54.767815', zurich(2013, 12, 31, 17, 39, 54, 1)],
  ['grafana', '^t=%Y-%m-%dT%H:%M:%S%z', 't=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password"',
    't=2020-10-19T17:44:33+0200', zurich(2020, 10, 19, 17, 44, 33, 2)],
  ['openhab', String.raw`%d/%b[^/]*/%Y:%H:%M:%S %z`, '2019-01-30 rhost - - [30/Jan/2019:14:46:06 +0100] "GET /"',
    '30/Jan/2019:14:46:06 +0100', zurich(2019, 1, 30, 14, 46, 6, 1)],
  ['xrdp', String.raw`^\[?%ExY%Exm%Exd-%ExH:%ExM:%ExS\]?`, '[20220407-12:11:06] [INFO ] AUTHFAIL: user=badtypist ip=::ffff:10.171.161.151',
    '[20220407-12:11:06]', zurich(2022, 4, 7, 12, 11, 6, 2)],
  ['nginx-bad-request', String.raw`{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
    '2015/01/20 19:53:28 [error] 27426#0: *1 x', '2015/01/20 19:53:28', zurich(2015, 1, 20, 19, 53, 28, 1)],
  ['ejabberd-auth', String.raw`^(?:=[^=]+={3,} )?(%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\s*%z)?)`,
    '=INFO REPORT==== 2013-07-14 17:53:40 ===', '2013-07-14 17:53:40', zurich(2013, 7, 14, 17, 53, 40, 2)],
  ['cowrie', String.raw`"timestamp":"(%ExY-%m-%dT%H:%M:%S(?:\.%f)?Z?)"`, '{"eventid":"cowrie.session.connect","timestamp":"2026-08-13T00:00:34.803989Z","message":"New connection"}',
    '2026-08-13T00:00:34.803989Z', zurich(2026, 8, 13, 0, 0, 34, 2)],
  ['assp', '{^LN-BEG}%b-%d-%Exy %H:%M:%S', 'Apr-07-13 07:08:36 [SSL-out] 68.171.223.68 SSL negotiation', 'Apr-07-13 07:08:36', zurich(2013, 4, 7, 7, 8, 36, 2)],
  ['recidive', '^{DATE}', '2006-02-13 15:52:30,388 fail2ban.actions: NOTICE [sshd] Ban 1.2.3.4', '2006-02-13 15:52:30,388', zurich(2006, 2, 13, 15, 52, 30, 1)],
  ['oracleims', String.raw`^<co ts="{DATE}"\s+`, '<co ts="2014-06-02T22:02:13.94+03:00" pi="x"/>', '<co ts="2014-06-02T22:02:13.94+03:00" ', zurich(2014, 6, 2, 21, 2, 13, 2)],
  ['tine20', String.raw`^[^-]+ -- [^-]+ -- - ({DATE})`, '5af3b1f2c3 -- unknown -- - 2014-07-02T20:39:32+00:00 WARN (4): Tinebase_Controller::login',
    '2014-07-02T20:39:32+00:00', zurich(2014, 7, 2, 22, 39, 32, 2)],
]

for (const [filter, datepattern, line, date, time] of FILTER_DATEPATTERNS) {
  test(`${filter}'s datepattern ${datepattern} cuts "${date}"`, () => {
    const m = find(detector({ datepattern }), line)
    assert.equal(text(line, m), date)
    assert.equal(m!.time, time)
  })
}

test('{^LN-BEG} keeps only the line-begin anchored defaults', () => {
  const d = detector({ datepattern: '{^LN-BEG}' })
  assert.equal(find(d, 'server mysqld[5906]: 2005-10-07 06:09:42 5907 [Warning] Access denied'), null)
  assert.ok(d.stats().every((s) => s.template.startsWith('{^LN-BEG}') || s.template.startsWith('^')))
})

test('several datepattern lines are tried together', () => {
  const d = detector({ datepattern: '^%b %d, %ExY %I:%M:%S %p\n^%H:%M:%S.%f' })
  assert.equal(find(d, '12:57:32.907 [http-nio-8080-exec-10] WARN')!.time, zurich(2005, 8, 13, 12, 57, 32, 2))
  assert.equal(find(d, 'Apr 16, 2013 8:32:28 AM org.apache.guacamole')!.time, zurich(2013, 4, 16, 8, 32, 28, 2))
})

test('a raw regex datepattern with strptime group names works without %-codes', () => {
  const d = detector({ datepattern: String.raw`^(?P<Y>\d{4})(?P<m>\d\d)(?P<d>\d\d)-(?P<H>\d\d)(?P<M>\d\d)(?P<S>\d\d)\b` })
  assert.equal(find(d, '20131230-010203 login failed')!.time, zurich(2013, 12, 30, 1, 2, 3, 1))
})

test('word boundaries: ** drops them, {UNB} too, and a pattern letter case is kept without %b', () => {
  const starred = detector({ datepattern: '(?iu)**time:%ExY%Exm%ExdT%ExH%ExM%ExS**' })
  assert.equal(text('XTIME:20050102T010203X', find(starred, 'XTIME:20050102T010203X')), 'TIME:20050102T010203')
  assert.equal(find(starred, 'TIME:50050102T010203'), null)
  const lineBegin = detector({ datepattern: '{^LN-BEG}time:%ExY%Exm%ExdT%ExH%ExM%ExS' })
  assert.equal(find(lineBegin, 'Xtime:20050102T010203'), null)
  assert.equal(find(lineBegin, 'time:20050102T010203X'), null)
  assert.equal(text('##time:20050102T010203...', find(lineBegin, '##time:20050102T010203...')), 'time:20050102T010203')
  assert.equal(find(lineBegin, 'TIME:20050102T010203'), null)
  const unbound = detector({ datepattern: '{UNB}%ExY-%Exm-%Exd' })
  assert.equal(text('x2005-01-02y', find(unbound, 'x2005-01-02y')), '2005-01-02')
})

test('%b and friends make the whole pattern case-insensitive', () => {
  const d = detector({ datepattern: '^%Y %b %d' })
  for (const line of ['2005 jun 03', '2005 Jun 03', '2005 JUN 03']) assert.equal(text(line, find(d, line)), line)
})

test('logtimezone applies to dates without a zone; a zone in the line wins', () => {
  const pattern = '^%ExY-%Exm-%Exd %H:%M:%S(?: ?%Exz)?'
  const at = (tz: string | undefined, line: string) => find(detector({ datepattern: pattern, timezone: tz }), line)!.time
  const log = '2017-01-23 15:00:00'
  const utc = (d: number, h: number, mi = 0) => Date.UTC(2017, 0, d, h, mi) / 1000
  assert.equal(at('UTC+0300', log), utc(23, 12))
  assert.equal(at('UTC', log), utc(23, 15))
  assert.equal(at('UTC-0430', log), utc(23, 19, 30))
  assert.equal(at('GMT+12', log), utc(23, 3))
  assert.equal(at(undefined, log), utc(23, 14))
  assert.equal(at('CET', log), utc(23, 14))
  assert.equal(at('CEST-01', log), utc(23, 14))
  assert.equal(at('CEST', log), utc(23, 13))
  assert.equal(at('CET+0130', log), utc(23, 12, 30))
  assert.equal(at('UTC+0300', log + ' GMT'), utc(23, 15))
  assert.equal(at('UTC', log + ' -1045'), utc(24, 1, 45))
  assert.equal(at(undefined, log + ' +09:45'), utc(23, 5, 15))
  assert.equal(at('UTC+0300', log + ' Z'), utc(23, 15))
  assert.equal(at('GMT+12', log + ' CEST'), utc(23, 13))
  assert.equal(at('GMT+12', log + ' CET+0130'), utc(23, 12, 30))
})

test('an IANA logtimezone follows daylight saving time', () => {
  const d = detector({ datepattern: '^%ExY-%Exm-%Exd %H:%M:%S', timezone: 'America/New_York' })
  assert.equal(find(d, '2017-01-23 15:00:00 x')!.time, Date.UTC(2017, 0, 23, 20) / 1000)
  assert.equal(find(d, '2017-07-23 15:00:00 x')!.time, Date.UTC(2017, 6, 23, 19) / 1000)
})

test('local times across the DST changes: a skipped hour moves forward, a repeated one takes its first occurrence', () => {
  const d = detector({ datepattern: '^%ExY-%Exm-%Exd %H:%M:%S' })
  assert.equal(find(d, '2005-03-27 01:59:59 x')!.time, Date.UTC(2005, 2, 27, 0, 59, 59) / 1000)
  assert.equal(find(d, '2005-03-27 02:30:00 x')!.time, Date.UTC(2005, 2, 27, 1, 30) / 1000)
  assert.equal(find(d, '2005-03-27 03:00:00 x')!.time, Date.UTC(2005, 2, 27, 1, 0) / 1000)
  assert.equal(find(d, '2005-10-30 02:30:00 x')!.time, Date.UTC(2005, 9, 30, 0, 30) / 1000)
  assert.equal(find(d, '2005-10-30 03:00:00 x')!.time, Date.UTC(2005, 9, 30, 2, 0) / 1000)
})

test('the local zone is injectable', () => {
  const line = 'Jan 23 21:59:59 host x'
  assert.equal(find(detector({ localZone: 'UTC' }), line)!.time, Date.UTC(2005, 0, 23, 21, 59, 59) / 1000)
  assert.equal(find(detector({ localZone: 'Asia/Tokyo' }), line)!.time, Date.UTC(2005, 0, 23, 12, 59, 59) / 1000)
})

test('an unknown zone name in the line gives NaN, an unknown logtimezone is refused', () => {
  assert.ok(Number.isNaN(find(detector({ datepattern: '^%ExY-%Exm-%Exd %H:%M:%S %Z' }), '2017-01-23 15:00:00 XYZ x')!.time))
  assert.throws(() => detector({ timezone: 'WRONG-TZ' }), DatePatternError)
  assert.throws(() => detector({ timezone: 'Mars/Olympus_Mons' }), DatePatternError)
})

test('constructs RE2 cannot run are refused with their name', () => {
  const refused: [string, RegExp][] = [
    [String.raw`(?<=x)%H:%M:%S`, /lookbehind/],
    [String.raw`(?<!x)%H:%M:%S`, /lookbehind/],
    [String.raw`%H:%M:%S(?=\s)`, /lookahead/],
    [String.raw`%H:%M:%S(?!x)`, /lookahead/],
    [String.raw`(x)%H:%M:%S\1`, /numbered backreference/],
    [String.raw`(x)?(?(1)%H|%M)`, /conditional/],
    [String.raw`(?>x)%H:%M`, /atomic group/],
    [String.raw`x++%H:%M`, /possessive/],
  ]
  for (const [datepattern, message] of refused) {
    assert.throws(() => detector({ datepattern }), (e: unknown) => e instanceof DatePatternError && message.test(e.message), datepattern)
  }
})

test('unknown %-codes and a stray percent sign are refused', () => {
  assert.throws(() => detector({ datepattern: '%H:%M:%S %e' }), /unknown format code %e/)
  assert.throws(() => detector({ datepattern: '%H:%M:%S 100%' }), /unescaped percent/)
  assert.equal(text('12:00:01 100% x', find(detector({ datepattern: '%H:%M:%S 100%%' }), '12:00:01 100% x')), '12:00:01 100%')
})

test('a pattern listed twice is refused, as fail2ban refuses duplicate template names', () => {
  assert.throws(() => detector({ datepattern: '%H:%M:%S\n%H:%M:%S' }), /already a template/)
  assert.doesNotThrow(() => detector({ datepattern: '{^LN-BEG}\n{DEFAULT}' }))
})

test('offsets are byte offsets in lines with multi-byte characters', () => {
  const line = 'häßlich – Jan 23 21:59:59 x'
  const m = find(detector(), line)
  assert.equal(m!.start, Buffer.byteLength('häßlich – '))
  assert.equal(text(line, m), 'Jan 23 21:59:59')
})

test('stats count the lines each template dated and the winner moves to the front', () => {
  const d = detector()
  for (let i = 0; i < 3; i++) find(d, `2005-08-14 11:00:0${i} host x`)
  find(d, 'Aug 14 11:00:00 host x')
  const stats = d.stats()
  assert.equal(stats[0]!.hits, 3)
  assert.match(stats[0]!.template, /^\{\^LN-BEG\}ExYear/)
  assert.equal(stats.reduce((n, s) => n + s.hits, 0), 4)
})
