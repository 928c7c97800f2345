import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { builtinAnalyses } from '../../src/build/builtin-analyses.js'
import { loadFilter } from '../../src/config/filter-config.js'
import { compileFilter, prepareFilter, type CompiledFilter } from '../../src/filters/compiled-filter.js'
import { FilterMatcher } from '../../src/filters/filter-matcher.js'
import { analysesDir, analysis, DATE_TEMPLATES_FILE, FILTERS_DIR, kindOf, loadAnalyses, recordAnalyses } from '../../src/filters/regex-analyses.js'
import { SAMPLE_NOW } from './builtin/builtin-filter.js'

const FILTERS = join(process.cwd(), 'config/filter.d')

/** Writes `entries` where loadAnalyses(name, dir) reads them, as the build does. */
function writeAnalyses(dir: string, name: string, entries: Map<string, unknown>): void {
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(Object.fromEntries(entries)))
}

const never = (): never => assert.fail('computed, though its result is known')

// First: it records date templates only where this process has made none (see builtinAnalyses).
test("the build's files hold what the built-in filters' analyses compute, and nothing else", () => {
  const { filters, dates } = builtinAnalyses(FILTERS)
  assert.ok(filters.has('sshd') && filters.has('postfix') && !filters.has('common'))
  assert.deepEqual(readdirSync(join(analysesDir(), FILTERS_DIR)).sort(), [...filters.keys()].map((name) => `${name}.json`).sort())
  const same = (file: string, entries: Map<string, unknown>) => {
    const stored = JSON.parse(readFileSync(join(analysesDir(), file), 'utf8')) as unknown
    assert.deepEqual(stored, JSON.parse(JSON.stringify(Object.fromEntries(entries))), `${file} is out of date: npm run build`)
  }
  for (const [name, entries] of filters) same(join(FILTERS_DIR, `${name}.json`), entries)
  // fail2ban's 17 default templates and their line-begin forms, this year and next, and the built-in filters' own.
  assert.ok(dates.size >= 31 && [...dates.keys()].every((key) => kindOf(key) === 'date-re2-source'))
  same(DATE_TEMPLATES_FILE, dates)
})

for (const [name, mode] of [['sshd', 'aggressive'], ['postfix', 'more'], ['dovecot', 'normal'], ['asterisk', undefined]] as const) {
  test(`${name} compiled from the build's analyses matches its samples as when it computes them`, () => {
    const def = loadFilter(FILTERS, name, mode ? { mode } : {})
    const opts = { now: () => SAMPLE_NOW, useDns: 'raw' as const }
    let fresh: CompiledFilter | undefined
    recordAnalyses(() => {
      fresh = compileFilter(def, opts)
      prepareFilter(fresh)
    })
    const known = compileFilter(def, opts)
    // The file was read: an analysis of this filter is not computed again.
    analysis('required-literals', [known.prefilterSources[0]!], never)

    const lines = readFileSync(join(process.cwd(), 'test/samples', name), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'))
    assert.ok(lines.length > 10)
    const results = (filter: CompiledFilter) => {
      const matcher = new FilterMatcher(filter, { checkAllRegex: true })
      return lines.map((line) => {
        const r = matcher.processLine(Buffer.from(line))
        return { outcome: r.outcome, regexes: r.matchedRegexes, ignoredBy: r.ignoredBy, failures: r.failures.map((f) => ({ ...f })) }
      })
    }
    const expected = results(fresh!)
    assert.ok(expected.some((r) => r.failures.length > 0))
    assert.deepEqual(results(known), expected)
  })
}

test('a known result stands in only for the same analysis of the same inputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-analyses-'))
  writeAnalyses(dir, 'f', recordAnalyses(() => {
    analysis('required-literals', ['ab', 'c'], () => ['from '])
    analysis('open-tail', ['ab', 'c'], () => undefined)
  }))
  loadAnalyses('f', dir)
  assert.deepEqual(analysis('required-literals', ['ab', 'c'], never), ['from '])
  assert.equal(analysis('open-tail', ['ab', 'c'], never), undefined)
  assert.equal(analysis('required-literals', ['a', 'bc'], () => 'computed'), 'computed')
  assert.equal(analysis('required-literals', ['ab', 'c', ''], () => 'computed'), 'computed')
  assert.equal(analysis('alternatives', ['ab', 'c'], () => 'computed'), 'computed')
})

test('a filter name holding a path reads no file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-analyses-'))
  mkdirSync(join(dir, 'filters'))
  writeAnalyses(dir, 'outside', recordAnalyses(() => analysis('required-literals', ['x'], () => ['planted'])))
  loadAnalyses('../outside', join(dir, 'filters'))
  assert.equal(analysis('required-literals', ['x'], () => 'computed'), 'computed')
})

test('while the build records, every analysis is computed afresh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-analyses-'))
  writeAnalyses(dir, 'g', recordAnalyses(() => analysis('matches-empty', ['y'], () => true)))
  loadAnalyses('g', dir)
  const recorded = recordAnalyses(() => assert.equal(analysis('matches-empty', ['y'], () => false), false))
  assert.deepEqual([...recorded.values()], [false])
  assert.equal(analysis('matches-empty', ['y'], never), true)
})
