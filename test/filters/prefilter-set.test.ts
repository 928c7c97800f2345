import assert from 'node:assert/strict'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import RE2 from 're2'
import { PrefilterSet } from '../../src/filters/prefilter-set.js'
import { builtinConfigDir } from '../../src/package-root.js'
import { allSampleLines, compiledFiltersIn } from './regex-samples-kit.js'

const UPSTREAM_FILTERS = resolve(process.cwd(), '../shared/fail2ban/filter.d')

test('the gated Set names the same prefilters as the Set alone on every sample line, for built-in and upstream filters and all built-in filters in one Set', () => {
  const lines = allSampleLines().map((l) => Buffer.from(l))
  const filters = [...compiledFiltersIn(join(builtinConfigDir(), 'filter.d')), ...compiledFiltersIn(UPSTREAM_FILTERS)]
  const sourceLists = [...filters.map((f) => f.prefilterSources), filters.slice(0, 30).flatMap((f) => f.prefilterSources)]
  let hits = 0
  for (const sources of sourceLists) {
    if (sources.length === 0) continue
    const gated = new PrefilterSet(sources)
    const plain = new RE2.Set(sources, 'u')
    for (const line of lines) {
      const expected = plain.match(line)
      assert.deepEqual(gated.match(line), expected, `${line.toString()} against ${sources.length} prefilters`)
      hits += expected.length
    }
  }
  assert.ok(hits > 1000, `${hits} hits compared`)
})

test('a prefilter without a literal of its own still gets its lines through', () => {
  const set = new PrefilterSet(['Failed password for', '[0-9]+x'])
  assert.deepEqual(set.match(Buffer.from('sshd[42]: Failed password for root')), [0])
  assert.deepEqual(set.match(Buffer.from('12x')), [1])
  assert.deepEqual(set.match(Buffer.from('nothing here')), [])
})
