import type { IniDocument } from './ini-parser.js'
import { ConfigError, MissingSectionError } from './errors.js'

/** One option value and the file it came from (for error messages). */
interface Entry { value: string; file: string }
type Section = Map<string, Entry>

const DEFAULT_SECTION = 'DEFAULT'
const KNOWN_PREFIX = 'KNOWN/'
// Python's configparser gives up past this nesting of %(name)s references.
const MAX_INTERPOLATION_DEPTH = 10
/** `name?cond=value`: fail2ban's conditional section / option names. */
export const CONDITIONAL_RE = /^([\p{L}\p{N}_]+)(\?.+)$/u
const SECTION_OPTION_RE = /^([\p{L}\p{N}_-]+)\/([^\s>]+)$/u
const SECTION_REFERENCE_RE = /^([\p{L}\p{N}_-]+)\/(.+)$/u
const KEY_RE = /^%\(([^)]+)\)s/

/** The merged content of several fail2ban INI files with Python configparser's `get` and
 *  fail2ban's additions: `%(section/option)s`, `%(known/option)s`, `%(__name__)s`,
 *  conditional sections (`[Init?family=inet6]`). Pure: no I/O. */
export class ConfigStore {
  private readonly defaults: Section = new Map()
  private readonly sections = new Map<string, Section>()

  /** Merges one more file as SafeConfigParserWithIncludes.read does: DEFAULT options are
   *  overwritten, a section seen before keeps the values its options had before as
   *  `KNOWN/<section>` (for `%(known/...)s`), and `[S?c=v]` becomes options `o?c=v` of `[S]`. */
  merge(doc: IniDocument): void {
    for (const [key, value] of doc.defaults) this.defaults.set(key, { value, file: doc.file })
    for (const [rawName, options] of doc.sections) {
      let name = rawName
      const incoming = new Map<string, Entry>()
      const cond = CONDITIONAL_RE.exec(rawName)
      if (cond) name = cond[1] as string
      for (const [key, value] of options) incoming.set(cond ? key + cond[2] : key, { value, file: doc.file })
      const existing = this.sections.get(name)
      if (existing) {
        const previous = new Map([...existing].filter(([key]) => incoming.has(key)))
        this.mergeEntries(KNOWN_PREFIX + name, previous, '')
        for (const [key, entry] of incoming) existing.set(key, entry)
      } else {
        this.sections.set(name, incoming)
      }
    }
  }

  /** Adds options to a section (created if missing); with a prefix, each name is prefixed
   *  and names that already carry it are skipped (fail2ban's merge_section). */
  mergeSection(section: string, options: Map<string, string>, prefix: string, file: string): void {
    this.mergeEntries(section, new Map([...options].map(([k, v]) => [k, { value: v, file }])), prefix)
  }

  /** Sets DEFAULT options, replacing what the files said (fail2ban's merge_defaults). */
  mergeDefaults(options: Record<string, string>, file: string): void {
    for (const [key, value] of Object.entries(options)) this.defaults.set(key.toLowerCase(), { value, file })
  }

  /** Section names in first-seen order, without the internal KNOWN/ copies. */
  sectionNames(): string[] {
    return [...this.sections.keys()].filter((name) => !name.startsWith(KNOWN_PREFIX))
  }

  hasSection(section: string): boolean {
    return this.sections.has(section)
  }

  hasOption(section: string, option: string, withDefault = true): boolean {
    const key = option.toLowerCase()
    if (this.sections.get(section)?.has(key)) return true
    return withDefault && (section === DEFAULT_SECTION || this.sections.has(section)) && this.defaults.has(key)
  }

  /** Option names of a section, its own first, then DEFAULT's (unless withDefault is false). */
  options(section: string, withDefault = true): string[] {
    const own = this.requireSection(section)
    const names = [...own.keys()]
    if (withDefault) for (const key of this.defaults.keys()) if (!own.has(key)) names.push(key)
    return names
  }

  /** The file an option's value was last read from. */
  fileOf(section: string, option: string): string | undefined {
    const key = option.toLowerCase()
    return (this.sections.get(section)?.get(key) ?? this.defaults.get(key))?.file
  }

