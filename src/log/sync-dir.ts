import { open } from 'node:fs/promises'

/** Makes a directory's entries durable (a new or renamed file survives a power loss only once its directory is synced). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
