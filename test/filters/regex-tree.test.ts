import assert from 'node:assert/strict'
import { test } from 'node:test'
import RE2 from 're2'
import { matchStart, parseRegexTree, programSizeBound, RE2_SAFE_INSTRUCTIONS } from '../../src/filters/regex-tree.js'
import { translateRegex } from '../../src/filters/regex-translate.js'

function startsOf(source: string): string[] | 'any' {
  const set = matchStart(parseRegexTree(source)!).set
  if (set === 'any') return 'any'
  return set.flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => String.fromCodePoint(lo + i))).sort()
}

test("a non-empty match begins with a character of the first item that must match, or of any optional one before it", () => {
  assert.deepEqual(startsOf('(?:(?:(?:error|fatal): (?:PAM: )?)?)'), ['e', 'f'])
  assert.deepEqual(startsOf('a*(?:x)?[cd]e'), ['a', 'c', 'd', 'x'])
  assert.deepEqual(startsOf('^(?:b|)c'), ['b', 'c'])
})

test('a node may match the empty text when all of some branch may', () => {
  assert.equal(matchStart(parseRegexTree('(?:a|b*)')!).empty, true)
  assert.equal(matchStart(parseRegexTree('(?:a|b+)c?')!).empty, false)
  assert.equal(matchStart(parseRegexTree('$')!).empty, true)
})

test('a negated class begins with every character but those it lists', () => {
  const set = matchStart(parseRegexTree('[^a]b')!).set
  assert.notEqual(set, 'any')
  const holds = (c: string) => set !== 'any' && set.some(([lo, hi]) => lo <= c.codePointAt(0)! && c.codePointAt(0)! <= hi)
  assert.equal(holds('a'), false)
  assert.equal(holds('b'), true)
  assert.equal(holds('\u00e9'), true)
})

test('what cannot be told is any character: a dot, a case-folded part', () => {
  assert.equal(startsOf('x?.'), 'any')
  assert.equal(startsOf('(?i:error)?'), 'any')
})

test('each class the translator writes takes no more RE2 instructions than its size bound', () => {
  const python = [String.raw`\w`, String.raw`\W`, String.raw`\d`, String.raw`\D`, String.raw`\s`, String.raw`\S`, '.',
    String.raw`[\w\-.^_]`, String.raw`[^\w]`, String.raw`[^\s"]`, String.raw`(?i:\w)`, String.raw`(?i:[^\d])`, '[ä-ö€]']
  // RE2 refuses a program over ~175k instructions; a little is its own. Copies are written out,
  // not repeated with {n}, which RE2 refuses over 1000.
  const limit = 174_000
  for (const pattern of python) {
    const item = translateRegex(pattern).source
    const copies = Math.floor(limit / programSizeBound(parseRegexTree(item)!))
    assert.doesNotThrow(() => new RE2(`(?:${item})`.repeat(copies), 'u'), `${pattern} as ${item}, ${copies} copies`)
  }
})

test('the size bound counts a repetition as the copies RE2 writes out', () => {
  const bound = (source: string) => programSizeBound(parseRegexTree(source)!)
  assert.ok(bound('(?:\\p{Nd}){3}') >= 3 * bound('\\p{Nd}'))
  assert.ok(bound('(?:\\p{Nd}){2,}') >= 3 * bound('\\p{Nd}'))
  assert.ok(bound('[\\p{L}\\p{N}_]{1000}') > RE2_SAFE_INSTRUCTIONS)
})
