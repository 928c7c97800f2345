import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { from, lastValueFrom, toArray } from 'rxjs'
import { FailureDetected } from '../../schemas/events/failure-detected.js'
import { validate } from '../../schemas/events/validate.js'
import { loadFilter } from '../../src/config/filter-config.js'
import { compileFilter, type CompiledFilter } from '../../src/filters/compiled-filter.js'
import type { LineBatch } from '../../src/sources/source.js'
import { match, MatchCounters, type MatchJail } from '../../streams/match.js'

const FILTERS = join(process.cwd(), 'config/filter.d')
/** fail2ban's sample "now": 2005-08-14 12:00 CEST; sample times are Zurich local time. */
const SAMPLE_NOW = 1124013600

function filter(name: string, opts: Record<string, string> = {}): CompiledFilter {
  return compileFilter(loadFilter(FILTERS, name, opts), { localZone: 'Europe/Zurich', now: () => SAMPLE_NOW })
}

function batch(stream: string, lines: string[], extra: Partial<LineBatch> = {}): LineBatch {
  return {
    stream, host: 'mx1', lines: lines.map((l) => Buffer.from(l)),
    position: { path: stream, dev: '2049', ino: '77', offset: 4096 }, received_at: 1_700_000_000_000, ...extra,
  }
}

async function run(jails: MatchJail[], batches: LineBatch[], counters?: MatchCounters): Promise<FailureDetected[]> {
  return lastValueFrom(from(batches).pipe(match(jails, { counters }), toArray()))
}

const SSHD_FAIL = 'Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user ROOT from 194.117.26.69 port 50273 ssh2'
const POSTFIX_REJECT = 'Jul 12 07:47:48 saturn postfix/smtpd[8738]: NOQUEUE: reject: RCPT from 1-2-3-4-example.com[1.2.3.4]: 554 5.7.1 <smtp@example.com>: Relay access denied; from=<john@example.com> to=<smtp@example.org> proto=SMTP helo=<198.51.100.17>'

test('a failure becomes one FailureDetected of the jail reading the stream, with the line\'s time and source', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const [event, ...rest] = await run(jails, [batch('/var/log/auth.log', ['Feb 25 14:34:09 belka sshd[31602]: Connection from 194.117.26.69', SSHD_FAIL])])
  assert.equal(rest.length, 0)
  assert.ok(validate(FailureDetected, event).ok)
  assert.equal(event!.type, 'FailureDetected')
  assert.equal(event!.jail, 'sshd')
  assert.equal(event!.ip, '194.117.26.69')
  assert.equal(event!.host, 'mx1')
  assert.equal(event!.user, 'ROOT')
  assert.equal(event!.source, '/var/log/auth.log')
  assert.equal(event!.occurred_at, '2005-02-25T13:34:10.000Z')
  // The helper line of the same connection joins the failure's matches, as fail2ban reports them.
  assert.deepEqual(event!.matches, ['Feb 25 14:34:09 belka sshd[31602]: Connection from 194.117.26.69', SSHD_FAIL])
  assert.equal(typeof event!.regex_index, 'number')
  assert.equal(event!.success, undefined)
})

test('a failure read from a backlog batch is marked backlog, so decide can drop it when older than findtime', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const [backlog] = await run(jails, [batch('/var/log/auth.log', [SSHD_FAIL], { backlog: true })])
  const [live] = await run(jails, [batch('/var/log/auth.log', [SSHD_FAIL])])
  assert.equal(backlog!.backlog, true)
  assert.equal(live!.backlog, undefined)
})

test('each stream\'s lines go only to the jails whose logpath names it', async () => {
  const jails = [
    { name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] },
    { name: 'postfix', filter: filter('postfix'), logpath: ['/var/log/mail*.log'] },
  ]
  const events = await run(jails, [
    batch('/var/log/auth.log', [SSHD_FAIL, POSTFIX_REJECT]),
    batch('/var/log/mail.log', [SSHD_FAIL, POSTFIX_REJECT]),
  ])
  assert.deepEqual(events.map((e) => [e.jail, e.ip, e.source]), [
    ['sshd', '194.117.26.69', '/var/log/auth.log'],
    ['postfix', '1.2.3.4', '/var/log/mail.log'],
  ])
})

