import type { ConfigStore } from './config-store.js'
import { CONDITIONAL_RE } from './config-store.js'
import { ConfigError, MissingSectionError } from './errors.js'
import { substituteRecursiveTags } from './tags.js'

const DEFINITION = 'Definition'
const INIT = 'Init'
const KNOWN = 'known/'

/** fail2ban's DefinitionInitConfigReader: the shared reading of filter and action files,
 *  whose [Definition] options are completed by [Init] options and by the arguments of the
 *  reference (`name[arg=value]`). Stateful like fail2ban's: Init options accumulate in
 *  initOpts and tag look-ups are cached across getOptions calls, which the jail reader
 *  relies on when it reads a filter twice. */
export class DefinitionReader {
  private opts = new Map<string, string>()
  private pOpts = new Map<string, string>()
  private readonly combCache = new Map<string, string | undefined>()

  constructor(
    readonly store: ConfigStore,
    readonly file: string,
    private readonly configOpts: readonly string[],
    readonly initOpts: Map<string, string>,
  ) {
    if (!store.hasSection(DEFINITION)) {
      throw new ConfigError(`no [${DEFINITION}] section (a file meant to be included, not used directly)`, file)
    }
  }

  /** Reads the known [Definition] options with the given options as interpolation vars
   *  (options given there are left out: they take precedence), then [Init]; with `all`,
   *  every other [Definition] option (and DEFAULT's) too. */
  getOptions(pOpts: Map<string, string> | undefined, all = false): void {
    const vars = new Map([...(pOpts ?? []), ...this.initOpts])
    this.opts = new Map()
    for (const name of this.configOpts) {
      if (vars.has(name)) continue
      const value = this.store.get(DEFINITION, name, vars)
      if (value !== undefined) this.opts.set(name, value)
    }
    this.pOpts = vars
    if (this.store.hasSection(INIT)) {
      for (const name of this.store.options(INIT, false)) {
        if (name === '__name__') continue
        let value: string | undefined
        if (!name.startsWith(KNOWN)) {
          value = this.store.get(INIT, name) ?? ''
          this.initOpts.set(KNOWN + name, value)
        }
        if (!this.initOpts.has(name)) this.initOpts.set(name, value ?? this.store.get(INIT, name) ?? '')
      }
    }
    if (all) {
      for (const name of this.store.options(DEFINITION)) {
        if (name === '__name__' || this.opts.has(name)) continue
        this.opts.set(name, this.store.get(DEFINITION, name) ?? '')
      }
    }
  }

  /** A [Definition] option (or `section/option`) as a tag replacement: interpolated with the
   *  reference's options as vars; undefined when there is no such option. */
  getCombOption(name: string): string | undefined {
    if (this.combCache.has(name)) return this.combCache.get(name)
    let value: string | undefined
    try {
      value = this.store.getEx(DEFINITION, name, this.pOpts)
    } catch (err) {
      if (!(err instanceof MissingSectionError)) throw err
    }
    this.combCache.set(name, value)
    return value
  }

  /** [Definition] + [Init] + arguments with `<tag>`s substituted (fail2ban's getCombined);
   *  options that have conditional variants (`name?family=inet6`) stay unsubstituted for
   *  the run time to choose. */
  getCombined(ignore: Iterable<string> = []): Map<string, string> {
    const combined = new Map([...this.opts, ...this.initOpts])
    const skip = new Set(ignore)
    for (const name of combined.keys()) {
      const cond = CONDITIONAL_RE.exec(name)
      if (cond) skip.add(cond[1] as string)
    }
    return substituteRecursiveTags(combined, { ignore: skip, addrepl: (tag) => this.getCombOption(tag) })
  }

  /** Every other [Definition] option (and DEFAULT's), substituted as a tag look-up would see
   *  it. An option no tag refers to is never evaluated by fail2ban, so one that cannot be
   *  interpolated is left out rather than failing the whole file. */
  getExtraOptions(combined: Map<string, string>, ignore: Iterable<string> = []): Map<string, string> {
    const all = new Map(combined)
    const extra: string[] = []
    for (const name of this.store.options(DEFINITION)) {
      if (all.has(name) || name.startsWith(KNOWN)) continue
      let value: string | undefined
      try {
        value = this.getCombOption(name)
      } catch (err) {
        if (err instanceof ConfigError) continue
        throw err
      }
      if (value === undefined) continue
      all.set(name, value)
      extra.push(name)
    }
    const substituted = substituteRecursiveTags(all, { ignore, addrepl: (tag) => this.getCombOption(tag) })
    return new Map(extra.map((name) => [name, substituted.get(name) as string]))
  }
}

/** Drops fail2ban's internal `known/...` copies from a combined option map. */
export function withoutKnown(options: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...options].filter(([name]) => !name.startsWith(KNOWN)))
}
