import assert from 'node:assert/strict'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import RE2 from 're2'
import { PrefilterSet } from '../../src/filters/prefilter-set.js'
import { builtinConfigDir } from '../../src/package-root.js'
import { allSampleLines, compiledFiltersIn } from './regex-samples-kit.js'

const UPSTREAM_FILTERS = resolve(process.cwd(), '../shared/fail2ban/filter.d')

test('every prefilter a sample line matches is a candidate, for built-in and upstream filters and all built-in filters in one set; across filters, few others are', () => {
  const lines = allSampleLines().map((l) => Buffer.from(l))
  const filters = [...compiledFiltersIn(join(builtinConfigDir(), 'filter.d')), ...compiledFiltersIn(UPSTREAM_FILTERS)]
  const stream = filters.slice(0, 30)
  const sets: [string[], number[] | undefined][] = [
    ...filters.map((f): [string[], undefined] => [[...f.prefilterSources], undefined]),
    [stream.flatMap((f) => f.prefilterSources), stream.flatMap((f, i) => f.prefilterSources.map(() => i))],
  ]
  let hits = 0
  let streamHits = 0
  let streamCandidates = 0
  for (const [sources, groups] of sets) {
    if (sources.length === 0) continue
    const prefilters = new PrefilterSet(sources, groups)
    const plain = new RE2.Set(sources, 'u')
    for (const line of lines) {
      const named = prefilters.match(line)
      const matching = plain.match(line)
      assert.deepEqual(named, [...named].sort((a, b) => a - b), 'ascending')
      for (const source of matching) assert.ok(named.includes(source), `${line.toString()}: prefilter ${sources[source]} matches, not named`)
      hits += matching.length
      if (groups) {
        streamHits += matching.length
        streamCandidates += named.length
      }
    }
  }
  assert.ok(hits > 1000, `${hits} hits compared`)
  assert.ok(streamCandidates < streamHits * 1.1, `${streamCandidates} candidates for ${streamHits} matching prefilters`)
})

test('a line that holds none of the literals has no candidates, and one that holds a literal has the prefilters that require it, matching or not', () => {
  const set = new PrefilterSet(['Failed password for (?:invalid user )?[^ ]+ from', 'Accepted [^ ]+ for', 'Invalid user [^ ]+ from'])
  assert.deepEqual(set.match(Buffer.from('sshd[42]: Connection closed by 192.0.2.1')), [])
  assert.deepEqual(set.match(Buffer.from('sshd[42]: Accepted publickey for git')), [1])
  assert.deepEqual(set.match(Buffer.from('sshd[42]: Invalid user admin from 192.0.2.1 ... Failed password for nobody')), [0, 2])
})

test('in a set of several groups, a literal that prefilters of several groups require, or a short one, is checked by a Set of its prefilters', () => {
  const sources = ['Failed password for [^ ]+ from', 'Failed password for root', 'Invalid user [^ ]+ from']
  const line = Buffer.from('sshd[42]: Invalid user admin from 192.0.2.1 ... Failed password for nobody')
  assert.deepEqual(new PrefilterSet(sources, [0, 0, 1]).match(line), [0, 1, 2])
  assert.deepEqual(new PrefilterSet(sources, [0, 1, 1]).match(line), [2], 'the literal of 0 and 1 is checked, and neither matches')
  assert.deepEqual(new PrefilterSet(sources).match(line), [0, 1, 2], 'one group')
  const times = ['[0-9]{2}:01 ', 'Invalid user ']
  assert.deepEqual(new PrefilterSet(times, [0, 1]).match(Buffer.from('at x:01 done')), [], 'a short literal is checked')
  assert.deepEqual(new PrefilterSet(times, [0, 1]).match(Buffer.from('at 12:01 done')), [0])
  assert.deepEqual(new PrefilterSet(times).match(Buffer.from('at x:01 done')), [0], 'one group')
})

test('a prefilter without a literal of its own still gets its lines through', () => {
  const set = new PrefilterSet(['Failed password for', '[0-9]+x'])
  assert.deepEqual(set.match(Buffer.from('sshd[42]: Failed password for root')), [0])
  assert.deepEqual(set.match(Buffer.from('12x')), [1])
  assert.deepEqual(set.match(Buffer.from('nothing here')), [])
})
