import { open, readFile, unlink } from 'node:fs/promises'
import { LogError } from './log-error.js'

/**
 * Keeps a second process (or a second log in this one) from opening the same
 * log: two writers would interleave frames. The lock file holds the owner's
 * pid; a lock whose owner is gone (a crash, a SIGKILL) is taken over.
 * Known debt: a recycled pid of an unrelated live process reads as a live
 * owner, and the operator has to remove the file.
 */
export async function lockDataDir(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => unlink(path).catch(() => undefined)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim())
    if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new LogError('BANSTREAM_ERR_LOG_LOCKED', `${path} is held by ${owner === process.pid ? 'this process' : `process ${owner}`}; one log per data dir`)
    }
    await unlink(path).catch(() => undefined)
  }
  throw new LogError('BANSTREAM_ERR_LOG_LOCKED', `could not take ${path}: another process keeps taking it`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