test('the same input gives the same event ids, and each line its own', async () => {
  const jails = () => [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const input = () => [batch('/var/log/auth.log', [SSHD_FAIL, SSHD_FAIL])]
  const first = await run(jails(), input())
  const again = await run(jails(), input())
  assert.equal(first.length, 2)
  assert.deepEqual(again.map((e) => e.event_id), first.map((e) => e.event_id))
  assert.notEqual(first[0]!.event_id, first[1]!.event_id)
})

test('the same line at another position or from another host gets another id', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const events = await run(jails, [
    batch('/var/log/auth.log', [SSHD_FAIL]),
    batch('/var/log/auth.log', [SSHD_FAIL], { position: { path: '/var/log/auth.log', dev: '2049', ino: '77', offset: 8192 } }),
    batch('/var/log/auth.log', [SSHD_FAIL], { host: 'mx2' }),
  ])
  assert.equal(new Set(events.map((e) => e.event_id)).size, 3)
})

test('an address injected in the user name does not replace the address sshd wrote', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const line = 'Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user x from 198.51.100.1 port 1 ssh2: y from 192.0.2.1 port 5 ssh2'
  const events = await run(jails, [batch('/var/log/auth.log', [line])])
  assert.deepEqual(events.map((e) => e.ip), ['192.0.2.1'])
})

test('a failure id that reads as a network keys the count but never replaces the address beside it', async () => {
  const byId = compileFilter({
    name: 'sessions', file: '<test>', ignoreregex: [], maxlines: 1, options: {}, datepattern: '{^LN-BEG}',
    failregex: ['^\\s*\\S+ app: failure "<F-ID>[^"]+</F-ID>" - <ADDR>$'],
  }, { localZone: 'Europe/Zurich', now: () => SAMPLE_NOW })
  const jails = [{ name: 'sessions', filter: byId, logpath: ['/var/log/app.log'] }]
  const events = await run(jails, [batch('/var/log/app.log', [
    'Aug 14 11:59:00 web1 app: failure "0.0.0.0/1" - 192.0.2.7',
    'Aug 14 11:59:01 web1 app: failure "sess-42" - 192.0.2.8',
  ])])
  assert.deepEqual(events.map((e) => [e.ip, e.fid]), [['192.0.2.7', '0.0.0.0/1'], ['192.0.2.8', 'sess-42']])
})

test('a line read by two jails yields one event for each, with distinct ids', async () => {
  const shared = filter('sshd')
  const jails = [
    { name: 'sshd', filter: shared, logpath: ['/var/log/auth.log'] },
    { name: 'sshd-long', filter: shared, logpath: ['/var/log/*.log'] },
    { name: 'sshd-aggressive', filter: filter('sshd', { mode: 'aggressive' }), logpath: ['/var/log/auth.log'] },
  ]
  const events = await run(jails, [batch('/var/log/auth.log', [SSHD_FAIL])])
  assert.deepEqual(events.map((e) => e.jail).sort(), ['sshd', 'sshd-aggressive', 'sshd-long'])
  assert.ok(events.every((e) => e.ip === '194.117.26.69'))
  assert.equal(new Set(events.map((e) => e.event_id)).size, 3)
})

test('a host name is counted as unparseable and never emitted as an ip', async () => {
  const counters = new MatchCounters()
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const events = await run(jails, [batch('/var/log/auth.log', [
    'May 29 20:56:52 imago sshd[28732]: error: PAM: Authentication failure for stefanor from example.com',
  ])], counters)
  assert.deepEqual(events, [])
  assert.equal(counters.jail('sshd').unparseable_host, 1)
  assert.equal(counters.jail('sshd').lines, 1)
  assert.equal(counters.jail('sshd').matched, 0)
})

test('helper lines emit nothing and an accepted login is emitted as a success to a jail told of successes', async () => {
  const counters = new MatchCounters()
  const sshd = filter('sshd')
  const jails = [
    { name: 'sshd', filter: sshd, logpath: ['/var/log/auth.log'], successes: true },
    { name: 'sshd-quiet', filter: sshd, logpath: ['/var/log/auth.log'] },
  ]
  const events = await run(jails, [batch('/var/log/auth.log', [
    'Nov 28 09:16:03 srv sshd[32307]: Accepted publickey for git from 192.0.2.1 port 57904 ssh2: DSA 36:48:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx',
    'Nov 28 09:16:03 srv sshd[32307]: Connection closed by 192.0.2.1',
  ])], counters)
  assert.deepEqual(events.map((e) => [e.jail, e.ip, e.user, e.success]), [['sshd', '192.0.2.1', 'git', true]])
  assert.deepEqual([counters.jail('sshd').helpers, counters.jail('sshd').matched], [1, 1])
  // A jail not told of successes (no resetonsuccess) takes the login for a helper.
  assert.deepEqual([counters.jail('sshd-quiet').helpers, counters.jail('sshd-quiet').matched], [2, 0])
})

