import { join } from 'node:path'
import { loadAction, type ResolvedAction } from './action-config.js'
import { readConfig } from './config-reader.js'
import type { ConfigStore } from './config-store.js'
import { ConfigError } from './errors.js'
import { FILTER_OPTIONS, FilterReader, isFilterPath, type ResolvedFilter } from './filter-config.js'
import { parseReference, parseReferenceList } from './reference.js'

export interface JailConfig {
  name: string
  enabled: boolean
  /** Every option of the jail section and DEFAULT, interpolated (`%(known/...)s` included). */
  options: Record<string, string>
  filter?: { name: string; args: Record<string, string> }
  actions: { name: string; args: Record<string, string> }[]
  /** One entry per non-empty line of logpath: a glob, optionally followed by ` head`/` tail`. */
  logpath: string[]
}

/** The fail2ban version configuration files may refer to as %(fail2ban_version)s (it ends
 *  up in e.g. the user agent of reporting actions); the release whose files we read. */
export const FAIL2BAN_VERSION = '1.1.0'

/** The jail options fail2ban's JailReader reads; only these reach filters and actions as
 *  interpolation vars. */
export const JAIL_OPTIONS: readonly string[] = [
  'enabled', 'backend', 'maxretry', 'maxmatches', 'findtime', 'bantime', 'bantime.increment', 'bantime.factor',
  'bantime.formula', 'bantime.multipliers', 'bantime.maxtime', 'bantime.rndtime', 'bantime.overalljails',
  'ignorecommand', 'ignoreself', 'ignoreip', 'ignorecache', 'filter', 'logtimezone', 'logencoding', 'logpath',
  'skip_if_nologs', 'systemd_if_nologs', 'action', ...FILTER_OPTIONS,
]
// What fail2ban reads before the filter, to know whether and which filter to read.
const FIRST_PASS_OPTIONS = ['enabled', 'backend', 'filter']
const FIRST_PASS_DEFAULTS: Record<string, string> = { backend: 'auto', filter: '' }
const INCLUDES = 'INCLUDES'
const KNOWN = 'known/'
const TRUE = new Set(['1', 'yes', 'true', 'on'])
const FALSE = new Set(['0', 'no', 'false', 'off'])

/** Reads configDir/jail.conf, jail.d/*.conf, jail.local, jail.d/*.local (fail2ban's order)
 *  and returns every jail, enabled or not, in the order first defined. For an enabled jail
 *  the filter is read first so that the jail can use `%(known/<filter option>)s`, as
 *  fail2ban does; a disabled jail is not checked further, as fail2ban does not read it. */
export function loadJails(configDir: string, opts: JailReadOptions = {}): JailConfig[] {
  const { store, files } = readConfig(join(configDir, 'jail'))
  store.mergeDefaults({ fail2ban_version: FAIL2BAN_VERSION, fail2ban_confpath: configDir }, files[0] ?? configDir)
  return store.sectionNames()
    .filter((name) => name !== INCLUDES)
    .map((name) => readJail(store, configDir, name, opts))
}

export interface JailReadOptions {
  /**
   * Filters only by name, from filter.d: for a configuration a client sends (replay's candidate),
   * where a path would have this process read any file, and a parse error quote its lines.
   */
  readonly filtersByName?: boolean
}

/** The jail's filter as fail2ban runs it: read with the jail's options (logtype from the
 *  backend), and the jail's own failregex / ignoreregex / prefregex / datepattern / maxlines
 *  / journalmatch in place of the filter's. `filterDir` reads the filter from another tree. */
export function loadJailFilter(configDir: string, jail: JailConfig, filterDir = join(configDir, 'filter.d')): ResolvedFilter | undefined {
  if (!jail.filter) return undefined
  const reader = FilterReader.open(filterDir, jail.filter.name, jail.filter.args, jail.options['backend'] ?? 'auto')
  reader.knownOptions(pick(jail.options, FIRST_PASS_OPTIONS))
  const jailOptions = pick(jail.options, JAIL_OPTIONS)
  const filter = reader.resolve(jailOptions)
  for (const name of FILTER_OPTIONS) {
    const value = jailOptions.get(name)
    if (value === undefined) continue
    filter.options[name] = value
    if (name === 'failregex' || name === 'ignoreregex') filter[name] = value.split('\n').filter((l) => l !== '')
    else if (name === 'maxlines') filter.maxlines = Number(value)
    else if (name !== 'usedns') {
      if (value) filter[name] = value
      else delete filter[name]
    }
  }
  return filter
}

/** The jail's actions as fail2ban runs them (named after the jail, interpolated with the
 *  jail's options). */
export function loadJailActions(configDir: string, jail: JailConfig): ResolvedAction[] {
  const jailOptions = pick(jail.options, JAIL_OPTIONS)
  return jail.actions.map((ref) =>
    loadAction(join(configDir, 'action.d'), ref.name, ref.args, { jailName: jail.name, jailOptions }))
}

function readJail(store: ConfigStore, configDir: string, name: string, opts: JailReadOptions): JailConfig {
  const first = new Map<string, string>()
  for (const option of FIRST_PASS_OPTIONS) {
    first.set(option, store.get(name, option) ?? FIRST_PASS_DEFAULTS[option] ?? '')
  }
  const enabled = parseBoolean(first.get('enabled') || 'false', store.fileOf(name, 'enabled'))
  const filterValue = first.get('filter') ?? ''
  const filter = filterValue ? parseReference(filterValue) : undefined
  if (enabled && filter) {
    if (opts.filtersByName && isFilterPath(filter.name)) {
      throw new ConfigError(`jail '${name}': its filter must name a filter of filter.d, not a file`, store.fileOf(name, 'filter'), 'filter')
    }
    const reader = FilterReader.open(join(configDir, 'filter.d'), filter.name, filter.args, first.get('backend'))
    store.mergeSection(name, reader.knownOptions(first), KNOWN, store.fileOf(name, 'filter') ?? configDir)
  }
  const options: Record<string, string> = {}
  for (const option of store.options(name)) {
    if (option.startsWith(KNOWN)) continue
    try {
      const value = store.get(name, option)
      if (value !== undefined) options[option] = value
    } catch (err) {
      // fail2ban never evaluates options it does not read (e.g. an action_* variant that
      // refers to %(logpath)s in a jail without one), so only those may fail quietly.
      if (!(err instanceof ConfigError) || JAIL_OPTIONS.includes(option)) throw withJail(err, name)
    }
  }
  return {
    name,
    enabled,
    options,
    ...(filter ? { filter } : {}),
    actions: parseReferenceList(options['action'] ?? ''),
    logpath: (options['logpath'] ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== ''),
  }
}

function parseBoolean(value: string, file: string | undefined): boolean {
  const lower = value.toLowerCase()
  if (TRUE.has(lower)) return true
  if (FALSE.has(lower)) return false
  throw new ConfigError(`enabled must be one of true/false/yes/no/on/off/1/0, got ${JSON.stringify(value)}`, file, 'enabled')
}

function pick(options: Record<string, string>, names: readonly string[]): Map<string, string> {
  return new Map(names.filter((n) => options[n] !== undefined).map((n) => [n, options[n] as string]))
}

function withJail(err: unknown, jail: string): unknown {
  if (err instanceof ConfigError) return new ConfigError(`jail [${jail}]: ${err.message}`, undefined, err.option)
  return err
}
