import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { builtinConfigDir } from '../src/package-root.js'

/**
 * A configuration directory that is the shipped one (linked, not copied) plus a jail.local turning
 * `jails` on, every one reading `logPath` (as file backends, dates in UTC): the replay benchmark's
 * "all built-in jails on one log".
 */
export async function benchConfigDirFor(dir: string, logPath: string, jails: readonly string[]): Promise<string> {
  await mkdir(dir, { recursive: true })
  const shipped = builtinConfigDir()
  for (const entry of await readdir(shipped)) {
    if (entry === 'jail.local') continue
    await symlink(join(shipped, entry), join(dir, entry))
  }
  const sections = jails.map((jail) => `[${jail}]\nenabled = true\nbackend = auto\nlogtimezone = UTC\nlogpath = ${logPath}\n`)
  await writeFile(join(dir, 'jail.local'), sections.join('\n'))
  return dir
}