test('a success no jail is told of is only counted, and a later failure of its connection is not merged with it', async () => {
  const counters = new MatchCounters()
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const events = await run(jails, [batch('/var/log/auth.log', [
    'Nov 28 09:16:03 srv sshd[32307]: Accepted publickey for git from 192.0.2.1 port 57904 ssh2: DSA 36:48:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx',
    'Nov 28 09:16:04 srv sshd[32307]: Failed password for root from 192.0.2.1 port 57904 ssh2',
  ])], counters)
  assert.deepEqual(events.map((e) => [e.ip, e.user, e.success]), [['192.0.2.1', 'root', undefined]])
  assert.deepEqual([counters.jail('sshd').helpers, counters.jail('sshd').matched], [1, 1])
})

test('journal batches take each line\'s time from the journal, not from the text', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd', { logtype: 'journal' }), streams: ['journald'] }]
  const at = Date.UTC(2026, 10, 22, 10, 0, 0, 250)
  const events = await run(jails, [batch('journald', [
    'srv sshd[31602]: Failed password for invalid user ROOT from 2001:DB8:0:0::7 port 50273 ssh2',
  ], { times: [at], position: { cursor: 's=1;i=2' } })])
  assert.deepEqual(events.map((e) => [e.source, e.ip, e.occurred_at]), [['journald', '2001:db8::7', '2026-11-22T10:00:00.250Z']])
})

test('lines of a stream no jail reads are counted as unrouted', async () => {
  const counters = new MatchCounters()
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const events = await run(jails, [batch('/var/log/mail.log', [POSTFIX_REJECT, SSHD_FAIL])], counters)
  assert.deepEqual(events, [])
  assert.equal(counters.unrouted_lines, 2)
  assert.equal(counters.snapshot()['jail.sshd.lines'], 0)
})

test('multi-line state is kept apart per source host', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const connection = 'Feb 25 14:34:09 belka sshd[31602]: Connection from 194.117.26.69'
  const events = await run(jails, [
    batch('/var/log/auth.log', [connection], { host: 'a' }),
    batch('/var/log/auth.log', [SSHD_FAIL], { host: 'b' }),
  ])
  assert.deepEqual(events.map((e) => [e.host, e.matches]), [['b', [SSHD_FAIL]]])
})

test('a stream unheard from for an hour loses its filter state; one heard from keeps it', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const connection = 'Feb 25 14:34:09 belka sshd[31602]: Connection from 194.117.26.69'
  const readAt = (host: string, line: string, minutes: number) =>
    batch('/var/log/auth.log', [line], { host, received_at: 1_700_000_000_000 + minutes * 60_000 })
  const events = await run(jails, [
    readAt('idle', connection, 0),
    readAt('busy', connection, 0),
    readAt('busy', 'Feb 25 14:34:09 belka sshd[31777]: Connection from 192.0.2.7', 40),
    readAt('busy', SSHD_FAIL, 80),
    readAt('idle', SSHD_FAIL, 80),
  ])
  assert.deepEqual(events.map((e) => [e.host, e.matches]), [
    ['busy', [connection, SSHD_FAIL]],
    ['idle', [SSHD_FAIL]],
  ])
})

test('beyond maxStreams, a new stream takes the place of the one heard from least recently, and is counted', async () => {
  const jails = [{ name: 'sshd', filter: filter('sshd'), logpath: ['/var/log/auth.log'] }]
  const connection = 'Feb 25 14:34:09 belka sshd[31602]: Connection from 194.117.26.69'
  const heard = (host: string, line: string) => batch('/var/log/auth.log', [line], { host })
  const counters = new MatchCounters()
  const events = await lastValueFrom(from([
    heard('a', connection),
    heard('b', connection),
    heard('a', 'Feb 25 14:34:09 belka sshd[31777]: Connection from 192.0.2.7'),
    heard('c', connection),
    heard('a', SSHD_FAIL),
    heard('b', SSHD_FAIL),
  ]).pipe(match(jails, { counters, maxStreams: 2 }), toArray()))
  assert.deepEqual(events.map((e) => [e.host, e.matches]), [
    ['a', [connection, SSHD_FAIL]],
    ['b', [SSHD_FAIL]],
  ])
  assert.equal(counters.streams_forgotten, 2)
})

test('two jails of the same name are refused', () => {
  const f = filter('sshd')
  assert.throws(() => match([{ name: 'sshd', filter: f }, { name: 'sshd', filter: f }]), /given twice/)
})
