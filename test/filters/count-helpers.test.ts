import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../src/config/filter-config.js'
import { compileFilter } from '../../src/filters/compiled-filter.js'
import { FailRegex } from '../../src/filters/failregex.js'
import { FilterMatcher, type MatchOptions } from '../../src/filters/filter-matcher.js'
import { SAMPLE_NOW } from './builtin/builtin-filter.js'

const FILTERS = join(process.cwd(), 'config/filter.d')
const SAMPLE_LOGS = [resolve(process.cwd(), '../shared/conformance/logs/sshd'), join(process.cwd(), 'test/samples/sshd')]

/**
 * One connection failing, disconnecting, and its pid taken by a second connection: the disconnect
 * must forget the first connection's user, so the cached entry has to be seen even though the
 * disconnect line itself is only a helper.
 */
const SESSIONS = [
  'Aug 14 11:58:00 mx1 sshd[4242]: Failed password for root from 192.0.2.9 port 1022 ssh2',
  'Aug 14 11:58:01 mx1 sshd[4242]: Received disconnect from 192.0.2.9 port 1022:11: Bye Bye [preauth]',
  'Aug 14 11:58:02 mx1 sshd[4242]: Failed password for admin from 192.0.2.9 port 1024 ssh2',
  'Aug 14 11:58:03 mx1 sshd[4242]: Connection closed by 192.0.2.9 port 1024 [preauth]',
  'Aug 14 11:58:04 mx1 sshd[4242]: Failed password for oracle from 192.0.2.9 port 1026 ssh2',
  'Aug 14 11:58:05 mx1 sshd[5151]: Received disconnect from 198.51.100.7 port 40000:11: disconnected by user',
  'Aug 14 11:58:06 mx1 sshd[5151]: Accepted publickey for deploy from 198.51.100.7 port 40002 ssh2: RSA SHA256:abc',
]

function sshd(mode: string, opts: MatchOptions): FilterMatcher {
  const def = loadFilter(FILTERS, 'sshd', { mode })
  return new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => SAMPLE_NOW }), opts)
}

test('sshd\'s disconnect and connection-closed helpers and its accepted login forget their connection; its failures do not', () => {
  const def = loadFilter(FILTERS, 'sshd', { mode: 'aggressive' })
  const forgetting = def.failregex.map((r) => [FailRegex.compile(r).forgets, r.slice(0, 44)]).filter(([forgets]) => forgets !== null)
  assert.deepEqual(forgetting, [
    ['helper', '^<F-NOFAIL>Received <F-MLFFORGET>disconnect<'],
    ['helper', '^<F-NOFAIL><F-MLFFORGET>(?:Connection (?:clo'],
    ['success', '^<F-MLFFORGET><F-MLFGAINED>Accepted \\S+</F-M'],
  ])
})

test('a forgetting regex is one whose groups take part in every match, with the connection the prefregex\'s', () => {
  const forgets = (pattern: string) => FailRegex.compile(pattern).forgets
  assert.equal(forgets('^<F-NOFAIL><F-MLFFORGET>Bye</F-MLFFORGET></F-NOFAIL> from <HOST>$'), 'helper')
  assert.equal(forgets('^(?:<F-NOFAIL><F-MLFFORGET>Bye</F-MLFFORGET></F-NOFAIL> )?from <HOST>$'), null)
  assert.equal(forgets('^(?:<F-NOFAIL><F-MLFFORGET>Bye</F-MLFFORGET></F-NOFAIL>|Failed) from <HOST>$'), null)
  assert.equal(forgets('^(?:<F-NOFAIL><F-MLFFORGET>Bye</F-MLFFORGET></F-NOFAIL>|<F-MLFFORGET><F-NOFAIL>Ciao</F-NOFAIL></F-MLFFORGET>) from <HOST>$'), 'helper')
  assert.equal(forgets('^<F-NOFAIL>Bye</F-NOFAIL> from <HOST>$'), null, 'a helper that keeps its connection feeds its state')
  assert.equal(forgets('^<F-MLFFORGET><F-MLFGAINED>Accepted</F-MLFGAINED></F-MLFFORGET> from <HOST>$'), 'success')
  assert.equal(forgets('^<F-MLFFORGET><F-NOFAIL>Accepted</F-NOFAIL></F-MLFFORGET>(?: <F-MLFGAINED>now</F-MLFGAINED>)? from <HOST>$'), null, 'a success only sometimes')
  assert.equal(forgets('^<F-MLFID>\\S+</F-MLFID> <F-NOFAIL><F-MLFFORGET>Bye</F-MLFFORGET></F-NOFAIL> from <HOST>$'), null)
})

for (const [mode, successesAreHelpers] of [['normal', false], ['ddos', false], ['extra', false], ['aggressive', false], ['normal', true], ['aggressive', true]] as const) {
  const what = successesAreHelpers ? 'helpers and successes' : 'helpers'
  test(`sshd mode=${mode}: counting ${what} instead of extracting them changes nothing but where they are counted`, () => {
    const lines = SAMPLE_LOGS.filter((p) => existsSync(p))
      .flatMap((p) => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')))
    const extracting = sshd(mode, {})
    const counting = sshd(mode, { countHelpers: true, successesAreHelpers })
    let counted = 0
    for (const text of [...lines, ...SESSIONS]) {
      const line = Buffer.from(text)
      const want = extracting.processLine(line)
      const got = counting.processLine(line)
      assert.equal(got.outcome, want.outcome, text)
      assert.deepEqual(got.matchedRegexes, want.matchedRegexes, text)
      assert.deepEqual(got.ignoredBy, want.ignoredBy, text)
      if (got.helpers === 0) {
        assert.deepEqual(got.failures, want.failures, text)
        continue
      }
      counted += got.helpers
      assert.deepEqual(got.failures, [], text)
      assert.equal(want.failures.length, got.helpers, text)
      assert.ok(want.failures.every((f) => f.nofail && (successesAreHelpers || f.fields['mlfgained'] === undefined)), text)
    }
    if (mode !== 'ddos') assert.ok(counted > 0, 'some helpers were counted')
  })
}
