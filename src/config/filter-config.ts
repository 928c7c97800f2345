import { basename, extname, join, resolve } from 'node:path'
import { readConfig, readFiles } from './config-reader.js'
import { DefinitionReader, withoutKnown } from './definition-reader.js'
import { ConfigError } from './errors.js'

export interface ResolvedFilter {
  name: string
  /** Absolute path of the .conf read. */
  file: string
  /** After %() and <tag> substitution; F-/HOST tags kept. */
  prefregex?: string
  /** One entry per non-empty line of the multi-line value. */
  failregex: string[]
  ignoreregex: string[]
  datepattern?: string
  /** Default 1. */
  maxlines: number
  journalmatch?: string
  /** Every combined, substituted option (Definition + Init + args), e.g. logtype, mode. */
  options: Record<string, string>
}

/** The [Definition] options fail2ban's FilterReader reads, in its order. */
export const FILTER_OPTIONS = ['usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch'] as const

/** Whether a jail's `filter` names a file by its path (fail2ban-regex's explicit read) rather than a filter of filter.d. */
export function isFilterPath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || /\.(conf|local)$/.test(nameOrPath)
}

/** A filter file opened for reading, kept so that the jail reader can read it twice as
 *  fail2ban does (once for `known/` options, once with the jail's options). */
export class FilterReader {
  private constructor(readonly name: string, private readonly reader: DefinitionReader) {}

  /** Opens `filterDir/<name>.conf` (+ .d/ and .local), or a filter file given by path
   *  (with its includes, without a .local: fail2ban-regex's explicit read). `backend` sets
   *  the `logtype` argument the way fail2ban does (journal for systemd backends, else file)
   *  unless the arguments or the filter's own [Definition] set it. */
  static open(filterDir: string, nameOrPath: string, args: Record<string, string> = {}, backend = 'auto'): FilterReader {
    const explicit = isFilterPath(nameOrPath)
    const read = explicit ? readFiles([resolve(nameOrPath)]) : readConfig(join(filterDir, nameOrPath))
    const file = resolve(read.sources.find((f) => f.endsWith('.conf')) ?? read.sources[0] ?? nameOrPath)
    const name = explicit ? basename(nameOrPath, extname(nameOrPath)) : nameOrPath
    const initOpts = new Map(Object.entries(args))
    if (!initOpts.get('logtype') && !read.store.hasOption('Definition', 'logtype', false)) {
      initOpts.set('logtype', backend.startsWith('systemd') ? 'journal' : 'file')
    }
    return new FilterReader(name, new DefinitionReader(read.store, file, FILTER_OPTIONS, initOpts))
  }

  /** All options of the filter as the jail may refer to them with `%(known/...)s`. */
  knownOptions(jailOptions: Map<string, string>): Map<string, string> {
    this.reader.getOptions(jailOptions, true)
    return this.reader.getCombined()
  }

  /** The filter as fail2ban hands it to a jail; options present in jailOptions are left
   *  out of the filter's own (the jail's value replaces them). */
  resolve(jailOptions?: Map<string, string>): ResolvedFilter {
    this.reader.getOptions(jailOptions)
    const combined = this.reader.getCombined()
    const extra = this.reader.getExtraOptions(combined)
    const { file } = this.reader
    const maxlines = combined.get('maxlines')
    const parsedMaxlines = maxlines === undefined || maxlines === '' ? 1 : Number(maxlines)
    if (!Number.isInteger(parsedMaxlines) || parsedMaxlines < 1) {
      throw new ConfigError(`maxlines must be a positive integer, got ${JSON.stringify(maxlines)}`, file, 'maxlines')
    }
    return {
      name: this.name,
      file,
      ...optional('prefregex', combined.get('prefregex')),
      failregex: lines(combined.get('failregex')),
      ignoreregex: lines(combined.get('ignoreregex')),
      ...optional('datepattern', combined.get('datepattern')),
      maxlines: parsedMaxlines,
      ...optional('journalmatch', combined.get('journalmatch')),
      options: { ...withoutKnown(combined), ...Object.fromEntries(extra) },
    }
  }
}

/** nameOrPath: a filter name looked up in filterDir ('sshd'), or a path to a filter file (includes resolved beside it). */
export function loadFilter(filterDir: string, nameOrPath: string, args?: Record<string, string>, backend?: string): ResolvedFilter {
  return FilterReader.open(filterDir, nameOrPath, args, backend).resolve()
}

/** fail2ban splits regex lists on newlines and drops empty lines. */
function lines(value: string | undefined): string[] {
  return (value ?? '').split('\n').filter((line) => line !== '')
}

// fail2ban's server treats an empty prefregex / datepattern / journalmatch as unset.
function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return value ? ({ [key]: value } as { [P in K]: string }) : {}
}
