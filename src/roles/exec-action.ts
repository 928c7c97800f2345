import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  BAN_OPERATIONS, execAction, ExecInputError, FAMILY_KEYS, STATIC_OPERATIONS,
  type ExecAction, type FamilyKey, type Operation,
} from '../../sinks/actuators/exec-commands.js'
import { readConfig } from '../config/config-reader.js'
import { ConfigError } from '../config/errors.js'
import { DurationSyntaxError, str2seconds } from '../config/fail2ban-seconds.js'
import { loadJailActions, type JailConfig } from '../config/jail-config.js'
import type { Reference } from '../config/reference.js'
import { substituteRecursiveTags } from '../config/tags.js'

// fail2ban's CommandAction defaults and its values escaped at run time (never filled from the configuration).
const DEFAULT_TIMEOUT = '60'
const ESCAPED_TAGS = ['matches', 'ipmatches', 'ipjailmatches']
// fail2ban's MAX_TAG_REPLACE_COUNT, as replaceTag counts passes over a command.
const MAX_PASSES = 11
const CONDITIONAL_FAMILY = /^\w+\?family=/
const TAG = /<([^ <>]+)>/g
// fail2ban's ADD_REPL_TAGS that are text, not values (the host names are filled per run, quoted).
const TEXT_TAGS: Record<string, string> = { br: '\n', sp: ' ' }
const TRUE = new Set(['1', 'yes', 'true', 'on'])
// fail2ban writes <name> into commands as is (chain, table and file names): a name with shell syntax is refused.
const SAFE_NAME = /^[\p{L}\p{N}_.@+-]+$/u

/** Whether a jail's action can be run by the exec backend: an action.d file (not a Python action) exists for it. */
export function hasActionFile(configDir: string, name: string): boolean {
  if (name.endsWith('.py')) return false
  const base = join(configDir, 'action.d', name)
  return existsSync(`${base}.conf`) || existsSync(`${base}.local`)
}

/**
 * Reads a jail's action.d file as fail2ban's CommandAction runs it: the
 * configuration interpolated with the jail's options and the action's
 * arguments, then each command's configuration tags filled (fail2ban's
 * replaceTag) for each family, leaving the ban's own tags. Throws
 * ExecInputError for a file that cannot be read or a command that cannot run.
 */
export function loadExecAction(configDir: string, jail: JailConfig, ref: Reference): ExecAction {
  try {
    const [resolved] = loadJailActions(configDir, { ...jail, actions: [ref] })
    const file = resolved!.file
    const properties = new Map(Object.entries(resolved!.options))
    for (const name of new Set([jail.name, properties.get('name') ?? jail.name])) {
      if (!SAFE_NAME.test(name)) throw new ExecInputError(`jail ${JSON.stringify(jail.name)}: action ${ref.name}: the name ${JSON.stringify(name)} has characters a shell would read`)
    }
    // fail2ban ignores a `bantime` set on an action: <bantime> is the ban's.
    properties.delete('bantime')
    const timeout_secs = str2seconds(properties.get('timeout') ?? DEFAULT_TIMEOUT)
    properties.set('timeout', String(timeout_secs))
    const conditional = [...properties.keys()].some((name) => CONDITIONAL_FAMILY.test(name))
    const flag = (name: string) => {
      const value = properties.get(name)
      return value === undefined ? undefined : TRUE.has(value.trim().toLowerCase())
    }
    const sources = readConfig(join(configDir, 'action.d', ref.name)).files.map((f) => readFileSync(f, 'utf8'))
    const commands = {} as Record<Operation, Record<FamilyKey, string>>
    for (const op of [...STATIC_OPERATIONS, ...BAN_OPERATIONS]) {
      const byFamily = {} as Record<FamilyKey, string>
      for (const family of FAMILY_KEYS) byFamily[family] = fillConfigTags(properties, op, family, STATIC_OPERATIONS.includes(op as never))
      commands[op] = byFamily
    }
    return execAction({
      jail: jail.name,
      file,
      actname: properties.get('actname') ?? ref.name,
      commands,
      timeout_secs,
      norestored: flag('norestored') ?? false,
      start_on_demand: flag('actionstart_on_demand') ?? conditional,
      repair_on_unban: flag('actionrepair_on_unban') ?? false,
      families: conditional ? ['inet4', 'inet6'] : [''],
      written: (tag) => sources.some((text) => text.includes(`<${tag}>`)),
    })
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DurationSyntaxError) {
      throw new ExecInputError(`jail ${jail.name}: action ${ref.name}: ${error.message}`)
    }
    throw error
  }
}

/**
 * fail2ban's CommandAction.replaceTag of `<op>` with the action's properties:
 * `<tag?family=...>` variants preferred for the family; for commands run
 * without a ban, <family> is the family started (fail2ban's _getOperation).
 */
function fillConfigTags(properties: Map<string, string>, op: Operation, family: FamilyKey, withFamily: boolean): string {
  const tags = substituteRecursiveTags(properties, {
    ...(family ? { conditional: `family=${family}` } : {}),
    ignore: ESCAPED_TAGS,
    ...(withFamily ? { addrepl: (tag: string) => (tag === 'family' ? family : undefined) } : {}),
  })
  const lookup = (tag: string) => (family ? tags.get(`${tag}?family=${family}`) : undefined) ?? tags.get(tag) ?? TEXT_TAGS[tag]
  let query = `<${op}>`
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const value = query.replace(TAG, (whole, tag: string) => {
      // Escaped tags are the ban's, filled later and never from the configuration.
      if (ESCAPED_TAGS.includes(tag)) return whole
      return lookup(tag) ?? whole
    })
    if (value === query || !value.includes('<')) return value === `<${op}>` ? '' : value
    query = value
  }
  throw new ConfigError(`${op}: too many nested tags (a definition that refers to itself?): ${query}`)
}
