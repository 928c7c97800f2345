import RE2 from 're2'
import type { ResolvedFilter } from '../config/filter-config.js'
import { DateDetector } from './date-detector.js'
import { FailRegex, type FailRegexOptions } from './failregex.js'
import { PrefilterSet } from './prefilter-set.js'
import { PrefregexCut } from './prefregex-cut.js'
import { loadAnalyses } from './regex-analyses.js'
import { UnsupportedConstructError } from './unsupported-construct-error.js'

export type UseDns = NonNullable<FailRegexOptions['useDns']>
export type RawPrefilter = 'always' | 'word-start' | 'never'

export interface CompileOptions {
  /** fail2ban's `usedns`; 'raw' keeps captured host names as they are (fail2ban-regex's view). */
  useDns?: UseDns
  /** logtimezone; undefined = dates without a zone are local time. */
  timezone?: string
  /** What "local time" means; an IANA name or an offset. Default: the process's zone. */
  localZone?: string
  /** Epoch seconds, for yearless dates and for lines without a date. */
  now: () => number
}

/** A fail2ban filter turned into RE2 programs, ready for FilterMatcher. Immutable. */
export interface CompiledFilter {
  readonly name: string
  readonly file: string
  readonly prefregex?: FailRegex
  readonly failregex: readonly FailRegex[]
  readonly ignoreregex: readonly FailRegex[]
  readonly maxlines: number
  readonly useDns: UseDns
  readonly dateOptions: { datepattern?: string; timezone?: string; localZone?: string; now: () => number }
  /**
   * The PrefilterSet of every failregex's prefilter form (a superset of what the failregex matches in
   * any substring), preceded by that of the prefregex's part before the content (see
   * linePrefilters), for single-line filters: it names the failregexes that may match a line, so the
   * others never run and a line none can match stops before prefregex. The ignoreregexes' forms follow
   * (Set index failregex.length + j), so a line no ignoreregex can match skips their checks. Undefined
   * for multi-line filters.
   */
  readonly prefilter?: PrefilterSet
  /**
   * The sources of `prefilter`, one per failregex then one per ignoreregex, for a Set over several
   * filters (StreamPrefilter), which numbers them the same way.
   */
  readonly prefilterSources: readonly string[]
  /**
   * The prefregex's prefilter form, where the filter has a prefregex: every failregex runs on what
   * the prefregex lets through, so a text this rejects rejects them all. Most of a busy log's lines
   * that name an address (`connect from unknown[...]`) pass some failregex's prefilter and stop here.
   */
  readonly prefregexPrefilter?: RE2
  /** The prefregex's groups found without a submatch search, for prefregexes of fail2ban's usual shape. */
  readonly prefregexCut?: PrefregexCut
  /**
   * When the prefilter may run on the raw line, before the date is looked for — which needs the text a
   * failregex sees to be a substring of the raw line, so the date must be cut from the line's start:
   * 'always' (anchored datepatterns whose cut begins at offset 0, or no date), 'word-start' (`{^LN-BEG}`
   * cuts after up to two non-word characters, so only lines starting with a word character qualify),
   * 'never' (dates found anywhere). Elsewhere the prefilter runs on the line with its date cut out,
   * since cutting a date out of the middle of a line could join text a failregex then matches across.
   */
  readonly rawPrefilter: RawPrefilter
  readonly options: Readonly<Record<string, string>>
}

