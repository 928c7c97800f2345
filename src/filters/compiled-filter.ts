import RE2 from 're2'
import type { ResolvedFilter } from '../config/filter-config.js'
import { DateDetector } from './date-detector.js'
import { FailRegex, type FailRegexOptions } from './failregex.js'
import { UnsupportedConstructError } from './unsupported-construct-error.js'

type RE2Set = InstanceType<typeof RE2.Set>

export type UseDns = NonNullable<FailRegexOptions['useDns']>

export interface CompileOptions {
  /** fail2ban's `usedns`; 'raw' keeps captured host names as they are (fail2ban-regex's view). */
  useDns?: UseDns
  /** logtimezone; undefined = the process's local zone. */
  timezone?: string
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
  readonly dateOptions: { datepattern?: string; timezone?: string; now: () => number }
  /**
   * One RE2.Set over every failregex's prefilter form, or undefined where a prefilter would be unsound:
   * multi-line filters, and dates that are not at the line's start (cutting them out of the middle of a
   * line could join text a failregex then matches across).
   */
  readonly prefilter?: RE2Set
  readonly options: Readonly<Record<string, string>>
}

/** Compiles every regex of a resolved filter; a refusal names file, option, pattern and construct. */
export function compileFilter(def: ResolvedFilter, opts: CompileOptions): CompiledFilter {
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
  const dateOptions = { datepattern: def.datepattern, timezone: opts.timezone ?? def.options['logtimezone'], now: opts.now }
  // Validates the datepattern now, so a bad one fails at load time rather than on the first line.
  new DateDetector(dateOptions)
  const prefilter = !multiline && dateIsAtLineStart(def.datepattern) && failregex.length > 0
    ? new RE2.Set(failregex.map((r) => r.prefilterSource), 'u')
    : undefined
  return {
    name: def.name, file: def.file, prefregex, failregex, ignoreregex, maxlines: Math.max(1, def.maxlines),
    useDns, dateOptions, prefilter, options: def.options,
  }
}

function parseUseDns(value: string | undefined): UseDns | undefined {
  const v = value?.trim().toLowerCase()
  return v === 'yes' || v === 'warn' || v === 'no' || v === 'raw' ? v : undefined
}

/**
 * True when the date fail2ban cuts out can only sit at the beginning of the line (or there is none), so
 * the text a failregex sees is a substring of the raw line and the prefilter may run on the raw line.
 * fail2ban's default templates search the whole line, so an absent datepattern does not qualify.
 */
function dateIsAtLineStart(datepattern: string | undefined): boolean {
  if (datepattern === undefined) return false
  return datepattern.split('\n').map((p) => p.trim()).filter((p) => p !== '')
    .every((p) => p.startsWith('{^LN-BEG}') || p.startsWith('^') || p === '{NONE}')
}
