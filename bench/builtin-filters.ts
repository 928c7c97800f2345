import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadFilter } from '../src/config/filter-config.js'
import { compileFilter, type CompiledFilter } from '../src/filters/compiled-filter.js'
import { builtinConfigDir } from '../src/package-root.js'

/** Files in config/filter.d that are includes or another log type's variant, not filters for a file log. */
const NOT_FILE_FILTERS = new Set(['common', 'exim-common', 'sshd-journal'])

/** Every built-in filter that reads syslog files, compiled as `banstream run` would. */
export function builtinFileFilters(now: () => number): CompiledFilter[] {
  const dir = join(builtinConfigDir(), 'filter.d')
  return readdirSync(dir).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -5))
    .filter((name) => !NOT_FILE_FILTERS.has(name)).sort()
    .map((name) => compileFilter(loadFilter(dir, name), { now, useDns: 'raw', timezone: 'UTC' }))
}
