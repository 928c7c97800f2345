/**
 * Build step (`npm run build`, after tsc): writes the regex analyses of every built-in filter to
 * dist/regex-analyses/, which compiling that filter then reads (see regex-analyses.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { analysesDir, DATE_TEMPLATES_FILE, FILTERS_DIR } from '../filters/regex-analyses.js'
import { builtinConfigDir } from '../package-root.js'
import { builtinAnalyses } from './builtin-analyses.js'

const dir = analysesDir()
rmSync(dir, { recursive: true, force: true })
mkdirSync(join(dir, FILTERS_DIR), { recursive: true })
const { filters, dates } = builtinAnalyses(join(builtinConfigDir(), 'filter.d'))
for (const [name, entries] of filters) writeFileSync(join(dir, FILTERS_DIR, `${name}.json`), JSON.stringify(Object.fromEntries(entries)))
writeFileSync(join(dir, DATE_TEMPLATES_FILE), JSON.stringify(Object.fromEntries(dates)))
