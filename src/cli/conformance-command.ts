import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { runSampleFile, sampleFilesFor, type SampleFileResult } from '../conformance/run-conformance.js'
import { builtinConfigDir } from '../package-root.js'

export interface ConformanceCommandOptions {
  /** filter.d directory to test; default: banstream's built-in filters. */
  filters?: string
  /** Only these sample files (filter names). */
  only?: string[]
  /** Also list failregexes no sample exercised. */
  verbose?: boolean
}

/** `banstream conformance LOGDIR`: runs fail2ban-style annotated sample logs. Exit 1 when a case fails. */
export async function conformanceCommand(logDir: string, opts: ConformanceCommandOptions, out: Writable): Promise<number> {
  const filterDir = opts.filters ?? join(builtinConfigDir(), 'filter.d')
  const names = sampleFilesFor(logDir, filterDir).filter((n) => !opts.only || opts.only.includes(n))
  const results = names.map((name) => runSampleFile(logDir, name, { filterDir }))
  out.write(formatResults(results, opts.verbose === true))
  return results.every(passed) ? 0 : 1
}

export function passed(r: SampleFileResult): boolean {
  return r.error === undefined && r.failures.length === 0
}

function formatResults(results: SampleFileResult[], verbose: boolean): string {
  const lines: string[] = []
  let cases = 0
  let failed = 0
  for (const r of results) {
    cases += r.cases
    failed += r.error ? r.cases : r.failures.length
    const status = r.error ? 'ERROR' : r.failures.length === 0 ? 'PASS ' : 'FAIL '
    lines.push(`${status} ${r.name}: ${r.cases - r.failures.length}/${r.cases} cases${r.error ? ` — ${r.error}` : ''}`)
    for (const f of r.failures) lines.push(`      ${f.file}:${f.lineno} [${f.filter}] ${f.message}\n        ${f.line}`)
    if (verbose) for (const u of r.unusedRegexes) lines.push(`      no sample for failregex ${u}`)
  }
  const filesPassed = results.filter(passed).length
  lines.push('', `${filesPassed}/${results.length} files passed; ${cases - failed}/${cases} cases passed`)
  return lines.join('\n') + '\n'
}
