import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { test } from 'node:test'
import RE2 from 're2'
import { loadFilter, type ResolvedFilter } from '../../src/config/filter-config.js'
import { parseSampleLog } from '../../src/conformance/sample-log.js'
import { FailRegex, resolveTags } from '../../src/filters/failregex.js'
import { UnsupportedConstructError } from '../../src/filters/unsupported-construct-error.js'

const SHARED = resolve(process.cwd(), '../shared')
const LOGS = resolve(SHARED, 'conformance/logs')
const FILTERS = resolve(SHARED, 'fail2ban/filter.d')

/** The log line of a sample file that contains `needle` (sample files are real logs from fail2ban's tests). */
function sampleLine(file: string, needle: string): string {
  const line = readFileSync(resolve(LOGS, file), 'utf8').split('\n').find(l => !l.startsWith('#') && l.includes(needle))
  assert.ok(line !== undefined, `${file} has a line with ${needle}`)
  return line
}

function fieldsOf(regex: FailRegex, line: string): Record<string, string> | undefined {
  return regex.exec(Buffer.from(line))?.fields
}

test('<HOST> captures an IPv4 address as ip4', () => {
  const line = sampleLine('sshd', 'ROOT from 194.117.26.69 port 50273')
  const r = FailRegex.compile(String.raw`Failed \S+ for (?:invalid user )?<F-USER>\S+</F-USER> from <HOST>`)
  assert.deepEqual(fieldsOf(r, line), { user: 'ROOT', ip4: '194.117.26.69' })
})

test('<HOST> captures an IPv6 address as ip6', () => {
  const line = sampleLine('sshd', 'ROOT from aaaa:bbbb:cccc:1234::1:1 port 50273')
  const r = FailRegex.compile(String.raw`Failed \S+ for (?:invalid user )?<F-USER>\S+</F-USER> from <HOST> port \d+`)
  assert.deepEqual(fieldsOf(r, line), { user: 'ROOT', ip6: 'aaaa:bbbb:cccc:1234::1:1' })
})

test('<HOST> captures a host name as dns, unless usedns is no', () => {
  const line = sampleLine('sshd', 'Authentication failure for stefanor from example.com')
  const pattern = String.raw`Authentication failure for <F-USER>.*?</F-USER> from <HOST>$`
  assert.deepEqual(fieldsOf(FailRegex.compile(pattern), line), { user: 'stefanor', dns: 'example.com' })
  assert.deepEqual(fieldsOf(FailRegex.compile(pattern, { useDns: 'warn' }), line), { user: 'stefanor', dns: 'example.com' })
  assert.equal(FailRegex.compile(pattern, { useDns: 'no' }).exec(Buffer.from(line)), null)
})

test('<ADDR> captures the IPv4 address inside ::ffff:', () => {
  const line = sampleLine('xrdp', 'user=badtypist ip=::ffff:10.171.161.151')
  const r = FailRegex.compile(String.raw`\[INFO \] AUTHFAIL: user=<F-USER>(?:\S+|.+)</F-USER> ip=<ADDR> time=\d+$`)
  assert.deepEqual(fieldsOf(r, line), { user: 'badtypist', ip4: '10.171.161.151' })
})

test('alternatives are tried in Python order, so an injected address does not become the host', () => {
  const line = sampleLine('xrdp', 'xrdp-sesman[41441]: [INFO ] AUTHFAIL: user=loginjector')
  const r = FailRegex.compile(String.raw`\[INFO \] AUTHFAIL: user=<F-USER>(?:\S+|.+)</F-USER> ip=<ADDR> time=\d+$`)
  const fields = fieldsOf(r, line)
  assert.equal(fields?.['ip4'], '10.171.161.151')
  assert.equal(fields?.['user'], String.raw`loginjector ip=192.168.0.4 time=123456789\n[20220407-12:16:59] [INFO ] AUTHFAIL: user=endinjection`)
})

