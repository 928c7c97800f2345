import { mkdir, open, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { utf8BytesAtMost } from './utf8-bound.js'

/** Bytes of pieces gathered before one write. */
const WRITE_BUFFER_BYTES = 1 << 20

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
    else await writePieces(handle, text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, path)
}

/**
 * Copies small pieces into one buffer and writes it when full (writeFile on a handle writes on from
 * where the last write ended, short writes included). Handing each piece to write() makes
 * V8 flatten it into a string that lives until the write is done; a save of a million windows then
 * left hundreds of megabytes of such strings to the next full collection, and the heap grew by as much.
 */
async function writePieces(handle: FileHandle, pieces: Iterable<string>): Promise<void> {
  const buffer = Buffer.allocUnsafeSlow(WRITE_BUFFER_BYTES)
  let used = 0
  for (const piece of pieces) {
    const most = utf8BytesAtMost(piece)
    if (used + most > buffer.length && used > 0) {
      await handle.writeFile(buffer.subarray(0, used))
      used = 0
    }
    if (most > buffer.length) await handle.writeFile(piece)
    else used += buffer.write(piece, used)
  }
  if (used > 0) await handle.writeFile(buffer.subarray(0, used))
}
