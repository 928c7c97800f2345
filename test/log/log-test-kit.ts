import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { EmbeddedLog, type EmbeddedLogOptions } from '../../src/log/embedded-log.js'
import type { Log, LogProblem, LogRecord, SubscribeOptions } from '../../src/log/log.js'

/** What must be closed before a test's temp dirs go: after-hooks run in registration order, dirs are made first. */
const closers = new WeakMap<TestContext, (() => Promise<void>)[]>()

/** Closes `close` after the test, before its temp dirs are removed. */
export function closeAfter(t: TestContext, close: () => Promise<void>): void {
  const list = closers.get(t)
  if (list) list.push(close)
  else t.after(close)
}

/** A fresh data dir, removed after the test once what uses it is closed. */
export async function tempDataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-log-'))
  if (!closers.has(t)) closers.set(t, [])
  t.after(async () => {
    // The last opened is closed first: a worker before the log it reads.
    for (const close of closers.get(t)?.splice(0).reverse() ?? []) await close()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })
  return dir
}

/** Opens an embedded log that records its problems instead of printing them; closed after the test. */
export async function openLog(t: TestContext, options: Partial<EmbeddedLogOptions> & { dataDir: string }): Promise<{ log: EmbeddedLog; problems: LogProblem[] }> {
  const problems: LogProblem[] = []
  const log = await EmbeddedLog.open({ fsync: 'never', report: (p) => problems.push(p), ...options })
  closeAfter(t, () => log.close())
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
