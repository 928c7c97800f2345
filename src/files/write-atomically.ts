import { mkdir, open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Replaces a file whole by writing a temporary file beside it, syncing it and
 * renaming it over the old one: a crash leaves the old content or the new,
 * never a torn mix. The text may come in pieces, written as they come.
 */
export async function writeAtomically(path: string, text: string | Iterable<string>): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temporary = `${path}.tmp`
  const handle = await open(temporary, 'w')
  try {
    if (typeof text === 'string') await handle.writeFile(text)
    else for (const piece of text) await handle.write(piece)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, path)
}
