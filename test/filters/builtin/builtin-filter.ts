import { join } from 'node:path'
import { loadFilter } from '../../../src/config/filter-config.js'
import { compileFilter } from '../../../src/filters/compiled-filter.js'
import { FilterMatcher, type LineResult } from '../../../src/filters/filter-matcher.js'
import { packageRoot } from '../../../src/package-root.js'

/** fail2ban's sample "now": 2005-08-14 12:00 CEST. */
export const SAMPLE_NOW = 1124013600

/**
 * A built-in filter as `banstream regex` runs it (raw host names, UTC, fixed now), as a function from
 * a log line (text, or raw bytes) and optionally its known journal time to the line's result. One matcher per call, so
 * multi-line state carries across the lines given to it.
 */
export function builtinFilter(name: string, opts: Record<string, string> = {}): (line: string | Buffer, time?: number) => LineResult {
  const def = loadFilter(join(packageRoot(), 'config', 'filter.d'), name, opts)
  const m = new FilterMatcher(compileFilter(def, { useDns: 'raw', timezone: 'UTC', now: () => SAMPLE_NOW }))
  return (line, time) => m.processLine(typeof line === 'string' ? Buffer.from(line) : line, time)
}