test('an upper-case ::FFFF: prefix written in the regex leaves the IPv4 address', () => {
  const line = sampleLine('ejabberd-auth', 'from ::FFFF:192.0.2.3')
  const r = FailRegex.compile(String.raw`Failed (?:c2s \w+ )?authentication for \S+ from (?:IP )?(?:::FFFF:)?<HOST>(?:: |$)`)
  assert.deepEqual(fieldsOf(r, line), { ip4: '192.0.2.3' })
})

test('<IP4>, <IP6>, <DNS> capture only their own kind', () => {
  const ip4 = FailRegex.compile('from <IP4> port')
  const ip6 = FailRegex.compile('from <IP6> port')
  const dns = FailRegex.compile('from <DNS> port')
  assert.deepEqual(fieldsOf(ip4, 'from 192.0.2.1 port 22'), { ip4: '192.0.2.1' })
  assert.equal(fieldsOf(ip4, 'from 2001:db8::1 port 22'), undefined)
  assert.deepEqual(fieldsOf(ip6, 'from 2001:db8::1 port 22'), { ip6: '2001:db8::1' })
  assert.deepEqual(fieldsOf(ip6, 'from ::1 port 22'), { ip6: '::1' })
  assert.deepEqual(fieldsOf(dns, 'from mail.example.com port 22'), { dns: 'mail.example.com' })
})

test('<ADDR>/<CIDR> and <SUBNET> capture a network', () => {
  assert.deepEqual(fieldsOf(FailRegex.compile('ban <ADDR>/<CIDR>$'), 'ban 192.0.2.0/24'), { ip4: '192.0.2.0', cidr: '24' })
  const subnet = FailRegex.compile('ban <SUBNET>$')
  assert.deepEqual(fieldsOf(subnet, 'ban [2001:db8::]/64'), undefined)
  assert.deepEqual(fieldsOf(subnet, 'ban [2001:db8::/64]'), { ip6: '2001:db8::', cidr: '64' })
  assert.deepEqual(fieldsOf(subnet, 'ban 192.0.2.7'), { ip4: '192.0.2.7' })
})

test('<F-ID/> and <F-PORT/> capture fid and fport', () => {
  const r = FailRegex.compile(String.raw`session <F-ID/> denied on <F-PORT/>`)
  assert.deepEqual(fieldsOf(r, 'session 0x1f:ab denied on smtp'), { fid: '0x1f:ab', fport: 'smtp' })
})

test('custom tags become groups named as fail2ban names them', () => {
  assert.equal(resolveTags('<F-USER>x</F-USER>'), '(?P<user>x)')
  assert.equal(resolveTags('<F-ALT_USER1>x</F-ALT_USER1>'), '(?P<alt_user1>x)')
  assert.equal(resolveTags('<F-ID>x</F-ID><F-PORT>y</F-PORT>'), '(?P<fid>x)(?P<fport>y)')
  assert.equal(resolveTags('<F-MLFID>a</F-MLFID><F-NOFAIL>b</F-NOFAIL><F-CONTENT>c</F-CONTENT>'),
    '(?P<mlfid>a)(?P<nofail>b)(?P<content>c)')
  assert.equal(resolveTags('<F-MLFFORGET><F-MLFGAINED>x</F-MLFGAINED></F-MLFFORGET>'), '(?P<mlfforget>(?P<mlfgained>x))')
})

test('tags that are not fail2ban tags are left as written', () => {
  assert.equal(resolveTags('</F-USER> <foo> <F-FOO/> <f-user>'), '</F-USER> <foo> <F-FOO/> <f-user>')
  assert.deepEqual(fieldsOf(FailRegex.compile('<F-ID>\\S+</F-ID> <b>'), 'x <b>'), { fid: 'x' })
})

test('<HOST> expands to the ADDR form only when usedns is no', () => {
  assert.ok(resolveTags('<HOST>', 'yes').includes('(?P<dns>'))
  assert.ok(resolveTags('<HOST>', 'raw').includes('(?P<dns>'))
  assert.ok(!resolveTags('<HOST>', 'no').includes('(?P<dns>'))
  assert.equal(resolveTags('<HOST>', 'no'), resolveTags('<ADDR>'))
})

