import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import RE2 from 're2'
import { loadFilter } from '../../src/config/filter-config.js'
import { compileFilter, type CompiledFilter } from '../../src/filters/compiled-filter.js'
import { resolveTags } from '../../src/filters/failregex.js'
import { translateRegex, type Translation } from '../../src/filters/regex-translate.js'
import { builtinConfigDir } from '../../src/package-root.js'
import { SAMPLE_NOW } from './builtin/builtin-filter.js'

const LOGS = resolve(process.cwd(), '../shared/conformance/logs')

/** One capture form of a built-in filter's regex, with the sample texts it is meant for. */
export interface SampleForm {
  filter: string
  pattern: string
  translation: Translation
  /** The capture source: the Unicode form, or the ASCII form (then `texts` are ASCII only). */
  source: string
  asciiText: boolean
  texts: string[]
}

/**
 * Every single-line built-in filter's failregexes and prefregex, in both capture forms, with the
 * lines of its conformance samples cut after every space: the places a date or a prefix could
 * have been cut, so the regexes see their own text and the texts around it.
 */
export function* sampleForms(): Generator<SampleForm> {
  const dir = join(builtinConfigDir(), 'filter.d')
  for (const name of readdirSync(LOGS)) {
    if (!readdirSync(dir).includes(`${name}.conf`)) continue
    const filter = loadFilter(dir, name)
    if (filter.maxlines > 1) continue
    const lines = readFileSync(join(LOGS, name), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'))
    const texts = lines.flatMap((l) => [...l.matchAll(/(?:^| )/g)].map((m) => l.slice(m.index + (m[0] === ' ' ? 1 : 0))))
    for (const pattern of [...filter.failregex, ...(filter.prefregex ? [filter.prefregex] : [])]) {
      const translation = translateRegex(resolveTags(pattern, 'yes'))
      yield { filter: name, pattern, translation, source: translation.captureSource, asciiText: false, texts }
      yield { filter: name, pattern, translation, source: translation.asciiSource, asciiText: true, texts: texts.filter((t) => /^[\x00-\x7f]*$/.test(t)) }
    }
  }
}

/** The match and the named captures of `regex` (the pattern as capture 1, then `names`) on `text`, or null. */
export function captures(regex: RE2, names: readonly string[], text: string): Record<string, string> | null {
  const parts = regex.split(text, names.length + 2)
  if (parts.length < names.length + 2) return null
  const out: Record<string, string> = { '': parts[1]! }
  names.forEach((name, i) => { if (parts[i + 2] !== undefined) out[name] = parts[i + 2]! })
  return out
}

/** Every line of every sample log (the shared conformance logs and test/samples), comments left out. */
export function allSampleLines(): string[] {
  const dirs = [LOGS, join(process.cwd(), 'test/samples')]
  return dirs.flatMap((dir) => readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .flatMap((entry) => readFileSync(join(entry.parentPath, entry.name), 'utf8').split('\n')))
    .filter((l) => l !== '' && !l.startsWith('#'))
}

/** Every filter of a filter.d that compiles (includes, and upstream filters RE2 refuses, left out), as the sample tests compile them. */
export function compiledFiltersIn(dir: string): CompiledFilter[] {
  const out: CompiledFilter[] = []
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.conf'))) {
    try {
      out.push(compileFilter(loadFilter(dir, file.slice(0, -5)), { now: () => SAMPLE_NOW, useDns: 'raw', timezone: 'UTC' }))
    } catch {
      // No filter to compare.
    }
  }
  return out
}
