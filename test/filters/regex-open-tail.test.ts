import assert from 'node:assert/strict'
import { test } from 'node:test'
import RE2 from 're2'
import { openTail } from '../../src/filters/regex-open-tail.js'
import { captures, sampleForms } from './regex-samples-kit.js'

test('a final group taking the rest of the line takes one character instead', () => {
  assert.deepEqual(openTail('^(?P<mlfid>[^ ]+ )(?P<content>.+)$', false), { source: '^(?P<mlfid>[^ ]+ )(?P<content>.)', group: 'content' })
})

test("the ASCII form's dot takes the rest of the line only where the text is ASCII", () => {
  const ascii = String.raw`^a(?P<content>[\x{0}-\x{9}\x{b}-\x{7f}]+)$`
  assert.equal(openTail(ascii, true)?.source, String.raw`^a(?P<content>[\x{0}-\x{9}\x{b}-\x{7f}])`)
  assert.equal(openTail(ascii, false), undefined)
  assert.equal(openTail(String.raw`^a(?P<content>[^\x{a}]+)$`, false)?.group, 'content')
})

test('a pattern that accepts anything after what it looks for stops there', () => {
  assert.deepEqual(openTail('^Accepted (?P<user>[^ ]+) from x.*$', false), { source: '^Accepted (?P<user>[^ ]+) from x' })
  assert.deepEqual(openTail('^Failed (?P<user>[^ ]+)(?:: .*)?$', false), { source: '^Failed (?P<user>[^ ]+)(?:: |$)' })
})

test('a rest that is bounded, narrower than the line, not at the end, or all there is stays whole', () => {
  assert.equal(openTail('^a(?P<content>.*)$', false), undefined)
  assert.equal(openTail('^a(?P<content>.+)', false), undefined)
  assert.equal(openTail('^a(?P<content>[a-z]+)$', false), undefined)
  assert.equal(openTail('^a(?P<content>.{1,100})$', false), undefined)
  assert.equal(openTail('^a(?:: .*)?b$', false), undefined)
  assert.equal(openTail('^.*$', false), undefined)
  assert.equal(openTail('^(?:.*)?$', false), undefined)
})

test('on every sample line, the cut pattern with the rest of the text captures what the whole pattern captures', () => {
  let compared = 0
  let matched = 0
  for (const { filter, pattern, translation, source, asciiText, texts } of sampleForms()) {
    const cut = openTail(source, asciiText)
    if (cut === undefined) continue
    const whole = new RE2(`(${source})`, 'u')
    const short = new RE2(`(${cut.source})`, 'u')
    const names = translation.groups.map((g) => g.re2Name)
    for (const text of texts) {
      const expected = captures(whole, names, text)
      const parts = short.split(text, names.length + 3)
      let actual: Record<string, string> | null = null
      if (parts.length >= names.length + 2) {
        const rest = parts[names.length + 2] ?? ''
        actual = captures(short, names, text)!
        actual[''] += rest
        if (cut.group !== undefined) actual[cut.group] += rest
      }
      assert.deepEqual(actual, expected, `${filter}: ${pattern}\non ${JSON.stringify(text)}`)
      compared++
      if (expected !== null) matched++
    }
  }
  assert.ok(matched > 1000, `the sample lines exercise the cut patterns (${matched} matches of ${compared})`)
})