test('a group name used twice is one field, filled by the first group that took part', () => {
  const r = FailRegex.compile(String.raw`^user <F-USER>\S+</F-USER> from <HOST>$|^<HOST> rejected <F-USER>\S+</F-USER>$`)
  assert.deepEqual(fieldsOf(r, 'user alice from 192.0.2.1'), { user: 'alice', ip4: '192.0.2.1' })
  assert.deepEqual(fieldsOf(r, '2001:db8::2 rejected bob'), { ip6: '2001:db8::2', user: 'bob' })
  const both = FailRegex.compile(String.raw`^<HOST> via <HOST>$`)
  assert.deepEqual(fieldsOf(both, '192.0.2.1 via 192.0.2.2'), { ip4: '192.0.2.1' })
  assert.deepEqual(fieldsOf(both, 'example.com via 192.0.2.2'), { dns: 'example.com', ip4: '192.0.2.2' })
})

test('an alt_ group fills its field when that is empty or absent, as _getGroupsWithAlt does', () => {
  const pattern = String.raw`ruser=<F-ALT_USER>\S*</F-ALT_USER>\s+rhost=<HOST>(?:\s+user=<F-USER>\S*</F-USER>)?(?: \[preauth\])?\s*$`
  const r = FailRegex.compile(pattern)
  assert.deepEqual(fieldsOf(r, sampleLine('sshd', 'ruser=rda rhost=192.0.2.113 [preauth]')),
    { alt_user: 'rda', ip4: '192.0.2.113', user: 'rda' })
  assert.deepEqual(fieldsOf(r, sampleLine('sshd', 'ruser= rhost=192.0.2.113  user=rda')),
    { alt_user: '', ip4: '192.0.2.113', user: 'rda' })
  const numbered = FailRegex.compile(String.raw`a=<F-ALT_USER_1>\S*</F-ALT_USER_1> u=<F-USER>\S*</F-USER>`)
  assert.deepEqual(fieldsOf(numbered, 'a=x u='), { alt_user_1: 'x', user: 'x' })
  assert.deepEqual(numbered.fieldNames.sort(), ['alt_user_1', 'user'])
})

test('offsets are byte offsets in the buffer', () => {
  const r = FailRegex.compile('from <HOST>')
  const m = r.exec(Buffer.from('Benutzer Jürgen from 192.0.2.9'))
  assert.deepEqual(m, { start: 17, end: 31, fields: { ip4: '192.0.2.9' } })
})

test('ASCII and non-ASCII lines give the same captures and byte offsets', () => {
  const r = FailRegex.compile(String.raw`^(x)?Failed \S+ for <F-USER>\S+</F-USER> from <HOST>( port \d+)?`)
  assert.deepEqual(r.exec(Buffer.from('Failed password for root from 192.0.2.9 port 22')),
    { start: 0, end: 47, fields: { user: 'root', ip4: '192.0.2.9' } })
  assert.deepEqual(r.exec(Buffer.from('Failed password for jürgen from 192.0.2.9 port 22')),
    { start: 0, end: 50, fields: { user: 'jürgen', ip4: '192.0.2.9' } })
  assert.deepEqual(r.exec(Buffer.from('Failed passwört for root from example.com')),
    { start: 0, end: 42, fields: { user: 'root', dns: 'example.com' } })
})

test('a non-ASCII line is tested with the Unicode form: \\w holds a letter beyond ASCII', () => {
  const r = FailRegex.compile(String.raw`^user \w+ from <HOST>$`)
  assert.equal(r.test(Buffer.from('user jürgen from 192.0.2.9')), true)
  assert.equal(r.test(Buffer.from('user jürgen! from 192.0.2.9')), false)
  assert.equal(r.test(Buffer.from('user juergen from 192.0.2.9')), true)
})

test('a regex whose Unicode form RE2 would refuse as too large is refused at load time, though its ASCII form is small', () => {
  assert.throws(() => FailRegex.compile(String.raw`^user \w{1000} from <HOST>$`), (err: unknown) =>
    err instanceof UnsupportedConstructError && /too large/.test(err.construct))
})

