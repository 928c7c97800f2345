import { join, resolve } from 'node:path'
import { readConfig } from './config-reader.js'
import { DefinitionReader, withoutKnown } from './definition-reader.js'
import { ConfigError } from './errors.js'

/** An action as fail2ban hands it to a jail: actionstart/actionban/... with configuration
 *  tags substituted and run-time tags (<ip>, <F-USER>, <bantime>, <matches>, options that
 *  have `name?family=inet6` variants ...) kept, plus the [Init] options and arguments as
 *  fail2ban passes them (interpolated, tags left for the run-time substitution). */
export interface ResolvedAction { name: string; file: string; options: Record<string, string> }

/** The [Definition] options fail2ban's ActionReader reads. */
export const ACTION_OPTIONS = [
  'actionstart', 'actionstart_on_demand', 'actionstop', 'actionflush', 'actionreload', 'actioncheck',
  'actionrepair', 'actionrepair_on_unban', 'actionban', 'actionprolong', 'actionreban', 'actionunban', 'norestored',
] as const

// Tags fail2ban fills in per ban, never from the configuration (CommandAction._escapedTags,
// plus timeout and bantime).
const RUN_TIME_TAGS = ['matches', 'ipmatches', 'ipjailmatches', 'timeout', 'bantime']

/** How a jail refers to the action: fail2ban names the action after the jail unless the
 *  arguments give `name`, and interpolates with the jail's options. */
export interface ActionJailContext { jailName: string; jailOptions: Map<string, string> }

export function loadAction(actionDir: string, name: string, args: Record<string, string> = {}, jail?: ActionJailContext): ResolvedAction {
  if (name.endsWith('.py')) {
    throw new ConfigError(`python actions are not supported: ${name}`, join(actionDir, name))
  }
  const initOpts = new Map(Object.entries(args))
  if (jail) {
    let actionName = initOpts.get('name')
    if (actionName === undefined) {
      actionName = jail.jailName
      initOpts.set('name', actionName)
    }
    if (initOpts.get('actname') === undefined) {
      // One action file used twice in a jail gets distinct names from their `name` argument.
      let actname = name
      if (actionName !== jail.jailName) {
        actname += actionName.startsWith(jail.jailName) ? actionName.slice(jail.jailName.length) : `-${actionName}`
      }
      initOpts.set('actname', actname)
    }
  }
  const read = readConfig(join(actionDir, name))
  const file = resolve(read.sources.find((f) => f.endsWith('.conf')) ?? read.sources[0] ?? name)
  const reader = new DefinitionReader(read.store, file, ACTION_OPTIONS, initOpts)
  reader.getOptions(jail?.jailOptions)
  const combined = reader.getCombined(RUN_TIME_TAGS)
  const isCommand = (option: string) => (ACTION_OPTIONS as readonly string[]).includes(option)
  const options = {
    ...withoutKnown(new Map([...combined].filter(([option]) => isCommand(option)))),
    ...withoutKnown(new Map([...reader.initOpts].filter(([option]) => !isCommand(option)))),
  }
  return { name, file, options }
}
