/**
 * Embedded log throughput: append and consume rates (records/s, MB/s of
 * record values) under each fsync policy, for single-record and batched
 * appends. Records are mail-log lines spread round-robin over 4 partitions,
 * appended by 4 concurrent producers (so `always` shows its group commit).
 *
 *   npx tsx bench/embedded-log.ts [records per case, default 200000] [seconds cap per case, default 10]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedLog, type FsyncPolicy } from '../src/log/embedded-log.js'
import { generateMailLog } from './mail-log.js'

const RECORDS = Number(process.argv[2] ?? 200_000)
const CAP_MS = Number(process.argv[3] ?? 10) * 1000
const PRODUCERS = 4
const PARTITIONS = 4

const lines = generateMailLog(20_000).split('\n').filter((l) => l.length > 0).map((l) => Buffer.from(l))

interface Row {
  policy: string
  batch: number
  appended: number
  appendRecordsPerSec: number
  appendMBPerSec: number
  consumeRecordsPerSec: number
  consumeMBPerSec: number
}

async function runCase(fsync: FsyncPolicy, batch: number): Promise<Row> {
  const dataDir = await mkdtemp(join(tmpdir(), 'banstream-bench-log-'))
  try {
    const log = await EmbeddedLog.open({ dataDir, fsync })
    await log.createTopic('lines', PARTITIONS)
    let next = 0
    let bytes = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        while (next < RECORDS && performance.now() - started < CAP_MS) {
          const records = []
          for (let i = 0; i < batch && next < RECORDS; i++, next++) {
            const value = lines[next % lines.length]!
            bytes += value.length
            records.push({ key: null, value })
          }
          await log.append('lines', records)
        }
      }),
    )
    const appendMs = performance.now() - started
    const appended = next

    let consumed = 0
    let consumedBytes = 0
    let caughtUp!: () => void
    const done = new Promise<void>((resolve) => (caughtUp = resolve))
    const consumeStarted = performance.now()
    const subscription = log.subscribe({ topic: 'lines', group: 'bench', from: 'earliest' }, async (records) => {
      consumed += records.length
      for (const r of records) consumedBytes += r.value.length
      if (consumed >= appended) caughtUp()
    })
    await done
    const consumeMs = performance.now() - consumeStarted
    await subscription.close()
    await log.close()
    return {
      policy: typeof fsync === 'object' ? `every ${fsync.intervalMs} ms` : fsync,
      batch,
      appended,
      appendRecordsPerSec: Math.round(appended / (appendMs / 1000)),
      appendMBPerSec: +(bytes / 1e6 / (appendMs / 1000)).toFixed(1),
      consumeRecordsPerSec: Math.round(consumed / (consumeMs / 1000)),
      consumeMBPerSec: +(consumedBytes / 1e6 / (consumeMs / 1000)).toFixed(1),
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

const rows: Row[] = []
for (const fsync of ['never', { intervalMs: 1000 }, 'always'] as FsyncPolicy[]) {
  for (const batch of [1, 100]) rows.push(await runCase(fsync, batch))
}
console.table(rows)
