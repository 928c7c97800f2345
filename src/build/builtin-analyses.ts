import { readdirSync } from 'node:fs'
import { ConfigError } from '../config/errors.js'
import { loadFilter } from '../config/filter-config.js'
import { compileFilter, prepareFilter } from '../filters/compiled-filter.js'
import { recordAnalyses } from '../filters/regex-analyses.js'

/** fail2ban's mode options: `mode = <name>` picks the `mdre-<name>` (`mdpr-`, `mdad-`, `mdig-`) definitions. */
const MODE_OPTION = /^md(?:re|pr|ad|ig)-([a-z]+)$/

/**
 * The regex analyses (see regex-analyses.ts) of every filter of `filterDir`, by filter name: in each
 * mode the filter has, every analysis compiling it and matching with it work out. With `usedns`
 * other than `no`, which makes `<HOST>` match addresses alone and so changes every regex holding it:
 * a jail that sets it computes its filter's analyses on start (some 50 ms), where twice the
 * file would cost every start that reads it.
 */
export function builtinAnalyses(filterDir: string): Map<string, Map<string, unknown>> {
  const byFilter = new Map<string, Map<string, unknown>>()
  for (const file of readdirSync(filterDir).filter((f) => f.endsWith('.conf')).sort()) {
    const name = file.slice(0, -'.conf'.length)
    let options: Record<string, string>
    try {
      options = loadFilter(filterDir, name).options
    } catch (err) {
      // A file only meant to be included (common.conf) is no filter.
      if (err instanceof ConfigError) continue
      throw err
    }
    const modes = new Set(Object.keys(options).flatMap((key) => MODE_OPTION.exec(key)?.[1] ?? []))
    const entries = new Map<string, unknown>()
    for (const args of [{}, ...[...modes].map((mode) => ({ mode }))]) {
      const def = loadFilter(filterDir, name, args)
      for (const [key, value] of recordAnalyses(() => prepareFilter(compileFilter(def, { useDns: 'warn', now: () => 0 })))) entries.set(key, value)
    }
    if (entries.size > 0) byFilter.set(name, entries)
  }
  return byFilter
}
