import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import RE2 from 're2'
import { requiredLiterals } from '../../src/filters/required-literals.js'
import { builtinConfigDir } from '../../src/package-root.js'
import { allSampleLines, compiledFiltersIn } from './regex-samples-kit.js'

const sorted = (texts: string[] | undefined): string[] | undefined => texts && [...texts].sort()

test('a plain text requires itself, and a class of few characters or an alternation of texts all their spellings', () => {
  assert.deepEqual(requiredLiterals('Accepted publickey'), ['Accepted publickey'])
  assert.deepEqual(sorted(requiredLiterals('[iI](?:llegal|nvalid) user (?:.*) from')),
    ['Illegal user ', 'Invalid user ', 'illegal user ', 'invalid user '])
  assert.deepEqual(sorted(requiredLiterals('Disconnect(?:ed|ing):')), ['Disconnected:', 'Disconnecting:'])
})

test('the longest piece a match must hold is chosen, and an optional piece widens the spellings', () => {
  assert.deepEqual(requiredLiterals('refused connect from .* \\((?:[0-9]+\\.)+[0-9]+\\)'), ['refused connect from '])
  assert.deepEqual(sorted(requiredLiterals('(?:H=)?relay=[^ ]+')), ['H=relay=', 'relay='])
})

test("a piece the rest of the match must follow holds the rest's first character after it, unless the rest may be empty", () => {
  assert.deepEqual(sorted(requiredLiterals('Disconnect(?:ed|ing)(?: [^(]*)? from')), ['Disconnected ', 'Disconnecting '])
  assert.deepEqual(requiredLiterals('Accepted(?: [^(]*)?'), ['Accepted'])
  assert.deepEqual(requiredLiterals('Accepted(?: [^(]*)?$'), ['Accepted'])
})

test('an alternation requires a text of every branch, or nothing when a branch may hold none', () => {
  assert.deepEqual(sorted(requiredLiterals('auth failed|de[0-9]+fgh')), ['auth failed', 'fgh'])
  assert.equal(requiredLiterals('auth failed|.*'), undefined)
})

test('what may match the empty text, or only case-folded text, requires nothing', () => {
  assert.equal(requiredLiterals('(?:abc)?'), undefined)
  assert.equal(requiredLiterals('[^ ]*'), undefined)
  assert.equal(requiredLiterals('(?i:failed)'), undefined)
  assert.deepEqual(requiredLiterals('(?i:failed) login'), [' login'])
})

test('every match of every built-in filter\'s prefilters, on every sample line, holds one of its literals', () => {
  const lines = allSampleLines().map((l) => [l, Buffer.from(l)] as const)
  let checked = 0
  for (const filter of compiledFiltersIn(join(builtinConfigDir(), 'filter.d'))) {
    for (const source of filter.prefilterSources) {
      const literals = requiredLiterals(source)
      if (literals === undefined) continue
      const regex = new RE2(source, 'gu')
      const matches = new RE2(source, 'u')
      for (const [line, bytes] of lines) {
        if (!matches.test(bytes)) continue
        for (const m of line.matchAll(regex)) {
          assert.ok(literals.some((l) => m[0].includes(l)), `${filter.name}: ${JSON.stringify(m[0])} holds none of ${JSON.stringify(literals)}`)
          checked++
        }
      }
    }
  }
  assert.ok(checked > 1000, `${checked} matches checked`)
})
