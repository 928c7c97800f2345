import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { loadFilter, type ResolvedFilter } from '../config/filter-config.js'

/**
 * Turns fail2ban-regex's FILTER argument into a filter: a built-in filter name (optionally with
 * arguments, `sshd[mode=aggressive]` is not needed: use --opt), a path to a fail2ban filter file whose
 * includes resolve beside it, or else an inline failregex.
 */
export function resolveFilterArgument(arg: string, builtinFilterDir: string, args: Record<string, string>): ResolvedFilter {
  if (/^[\w.-]+$/.test(arg) && existsSync(join(builtinFilterDir, `${arg}.conf`))) {
    return loadFilter(builtinFilterDir, arg, args)
  }
  if (existsSync(arg) && statSync(arg).isFile()) {
    const path = resolve(arg)
    return loadFilter(dirname(path), path, args)
  }
  return {
    name: 'inline', file: '<inline regex>', failregex: [arg], ignoreregex: [], maxlines: 1,
    options: { ...args },
  }
}