test('a regex that can match the empty string finds the same empty match as Python', () => {
  const r = FailRegex.compile(String.raw`(?P<fid>\d*)`)
  assert.deepEqual(r.exec(Buffer.from('abc 42')), { start: 0, end: 0, fields: { fid: '' } })
  assert.deepEqual(r.exec(Buffer.from('42 abc')), { start: 0, end: 2, fields: { fid: '42' } })
})

test('a single-line regex is searched unanchored unless it anchors', () => {
  assert.ok(FailRegex.compile('from <HOST>').test(Buffer.from('x from 192.0.2.1 y')))
  assert.ok(!FailRegex.compile('^from <HOST>').test(Buffer.from('x from 192.0.2.1')))
  assert.ok(!FailRegex.compile('from <HOST>$').test(Buffer.from('from 192.0.2.1 y')))
})

test('((?i)...) becomes a scoped flag, as fail2ban rewrites it', () => {
  const line = sampleLine('postfix', 'unknown[192.0.2.150]: SASL PLAIN authentication failed:')
  const r = FailRegex.compile(String.raw`\[<HOST>\]: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:`)
  assert.equal(r.source.includes('(?i:LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5)'), true)
  assert.deepEqual(fieldsOf(r, line), { ip4: '192.0.2.150' })
  assert.ok(r.test(Buffer.from('[192.0.2.150]: SASL plain authentication failed:')))
  assert.ok(!r.test(Buffer.from('[192.0.2.150]: sasl PLAIN authentication failed:')))
})

test('a multi-line regex matches ^ and $ at every line and <SKIPLINES> captures the lines between', () => {
  const log = readFileSync(resolve(LOGS, 'mongodb-auth'), 'utf8').split('\n').filter(l => l.includes('[conn334]'))
  assert.equal(log.length, 2)
  const buffer = Buffer.from(['2016-11-20T00:24:00.110+0100 [conn9] an unrelated line', log[0], 'an interleaved line', log[1], ''].join('\n'))
  const pattern = String.raw`^\S+ \[conn(?P<connid>\d+)\] Failed to authenticate [^\n]+<SKIPLINES>\S+ \[conn\d+\] end connection <HOST>:\d+ .*$`
  const r = FailRegex.compile(pattern, { multiline: true })
  const m = r.exec(buffer)
  assert.ok(m)
  assert.deepEqual(m.fields, { connid: '334', skiplines0: 'an interleaved line\n', ip4: '192.0.2.176' })
  assert.equal(buffer.subarray(m.start, m.end).toString(), [log[0], 'an interleaved line', log[1]].join('\n'))
  assert.equal(FailRegex.compile(pattern).exec(buffer), null)
})

test('several <SKIPLINES> are numbered in order', () => {
  assert.match(resolveTags('a<SKIPLINES>b<SKIPLINES>c'), /skiplines0.*skiplines1/)
})

test('compile refuses unsupported constructs with the original fail2ban text', () => {
  const pattern = '^Failed for <F-USER>\\S+</F-USER> from <HOST>(?! port 22)'
  assert.throws(() => FailRegex.compile(pattern), (err: unknown) =>
    err instanceof UnsupportedConstructError && err.construct === 'lookahead (?!' && err.pattern === pattern &&
    err.withContext('filter.d/sshd.conf', 'failregex').message ===
      `filter.d/sshd.conf: failregex: unsupported construct "lookahead (?!" in "${pattern}"`)
})

test('an empty regex is refused', () => {
  assert.throws(() => FailRegex.compile('  '), UnsupportedConstructError)
})

test('a regex RE2 cannot compile is refused as invalid', () => {
  assert.throws(() => FailRegex.compile('(?P<a-b>x)'), (err: unknown) =>
    err instanceof UnsupportedConstructError && err.construct.startsWith('invalid regex'))
})

test('matching a 1 MiB line stays linear and gives the right answer', () => {
  const line = Buffer.from('a'.repeat(1 << 20))
  assert.equal(FailRegex.compile(String.raw`^(?:a+)+ from <HOST>`).test(line), false)
  assert.equal(FailRegex.compile(String.raw`^<F-USER>(?:\w+\s?)*</F-USER>$`).exec(line)?.fields['user']?.length, 1 << 20)
  assert.equal(FailRegex.compile(String.raw`<HOST>$`).exec(line)?.fields['dns']?.length, 1 << 20)
})

