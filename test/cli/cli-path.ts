import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** node's arguments that run the banstream CLI: the build when tests run from dist/, the source through tsx otherwise. */
export function cliCommand(): string[] {
  const here = dirname(fileURLToPath(import.meta.url))
  const built = join(here, '..', '..', 'src', 'cli', 'main.js')
  return existsSync(built) ? [built] : ['--import', 'tsx', join(here, '..', '..', 'src', 'cli', 'main.ts')]
}

/** Stops a CLI child as an operator would (SIGTERM), SIGKILL if it has not exited 10 s later; waits for its exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const killed = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(killed)
}
