import assert from 'node:assert/strict'
import { test } from 'node:test'
import RE2 from 're2'
import { DatePatternError, Matcher, parseRegex, toRe2Source } from '../../src/filters/date-regex.js'

/** Group spans of the leftmost match, as [start, end] pairs (-1 when unset), or null. */
function spans(pattern: string, input: string): number[][] | null {
  const m = new Matcher(parseRegex(pattern))
  const s = Buffer.from(input)
  if (!m.search(s, 0, s.length, s.length)) return null
  const out: number[][] = []
  for (let g = 0; g < m.caps.length; g += 2) out.push([m.caps[g]!, m.caps[g + 1]!])
  return out
}

/** The same from JavaScript's backtracking engine, which shares Python's match priorities. */
function jsSpans(pattern: string, input: string): number[][] | null {
  const m = new RegExp(pattern, 'd').exec(input)
  return m === null ? null : m.indices!.map((p) => (p === undefined ? [-1, -1] : [p[0], p[1]]))
}

test('matches and groups follow leftmost-first priorities, as Python and JavaScript do', () => {
  const cases: [string, string][] = [
    ['(a|ab)(c|bcd)(d*)', 'abcd'],
    ['(a+?)(a*)', 'aaa'],
    ['x(\\d{1,3}?)(\\d*)y', 'x12345y'],
    ['(?:(a)|b)c', 'bc'],
    ['(\\w+)\\s+(\\w+)$', 'one two three'],
    ['([0-5]?\\d):([0-5]?\\d)', 'at 7:05 and 12:34'],
    ['(T|  ?)(\\d)', 'x  5'],
    ['a{2,3}(a*)', 'aaaaa'],
    ['(?:ab)+(c)?', 'ababc'],
    ['[^\\]]+\\]', '[17/Jun/2011] x'],
    ['\\bfoo\\B', 'a foobar foo'],
  ]
  for (const [pattern, input] of cases) assert.deepEqual(spans(pattern, input), jsSpans(pattern, input), `${pattern} on ${input}`)
})

test('a named backreference must repeat the group\'s text', () => {
  const p = '(?P<Y>\\d{4})(?P<_sep>[-/.])(?P<m>\\d\\d)(?P=_sep)(?P<d>\\d\\d)'
  assert.deepEqual(spans(p, '2005-01.23 2005/01/23')![0], [11, 21])
  assert.equal(spans(p, '2005-01/23'), null)
})

test('(?i) folds ASCII case of literals, classes and backreferences', () => {
  assert.deepEqual(spans('(?i)(?P<b>jan|feb) (?P=b)', 'x FEB feb')![0], [2, 9])
  assert.deepEqual(spans('(?iu)[a-c]+', 'xxABCa')![0], [2, 6])
})

test('a capture inside a repetition keeps its last participating value, as in Python', () => {
  assert.deepEqual(spans('(?:(a)|b)+', 'ab')![1], [0, 1])
})

test('. and negated classes take a whole UTF-8 character', () => {
  assert.deepEqual(spans('x.y', 'xéy')![0], [0, 4])
  assert.deepEqual(spans('x[^a]y', 'x€y')![0], [0, 5])
  assert.equal(spans('x..y', 'xéy'), null)
})

test('$ matches at the end or before a final newline, \\Z only at the end', () => {
  assert.deepEqual(spans('b$', 'ab\n')![0], [1, 2])
  assert.equal(spans('b\\Z', 'ab\n'), null)
})

test('the RE2 prefilter accepts every match of the exact pattern', () => {
  const cases: [string, string][] = [
    ['(?P<s>[-/])x(?P=s)', 'a-x-b'],
    ['(?i)JAN \\d+', 'jan 23'],
    ['[^\\[]*\\[(\\d+)\\]', 'foo [123]'],
    ['(?:\\W{0,2})?é\\d', '##é5'],
  ]
  for (const [pattern, input] of cases) {
    const parsed = parseRegex(pattern)
    const re2 = new RE2(toRe2Source(parsed), parsed.ignoreCase ? 'iu' : 'u')
    assert.ok(re2.test(Buffer.from(input)), pattern)
    assert.ok(spans(pattern, input), pattern)
  }
})

test('a pattern that backtracks without end gives up on its step budget', () => {
  const m = new Matcher(parseRegex('^(?:a|a)*b'))
  const s = Buffer.from('a'.repeat(60))
  assert.equal(m.search(s, 0, s.length, s.length), false)
  assert.equal(m.budgetExceeded, true)
})

test('constructs outside RE2 are refused with their name', () => {
  const refused: [string, RegExp][] = [
    ['(?=a)', /lookahead/], ['(?!a)', /lookahead/], ['(?<=a)b', /lookbehind/], ['(?<!a)b', /lookbehind/],
    ['(a)\\1', /numbered backreference/], ['(a)?(?(1)b|c)', /conditional/], ['(?>a)', /atomic/], ['a*+', /possessive/],
    ['(?x)a', /verbose/], ['(?i:a)', /scoped inline flags/], ['(?P=nope)', /unknown group/], ['(?P<a>x)(?P<a>y)', /redefinition/],
    ['a{2000}', /1000/], ['[é]', /non-ASCII/], ['(a', /missing \)/], ['a)', /unbalanced/], ['*a', /nothing to repeat/],
  ]
  for (const [pattern, message] of refused) {
    assert.throws(() => parseRegex(pattern), (e: unknown) => e instanceof DatePatternError && message.test(e.message), pattern)
  }
})

test('a brace that is no repeat count is a literal, as in Python', () => {
  assert.deepEqual(spans('\\{x{}', 'a{x{}')![0], [1, 5])
  assert.deepEqual(spans('x{a}', 'x{a}')![0], [0, 4])
  assert.deepEqual(spans('ax{,}', 'axxx')![0], [0, 4])
  assert.deepEqual(spans('x{,2}y', 'xxy')![0], [0, 3])
})

test('a search of a text that differs from the last one only past what that one read finds the same', () => {
  const m = new Matcher(parseRegex('^(\\d\\d):(\\d\\d)(?: (\\d{4}))?'))
  const search = (input: string, len = input.length): number[] | null => {
    const s = Buffer.from(input)
    return m.search(s, 0, 0, len) ? [...m.caps] : null
  }
  assert.deepEqual(search('12:34 mx1 sshd'), [0, 5, 0, 2, 3, 5, -1, -1])
  const outcome = m.outcome
  assert.deepEqual(search('12:34 mx1 postfix'), [0, 5, 0, 2, 3, 5, -1, -1])
  assert.equal(m.outcome, outcome)
  // The optional year read one byte past the match: another byte there is another search.
  assert.deepEqual(search('12:34 2026 mx1'), [0, 10, 0, 2, 3, 5, 6, 10])
  assert.notEqual(m.outcome, outcome)
  assert.deepEqual(search('12:35 2026 mx1'), [0, 10, 0, 2, 3, 5, 6, 10])
})

test('a text cut before the end of what the last search read is searched anew', () => {
  const m = new Matcher(parseRegex('^(\\d\\d):(\\d\\d)(?: (\\d{4}))?'))
  const s = Buffer.from('12:34 2026 mx1')
  assert.equal(m.search(s, 0, 0, s.length), true)
  assert.deepEqual([...m.caps], [0, 10, 0, 2, 3, 5, 6, 10])
  assert.equal(m.search(s, 0, 0, 8), true)
  assert.deepEqual([...m.caps], [0, 5, 0, 2, 3, 5, -1, -1])
})