/** Every substring of a line that starts after a space: where fail2ban's failregexes run once the date and prefix are cut. */
function tails(line: string): string[] {
  const out = [line]
  for (let i = line.indexOf(' '); i >= 0; i = line.indexOf(' ', i + 1)) out.push(line.slice(i + 1))
  return out
}

function loadable(name: string): ResolvedFilter | undefined {
  try {
    return loadFilter(FILTERS, name)
  } catch {
    return undefined
  }
}

function compilable(pattern: string, multiline: boolean): FailRegex | undefined {
  try {
    return FailRegex.compile(pattern, { multiline })
  } catch (err) {
    if (err instanceof UnsupportedConstructError) return undefined
    throw err
  }
}

test('on every sample line an upstream failregex matches, its prefilter matches the raw line', () => {
  let checked = 0
  for (const name of readdirSync(LOGS)) {
    const def = loadable(name)
    if (def === undefined || def.maxlines > 1) continue
    const prefregex = def.prefregex === undefined ? undefined : compilable(def.prefregex, false)
    const regexes = def.failregex.map(p => compilable(p, false)).filter((r): r is FailRegex => r !== undefined)
    const prefilters = regexes.map(r => new RE2(r.prefilterSource, 'u'))
    const lines = parseSampleLog(readFileSync(resolve(LOGS, name), 'utf8'), name)
      .flatMap(item => (item.kind === 'line' ? [item.line] : []))
    for (const line of lines) {
      const raw = Buffer.from(line)
      for (const tail of tails(line)) {
        let text = tail
        if (prefregex !== undefined) {
          const content = prefregex.exec(Buffer.from(tail))?.fields['content']
          if (content === undefined) continue
          text = content
        }
        regexes.forEach((r, i) => {
          if (!r.test(Buffer.from(text))) return
          checked++
          assert.ok(prefilters[i]?.test(raw), `${name}: prefilter of ${r.pattern} misses ${line}`)
        })
      }
    }
  }
  assert.ok(checked > 500, `only ${checked} matches were checked`)
})

test('every upstream filter regex compiles or is refused naming an RE2-incompatible construct', () => {
  let compiled = 0
  for (const file of readdirSync(FILTERS).filter(f => f.endsWith('.conf'))) {
    const def = loadable(file.slice(0, -'.conf'.length))
    if (def === undefined) continue
    const patterns = [...def.failregex, ...def.ignoreregex, ...(def.prefregex === undefined ? [] : [def.prefregex])]
    for (const pattern of patterns) {
      try {
        FailRegex.compile(pattern, { multiline: def.maxlines > 1 })
        compiled++
      } catch (err) {
        assert.ok(err instanceof UnsupportedConstructError, `${file}: ${String(err)}`)
        assert.match(err.construct, /^(lookahead|lookbehind|backreference|conditional)/, `${file}: ${err.message}`)
      }
    }
  }
  assert.ok(compiled > 150, `only ${compiled} upstream regexes compiled`)
})

test('a rest-of-line group takes the whole rest, and a newline in the text still keeps the pattern from matching', () => {
  const r = FailRegex.compile(String.raw`^<F-MLFID>\S+ \w+\[\d+\]: </F-MLFID><F-CONTENT>.+</F-CONTENT>$`)
  const line = 'mx1 sshd[1234]: Failed password for root from 192.0.2.7 port 22 ssh2'
  assert.deepEqual(r.exec(Buffer.from(line)), { start: 0, end: line.length, fields: { mlfid: 'mx1 sshd[1234]: ', content: 'Failed password for root from 192.0.2.7 port 22 ssh2' } })
  assert.equal(r.exec(Buffer.from('mx1 sshd[1234]: Failed password\nfor root')), null)
  assert.deepEqual(r.exec(Buffer.from('mx1 sshd[1234]: échec ü'))?.fields, { mlfid: 'mx1 sshd[1234]: ', content: 'échec ü' })
})
