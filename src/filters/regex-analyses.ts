import { readFileSync } from 'node:fs'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../package-root.js'

/**
 * The analyses of regex texts that compiling and running a filter needs: the translation to RE2, and
 * what is read from the translated sources (their size bound, alternatives, open tails, required
 * literals and groups), and the RE2 form of each date template. Each is a pure function of its
 * texts, and together they were most of `banstream regex`'s start after Node's own (~70 ms for
 * sshd): code that runs once per process, interpreted, and that V8 then optimizes on its one
 * compiler thread ahead of the matching code.
 *
 * So the build works out the built-in filters' analyses (src/build/precompute-analyses.ts), one file
 * per filter and one for the date templates they share, and compiling a filter reads its file. An entry is found by its analysis and
 * inputs: it stands in for that computation alone, whatever filter reads it, and a filter whose
 * texts are not there (a user's own, another mode) has them computed as before.
 */

/** The analyses that may be precomputed. */
export type AnalysisKind = 'translation' | 'outgrows-re2' | 'matches-empty' | 'required-groups' | 'alternatives' | 'open-tail' | 'required-literals' | 'date-re2-source'

/**
 * Where the build writes the files: `<FILTERS_DIR>/<filter name>.json`, and DATE_TEMPLATES_FILE for
 * the date templates every filter shares; each key (see keyOf) → result.
 */
export function analysesDir(): string {
  return join(packageRoot(), 'dist', 'regex-analyses')
}

export const FILTERS_DIR = 'filters'
export const DATE_TEMPLATES_FILE = 'date-templates.json'

/** Where the built code reads them; the code run from its sources (tsx) reads none: they were worked out by the last build's code. */
const shipped = fileURLToPath(import.meta.url).startsWith(join(packageRoot(), 'dist') + sep) ? analysesDir() : undefined

/** A filter's name is a file name (sshd, or a filter file's name without its extension), never a path. */
const FILE_NAME = /^[\w-][\w.-]*$/
const known = new Map<string, unknown>()
const loaded = new Set<string>()
/** While the build records (see recordAnalyses): every entry looked up, computed afresh. */
let recording: Map<string, unknown> | undefined

/** Makes the analyses worked out for the filter `name` known, if there are: by the build, unless `dir` says where else. */
export function loadAnalyses(name: string, dir = shipped && join(shipped, FILTERS_DIR)): void {
  if (dir !== undefined && FILE_NAME.test(name)) loadFile(join(dir, `${name}.json`))
}

/** Makes the analyses of the date templates known, if the build worked them out. */
export function loadDateAnalyses(): void {
  if (shipped !== undefined) loadFile(join(shipped, DATE_TEMPLATES_FILE))
}

function loadFile(file: string): void {
  if (recording !== undefined || loaded.has(file)) return
  loaded.add(file)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    // Not a built-in filter, or a build that worked out none: the analyses are computed.
    return
  }
  for (const [key, value] of Object.entries(JSON.parse(text) as Record<string, unknown>)) known.set(key, value)
}

/**
 * The result of `compute`, the analysis `kind` of `inputs`: the known one when there is one. Results
 * are stored as JSON, undefined as null: no result may hold null, undefined or a non-JSON value, and
 * none is changed by its readers (a known one is shared).
 */
export function analysis<T>(kind: AnalysisKind, inputs: readonly string[], compute: () => T): T {
  const key = keyOf(kind, inputs)
  if (recording !== undefined) {
    const value = compute()
    recording.set(key, value ?? null)
    return value
  }
  const value = known.get(key)
  if (value === undefined) return compute()
  return (value ?? undefined) as T
}

/** The entries `work` looks up, each computed afresh (none known ones): what the build writes for a filter. */
export function recordAnalyses(work: () => void): Map<string, unknown> {
  const outer = recording
  const entries = new Map<string, unknown>()
  recording = entries
  try {
    work()
  } finally {
    recording = outer
  }
  return entries
}

/**
 * The analysis and its inputs, each input after its length: no two lists of inputs make the same key.
 * Not a digest of them: node:crypto alone costs a start more than these files' extra bytes do.
 */
export function kindOf(key: string): AnalysisKind {
  return key.slice(0, key.indexOf('\u0000')) as AnalysisKind
}

function keyOf(kind: AnalysisKind, inputs: readonly string[]): string {
  let key: string = kind
  for (const input of inputs) key += `\u0000${input.length}\u0000${input}`
  return key
}
