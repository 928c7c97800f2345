import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** A file of test/sources/fixtures, found from here under tsx and from dist/test/sources after the build. */
export function fixturePath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the package root')
    dir = parent
  }
  return join(dir, 'test', 'sources', 'fixtures', name)
}
