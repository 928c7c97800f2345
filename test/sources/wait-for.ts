import { setTimeout as delay } from 'node:timers/promises'
import type { LineBatch } from '../../src/sources/source.js'

/** Resolves once `condition` holds; rejects after `timeout_ms` so a broken source fails instead of hanging. */
export async function waitFor(condition: () => boolean, what: string, timeout_ms = 5000): Promise<void> {
  const deadline = Date.now() + timeout_ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(10)
  }
}

/** An emit that keeps every batch, and the lines so far as strings. */
export function collector(): { batches: LineBatch[]; emit: (batch: LineBatch) => Promise<void>; lines: () => string[] } {
  const batches: LineBatch[] = []
  return {
    batches,
    emit: async (batch) => {
      batches.push(batch)
    },
    lines: () => batches.flatMap((batch) => batch.lines.map((line) => line.toString('utf8'))),
  }
}
