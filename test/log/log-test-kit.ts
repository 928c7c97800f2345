import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { EmbeddedLog, type EmbeddedLogOptions } from '../../src/log/embedded-log.js'
import type { Log, LogProblem, LogRecord, SubscribeOptions } from '../../src/log/log.js'

/** A fresh data dir, removed after the test. */
export async function tempDataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-log-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Opens an embedded log that records its problems instead of printing them; closed after the test. */
export async function openLog(t: TestContext, options: Partial<EmbeddedLogOptions> & { dataDir: string }): Promise<{ log: EmbeddedLog; problems: LogProblem[] }> {
  const problems: LogProblem[] = []
  const log = await EmbeddedLog.open({ fsync: 'never', report: (p) => problems.push(p), ...options })
  t.after(() => log.close())
  return { log, problems }
}

export function values(records: LogRecord[]): string[] {
  return records.map((r) => r.value.toString())
}

export function text(value: string, key: string | null = null): { key: Buffer | null; value: Buffer } {
  return { key: key === null ? null : Buffer.from(key), value: Buffer.from(value) }
}

/** Subscribes until `count` records have arrived, then closes the subscription and returns the batches. */
export async function consume(log: Log, opts: SubscribeOptions, count: number): Promise<LogRecord[][]> {
  const batches: LogRecord[][] = []
  let seen = 0
  let reached!: () => void
  const enough = new Promise<void>((resolve) => (reached = resolve))
  const subscription = log.subscribe(opts, async (batch) => {
    batches.push(batch)
    seen += batch.length
    if (seen >= count) reached()
  })
  await enough
  await subscription.close()
  return batches
}