  /** configparser's get(section, option, vars=...): vars first, then the section, then
   *  DEFAULT; `%(...)s` interpolated. Undefined when the option does not exist; throws when
   *  the section does not exist or interpolation fails. */
  get(section: string, option: string, vars?: Map<string, string>): string | undefined {
    const key = option.toLowerCase()
    const own = section === DEFAULT_SECTION ? new Map<string, Entry>() : this.requireSection(section)
    const lowered = new Map([...(vars ?? [])].map(([k, v]) => [k.toLowerCase(), v]))
    const raw = lowered.get(key) ?? own.get(key)?.value ?? this.defaults.get(key)?.value
    if (raw === undefined) return undefined
    const file = own.get(key)?.file ?? this.defaults.get(key)?.file
    return this.interpolate({ section, option: key, own, vars: lowered, file }, raw, 1)
  }

  /** fail2ban's get_ex: like get, but `section/option` names read that section's option
   *  (`known/option` the value before the last override, `default/option` DEFAULT's). */
  getEx(section: string, option: string, vars?: Map<string, string>): string | undefined {
    const qualified = option.includes('/') ? SECTION_OPTION_RE.exec(option) : null
    if (qualified) {
      const sec = qualified[1] as string
      const opt = qualified[2] as string
      const lower = sec.toLowerCase()
      const candidates = lower === 'known' ? [KNOWN_PREFIX + section, section] : [lower === 'default' ? DEFAULT_SECTION : sec]
      for (const candidate of candidates) {
        if (candidate !== DEFAULT_SECTION && !this.sections.has(candidate)) continue
        const value = this.get(candidate, opt)
        if (value !== undefined) return value
      }
    }
    return this.get(section, option, vars)
  }

  private requireSection(section: string): Section {
    const found = this.sections.get(section)
    if (!found) throw new MissingSectionError(section)
    return found
  }

  private mergeEntries(section: string, options: Map<string, Entry>, prefix: string): void {
    let target = this.sections.get(section)
    if (!target) {
      target = new Map()
      this.sections.set(section, target)
    }
    for (const [key, entry] of options) {
      if (!prefix) target.set(key, entry)
      else if (!key.startsWith(prefix) && key !== '__name__') target.set(prefix + key, entry)
    }
  }

  private interpolate(ctx: InterpolationContext, text: string, depth: number): string {
    if (depth > MAX_INTERPOLATION_DEPTH) {
      throw new ConfigError(`option '${ctx.option}' in [${ctx.section}]: interpolation nested deeper than ${MAX_INTERPOLATION_DEPTH}`, ctx.file, ctx.option)
    }
    let out = ''
    let rest = text
    while (rest) {
      const p = rest.indexOf('%')
      if (p < 0) return out + rest
      out += rest.slice(0, p)
      rest = rest.slice(p)
      const next = rest[1]
      if (next === '%') {
        out += '%'
        rest = rest.slice(2)
      } else if (next === '(') {
        const m = KEY_RE.exec(rest)
        if (!m) throw new ConfigError(`option '${ctx.option}' in [${ctx.section}]: bad interpolation reference ${JSON.stringify(rest)}`, ctx.file, ctx.option)
        const name = m[1] as string
        rest = rest.slice(m[0].length)
        const value = this.lookup(ctx, name)
        if (value === undefined) {
          throw new ConfigError(`option '${ctx.option}' in [${ctx.section}]: %(${name})s refers to an option that does not exist`, ctx.file, ctx.option)
        }
        out += value.includes('%') ? this.interpolate(ctx, value, depth + 1) : value
      } else {
        throw new ConfigError(`option '${ctx.option}' in [${ctx.section}]: '%' must be followed by '%' or '(': ${JSON.stringify(rest)}`, ctx.file, ctx.option)
      }
    }
    return out
  }

  private lookup(ctx: InterpolationContext, name: string): string | undefined {
    const key = name.toLowerCase()
    if (key === '__name__') return ctx.section
    const direct = ctx.vars.get(key) ?? ctx.own.get(key)?.value ?? this.defaults.get(key)?.value
    if (direct !== undefined) return direct
    // fail2ban maps `%(sec/opt)s` under the name as written while configparser looks it up
    // lower-cased, so only an all-lower-case reference can resolve.
    const ref = key === name ? SECTION_REFERENCE_RE.exec(name) : null
    if (!ref) return undefined
    const sec = ref[1] as string
    const opt = ref[2] as string
    const lower = sec.toLowerCase()
    if (lower === 'known') {
      return this.sections.get(KNOWN_PREFIX + ctx.section)?.get(opt)?.value ?? this.defaults.get(opt)?.value
    }
    if (lower === 'default') return this.defaults.get(opt)?.value
    const target = this.sections.get(sec)
    if (!target) return undefined
    return target.get(opt)?.value ?? this.defaults.get(opt)?.value
  }
}

interface InterpolationContext {
  section: string
  option: string
  own: Section
  vars: Map<string, string>
  file: string | undefined
}
