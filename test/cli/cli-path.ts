import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** node's arguments that run the banstream CLI: the build when tests run from dist/, the source through tsx otherwise. */
export function cliCommand(): string[] {
  const here = dirname(fileURLToPath(import.meta.url))
  const built = join(here, '..', '..', 'src', 'cli', 'main.js')
  return existsSync(built) ? [built] : ['--import', 'tsx', join(here, '..', '..', 'src', 'cli', 'main.ts')]
}
