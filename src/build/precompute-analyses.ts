/**
 * Build step (`npm run build`, after tsc): writes the regex analyses of every built-in filter to
 * dist/regex-analyses/<filter>.json, which compiling that filter then reads (see regex-analyses.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { analysesDir } from '../filters/regex-analyses.js'
import { builtinConfigDir } from '../package-root.js'
import { builtinAnalyses } from './builtin-analyses.js'

const dir = analysesDir()
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
const byFilter = builtinAnalyses(join(builtinConfigDir(), 'filter.d'))
for (const [name, entries] of byFilter) writeFileSync(join(dir, `${name}.json`), JSON.stringify(Object.fromEntries(entries)))
