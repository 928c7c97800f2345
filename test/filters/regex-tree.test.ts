import assert from 'node:assert/strict'
import { test } from 'node:test'
import { matchStart, parseRegexTree } from '../../src/filters/regex-tree.js'

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
