import assert from 'node:assert/strict'
import { test } from 'node:test'
import RE2 from 're2'
import { splitAlternatives, type Alternative } from '../../src/filters/regex-alternatives.js'
import { captures, sampleForms } from './regex-samples-kit.js'

const sources = (pattern: string): string[] | undefined => splitAlternatives(pattern)?.map((a) => a.source)

test('an alternation after a fixed start splits into its branches, in the order they are tried', () => {
  assert.deepEqual(sources('^Failed (?:p.* from|k.* at) x'), ['^Failed (?:p.* from) x', '^Failed (?:k.* at) x'])
})

test('only choices with two branches that can run on at length are worth splitting', () => {
  assert.equal(splitAlternatives('^Failed (?:password|publickey) for'), undefined)
  assert.equal(splitAlternatives('^from (?:[0-9]{1,3}|[a-z]*)$'), undefined)
})

test('an optional group is the group first and nothing second, and the reverse when lazy', () => {
  assert.deepEqual(sources('^a(?:invalid user )?(?:x.*|y.*)'), ['^a(?:invalid user )(?:x.*)', '^a(?:invalid user )(?:y.*)', '^a(?:x.*)', '^a(?:y.*)'])
  assert.deepEqual(sources('^a(?:invalid user )??(?:x.*|y.*)'), ['^a(?:x.*)', '^a(?:y.*)', '^a(?:invalid user )(?:x.*)', '^a(?:invalid user )(?:y.*)'])
})

test('a top-level alternation of anchored branches splits', () => {
  assert.deepEqual(sources('^a.*|^b.*'), ['^a.*', '^b.*'])
})

test('a repetition that could stop in several places ends the splitting', () => {
  assert.equal(splitAlternatives('^.*(?:a.*|b.*)'), undefined)
  assert.equal(splitAlternatives('^[a-z]+(?:a.*|b.*)'), undefined)
  assert.deepEqual(sources('^(?:x.*|y.*)(?:a.*|b.*)'), ['^(?:x.*)(?:a.*|b.*)', '^(?:y.*)(?:a.*|b.*)'])
})

test('a repetition whose characters cannot begin what follows stops in one place, so splitting goes on', () => {
  assert.deepEqual(sources('^[^ ]+ (?:a.*|b.*)'), ['^[^ ]+ (?:a.*)', '^[^ ]+ (?:b.*)'])
  assert.deepEqual(sources('^[0-9]+(?:a.*|b.*)'), ['^[0-9]+(?:a.*)', '^[0-9]+(?:b.*)'])
})

test('a pattern that is not anchored at its start, or is multi-line, does not split', () => {
  assert.equal(splitAlternatives('Failed (?:p.*|k.*)'), undefined)
  assert.equal(splitAlternatives('(?m)^(?:a.*|b.*)'), undefined)
})

test('under case folding a class matches more than it lists, so a repetition of it ends the splitting', () => {
  assert.equal(splitAlternatives('^(?i:[a-z]+)1(?:a.*|b.*)'), undefined)
})

test('each alternative names the capturing groups it keeps, in order', () => {
  const alternatives = splitAlternatives('^(?P<x>a)(?:(?P<user>b.*)|(?P<user__2>c.*)(?P<host>d))')
  assert.deepEqual(alternatives?.map((a) => a.groups), [['x', 'user'], ['x', 'user__2', 'host']])
})

test('patterns the translator does not write are left whole', () => {
  assert.equal(splitAlternatives('^(a.*|b.*)'), undefined)
  assert.equal(splitAlternatives('(?i)^(?:a.*|b.*)'), undefined)
})

function firstAlternative(alternatives: readonly Alternative[], set: InstanceType<typeof RE2.Set>, text: string): Alternative | undefined {
  const hits = set.match(text)
  return hits.length === 0 ? undefined : alternatives[Math.min(...hits)]
}

test('on every sample line, the first alternative that matches captures what the whole failregex captures', () => {
  let compared = 0
  let matched = 0
  for (const { filter, pattern, translation, source, texts } of sampleForms()) {
    const alternatives = splitAlternatives(source, { evenSmall: true })
    if (alternatives === undefined) continue
    const whole = new RE2(`(${source})`, 'u')
    const names = translation.groups.map((g) => g.re2Name)
    const set = new RE2.Set(alternatives.map((a) => a.source), 'u')
    const parts = alternatives.map((a) => new RE2(`(${a.source})`, 'u'))
    for (const text of texts) {
      const expected = captures(whole, names, text)
      const first = firstAlternative(alternatives, set, text)
      const actual: Record<string, string> | null = first === undefined ? null : captures(parts[alternatives.indexOf(first)]!, first.groups, text)
      assert.deepEqual(actual, expected, `${filter}: ${pattern}\non ${JSON.stringify(text)}`)
      compared++
      if (expected !== null) matched++
    }
  }
  assert.ok(matched > 500, `the sample lines exercise the split regexes (${matched} matches of ${compared})`)
})
