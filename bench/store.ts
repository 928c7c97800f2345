/**
 * The history store's write speed (issue 5): generated failures (see generated-failures.ts) into chDB,
 * - store.insertEvents: the events' JSON, then ChdbStore.insertEvents per batch (the store's own rate);
 * - sink: the failures already in the embedded log, read by ClickHouseSink (the events' own JSON to
 *   insertEvents, commit) until its committed offsets reach the end: what `banstream run` keeps up
 *   with, its own log trusted as run trusts it;
 * - sink-checked: the same with every event decoded and validated first, as `banstream store`
 *   reads Kafka (there into a ClickHouse server).
 * Each case runs in its own process on a fresh migrated store, so that none inherits another's heap
 * (the insert cases leave hundreds of MiB) or chDB's background merges.
 *
 *   npx tsx bench/store.ts [failures per case, default 1000000] [rows per batch, default 10000,100000]
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { partitionKey, Topics } from '../schemas/topics.js'
import { ClickHouseSink } from '../sinks/clickhouse/clickhouse-sink.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { ChdbStore } from '../src/store/chdb-store.js'
import { migrateStore } from '../src/store/migrate.js'
import { failureJson, generatedFailures, KEEP_FOREVER } from './generated-failures.js'
import { printMemory } from './report.js'
import { seededRandom } from './seeded-random.js'

const TOTAL = Number(process.argv[2] ?? 1_000_000)
const BATCHES = (process.argv[3] ?? '10000,100000').split(',').map(Number)
/** Set in a child process: the one case it runs. */
const CASE = process.argv[4] as 'insert' | 'sink' | 'sink-checked' | undefined
/** Events generated at a time, so that a case's input never sits in memory whole. */
const CHUNK = 100_000
const PARTITIONS = 4

async function withStore(run: (store: ChdbStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-store-'))
  const store = ChdbStore.open(join(dir, 'clickhouse'))
  try {
    await migrateStore(store, KEEP_FOREVER)
    await run(store, dir)
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const rate = (rows: number, ms: number): string => `${(rows / (ms / 1000) / 1e3).toFixed(0)} k rows/s`

async function storeInsert(batch: number): Promise<void> {
  await withStore(async (store) => {
    const r = seededRandom(7)
    let insertMs = 0
    let buildMs = 0
    for (let n = 0; n < TOTAL; n += batch) {
      const events = generatedFailures(n, Math.min(batch, TOTAL - n), TOTAL, r)
      const b0 = performance.now()
      const json = failureJson(events)
      const i0 = performance.now()
      await store.insertEvents('failures', json)
      insertMs += performance.now() - i0
      buildMs += i0 - b0
    }
    console.log(`  store.insertEvents, ${batch} events per insert: ${rate(TOTAL, insertMs)} in insert, ${rate(TOTAL, insertMs + buildMs)} with their JSON`)
    printMemory('    ')
  })
}

async function sink(batch: number, checked: boolean): Promise<void> {
  await withStore(async (store, dir) => {
    const log = await EmbeddedLog.open({ dataDir: join(dir, 'log'), fsync: 'never' })
    try {
      await log.createTopic(Topics.failures.name, PARTITIONS)
      for (const topic of [Topics.decisions.name, Topics.actuations.name]) await log.createTopic(topic, 1)
      const r = seededRandom(7)
      for (let n = 0; n < TOTAL; n += CHUNK) {
        const events = generatedFailures(n, Math.min(CHUNK, TOTAL - n), TOTAL, r)
        await log.append(Topics.failures.name, events.map((f) => ({ key: Buffer.from(partitionKey(f.ip)), value: Buffer.from(JSON.stringify(f)) })))
      }
      const ends = await log.endOffsets(Topics.failures.name)
      const group = `store-${Topics.failures.name}`
      const t0 = performance.now()
      const cpu0 = process.cpuUsage()
      const running = ClickHouseSink.start({ log, store, max_batch_rows: batch, max_batch_delay_ms: 200, trusted: !checked })
      for (;;) {
        const committed = await Promise.all(ends.map((_, p) => log.committed(group, Topics.failures.name, p)))
        if (ends.every((end, p) => end === 0 || committed[p] === end)) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const ms = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      await running.close()
      // CPU time beside the rate: the sink and chDB's threads share the machine's cores, and the rate moves with what else runs.
      console.log(`  sink (log → ClickHouseSink → chDB)${checked ? ', every event checked' : ', its own log trusted'}, max_batch_rows ${batch}: ${rate(TOTAL, ms)} (${(ms / 1000).toFixed(1)} s, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU)`)
      printMemory('    ')
    } finally {
      await log.close()
    }
  })
}

if (CASE === 'insert') await storeInsert(BATCHES[0]!)
else if (CASE === 'sink' || CASE === 'sink-checked') await sink(BATCHES[0]!, CASE === 'sink-checked')
else {
  console.log(`store: ${TOTAL} generated failures per case into chDB`)
  for (const kind of ['insert', 'sink', 'sink-checked']) {
    for (const batch of BATCHES) {
      const args = [...process.execArgv, fileURLToPath(import.meta.url), String(TOTAL), String(batch), kind]
      if (spawnSync(process.execPath, args, { stdio: 'inherit' }).status !== 0) process.exitCode = 1
    }
  }
}
