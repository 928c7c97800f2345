import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { builtinConfigDir } from '../src/package-root.js'

/** The jails the pipeline benchmark turns on: the shipped defaults (sshd, postfix, dovecot), all reading one file. */
export const BENCH_JAILS = ['sshd', 'postfix', 'dovecot'] as const

/**
 * A configuration directory that is the shipped one (linked, not copied) plus a jail.local pointing
 * the default jails at `logPath`, read from its head: what an operator gets from `banstream run`
 * with their mail log in one file.
 */
export async function benchConfigDir(dir: string, logPath: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  const shipped = builtinConfigDir()
  for (const entry of await readdir(shipped)) {
    if (entry === 'jail.local') continue
    await symlink(join(shipped, entry), join(dir, entry))
  }
  const sections = BENCH_JAILS.map((jail) => `[${jail}]\nenabled = true\nbackend = auto\nlogpath = ${logPath} head\n`)
  await writeFile(join(dir, 'jail.local'), sections.join('\n'))
  return dir
}
