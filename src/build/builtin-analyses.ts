import { readdirSync } from 'node:fs'
import { ConfigError } from '../config/errors.js'
import { loadFilter } from '../config/filter-config.js'
import { compileFilter, prepareFilter } from '../filters/compiled-filter.js'
import { templatesForDatepattern } from '../filters/date-templates.js'
import { kindOf, recordAnalyses } from '../filters/regex-analyses.js'

/** fail2ban's mode options: `mode = <name>` picks the `mdre-<name>` (`mdpr-`, `mdad-`, `mdig-`) definitions. */
const MODE_OPTION = /^md(?:re|pr|ad|ig)-([a-z]+)$/

export interface BuiltinAnalyses {
  /** By filter name. */
  filters: Map<string, Map<string, unknown>>
  /** The date templates' of every filter, shared: a template's is worked out once per process. */
  dates: Map<string, unknown>
}

/**
 * The analyses (see regex-analyses.ts) of every filter of `filterDir`: in each mode the filter has,
 * every analysis compiling it and matching with it work out, and those of its date templates, this
 * year and next (yearless dates are read into the current year, which the templates' texts hold).
 * With `usedns` other than `no`, which makes `<HOST>` match addresses alone and so changes every
 * regex holding it: a jail that sets it computes its filter's analyses on start (some 50 ms), where
 * twice the file would cost every start that reads it. Date templates a process has made are reused
 * without their analyses being looked up: this records them only where none were made before it.
 */
export function builtinAnalyses(filterDir: string, year = new Date().getUTCFullYear()): BuiltinAnalyses {
  const filters = new Map<string, Map<string, unknown>>()
  const dates = new Map<string, unknown>()
  const datepatterns = new Set<string | undefined>([undefined])
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
      datepatterns.add(def.datepattern)
      for (const [key, value] of recordAnalyses(() => prepareFilter(compileFilter(def, { useDns: 'warn', now: () => 0 })))) {
        (kindOf(key) === 'date-re2-source' ? dates : entries).set(key, value)
      }
    }
    if (entries.size > 0) filters.set(name, entries)
  }
  for (const datepattern of datepatterns) {
    for (const [key, value] of recordAnalyses(() => templatesForDatepattern(datepattern, year + 1))) dates.set(key, value)
  }
  return { filters, dates }
}