/** Compiles every regex of a resolved filter; a refusal names file, option, pattern and construct. */
export function compileFilter(def: ResolvedFilter, opts: CompileOptions): CompiledFilter {
  loadAnalyses(def.name)
  const useDns = opts.useDns ?? parseUseDns(def.options['usedns']) ?? 'warn'
  const multiline = def.maxlines > 1
  const regexOpts: FailRegexOptions = { useDns, multiline }
  const compile = (option: string, pattern: string): FailRegex => {
    try {
      return FailRegex.compile(pattern, regexOpts)
    } catch (err) {
      if (err instanceof UnsupportedConstructError) throw err.withContext(def.file, option)
      throw err
    }
  }
  const failregex = def.failregex.map((p) => compile('failregex', p))
  const ignoreregex = def.ignoreregex.map((p) => compile('ignoreregex', p))
  const prefregex = def.prefregex ? compile('prefregex', def.prefregex) : undefined
  const prefregexCut = def.prefregex ? PrefregexCut.of(def.prefregex, regexOpts) : undefined
  const dateOptions = { datepattern: def.datepattern, timezone: opts.timezone ?? def.options['logtimezone'], localZone: opts.localZone, now: opts.now }
  // Validates the datepattern now, so a bad one fails at load time rather than on the first line.
  new DateDetector(dateOptions)
  const prefilterSources = [...linePrefilters(failregex, prefregex, def.prefregex, regexOpts), ...ignoreregex.map((r) => r.prefilterSource)]
  const prefilter = !multiline && failregex.length > 0 ? new PrefilterSet(prefilterSources) : undefined
  const rawPrefilter = prefilter === undefined ? 'never' : rawPrefilterFor(def.datepattern)
  return {
    name: def.name, file: def.file, prefregex, failregex, ignoreregex, maxlines: Math.max(1, def.maxlines),
    useDns, dateOptions, prefilter, prefilterSources, rawPrefilter, options: def.options,
    ...(prefregex && prefilter ? { prefregexPrefilter: new RE2(prefregex.prefilterSource, 'u') } : {}),
    ...(prefregexCut ? { prefregexCut } : {}),
  }
}

/**
 * Works out now every analysis matching with `filter` would work out on first use: the build's
 * record of a filter's analyses (see regex-analyses.ts).
 */
export function prepareFilter(filter: CompiledFilter): void {
  for (const regex of [...filter.prefregex ? [filter.prefregex] : [], ...filter.failregex, ...filter.ignoreregex]) regex.prepare()
  filter.prefregexCut?.prepare()
  filter.prefilter?.prepare()
}

/**
 * Each failregex's prefilter for the text the prefregex runs on (see CompiledFilter.prefilter): the
 * failregex's own, after the prefilter of the prefregex's part before its content, where the content
 * takes part in every match of the prefregex and that part asserts anything. A failregex sees only
 * the content, which follows that part, so a text holding no match of the part followed by one of the
 * failregex's cannot match: in a busy mail log, Postfix's `connect from name[addr]` lines then stop
 * at the prefilter rather than in the prefregex of every stream that reads them.
 */
function linePrefilters(failregex: readonly FailRegex[], prefregex: FailRegex | undefined, pattern: string | undefined, opts: FailRegexOptions): string[] {
  const own = failregex.map((r) => r.prefilterSource)
  const at = pattern?.indexOf('<F-CONTENT>') ?? -1
  if (prefregex === undefined || at < 0 || !prefregex.requires('content')) return own
  let before: FailRegex
  try {
    before = FailRegex.compile(pattern!.slice(0, at), opts)
  } catch {
    // The content sits inside a group: what precedes it is no regex alone.
    return own
  }
  if (before.canMatchEmpty()) return own
  return own.map((source) => `(?:${before.prefilterSource}).*(?:${source})`)
}

function parseUseDns(value: string | undefined): UseDns | undefined {
  const v = value?.trim().toLowerCase()
  return v === 'yes' || v === 'warn' || v === 'no' || v === 'raw' ? v : undefined
}

/**
 * Where the date fail2ban cuts out can sit (see CompiledFilter.rawPrefilter). fail2ban cuts a
 * template's group 1; a `^` pattern without a plain capturing group is wrapped whole into group 1,
 * so its cut starts at offset 0. fail2ban's default templates search the whole line: 'never'.
 */
function rawPrefilterFor(datepattern: string | undefined): RawPrefilter {
  if (datepattern === undefined) return 'never'
  const patterns = datepattern.split('\n').map((p) => p.trim()).filter((p) => p !== '')
  if (patterns.length === 0) return 'never'
  const kinds = patterns.map((p): RawPrefilter => {
    if (p === '{NONE}') return 'always'
    if (p.startsWith('^') && !PLAIN_GROUP.test(p)) return 'always'
    if (p.startsWith('{^LN-BEG}')) return 'word-start'
    return 'never'
  })
  if (kinds.includes('never')) return 'never'
  return kinds.includes('word-start') ? 'word-start' : 'always'
}

/** A capturing group that is neither escaped nor an extension `(?`: it would become group 1. */
const PLAIN_GROUP = /(?<!\\)\((?!\?)/

/** True when `{^LN-BEG}` can only cut the date from offset 0: the line starts with an ASCII word character. */
export function startsWithWordChar(line: Buffer): boolean {
  const b = line[0]
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f)
}
