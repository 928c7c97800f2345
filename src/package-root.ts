import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The directory of banstream's package.json, found upward from this module, so shipped files
 * (config/) resolve the same from src/ under tsx and from dist/src/ after the build.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('banstream: cannot find its package.json')
    dir = parent
  }
  return dir
}

/** The shipped configuration directory (jail.conf, filter.d/, action.d/). */
export function builtinConfigDir(): string {
  return join(packageRoot(), 'config')
}
