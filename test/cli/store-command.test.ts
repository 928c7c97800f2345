import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { KafkaLog } from '../../src/log/kafka/kafka-log.js'
import { ChdbStore } from '../../src/store/chdb-store.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { startMockCluster } from '../kafka/mock-cluster.js'
import { startClickHouseHttpFront } from '../store/clickhouse-http-front.js'
import { cliCommand, stopChild } from './cli-path.js'

test('banstream store moves the fleet\'s failures from Kafka into a ClickHouse server, inserting once --batch-rows wait', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-store-cli-'))
  const chdb = ChdbStore.open(join(dir, 'clickhouse'))
  const front = await startClickHouseHttpFront(chdb)
  // Queried as an operator would: through the server the store command writes to.
  const server = new ClickHouseStore({ url: front.url })
  const cluster = await startMockCluster(1, { failures: 2, decisions: 2, actuations: 1 })
  const log = new KafkaLog({ brokers: cluster.brokers, idempotent: false, clientLogLevel: 'nothing' })
  // A batch of one row is inserted at once: the 10-minute delay would hold it past the test's deadline.
  const child = spawn(process.execPath, [...cliCommand(), 'store', '--kafka', cluster.brokers.join(','), '--clickhouse', front.url, '--batch-rows', '1', '--batch-delay', '600000'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BANSTREAM_KAFKA_IDEMPOTENT: '0' } })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  t.after(async () => {
    await stopChild(child)
    await log.close()
    await server.close()
    await cluster.stop()
    await front.close()
    await chdb.close()
    await rm(dir, { recursive: true, force: true })
  })
  const failure: FailureDetected = {
    type: 'FailureDetected', event_id: '0b1c9a2e-4a3c-8d7e-9f10-112233445566', jail: 'sshd', ip: '192.0.2.7', host: 'mx1',
    matches: ['Failed password for root from 192.0.2.7'], occurred_at: new Date().toISOString(), source: '/var/log/auth.log', regex_index: 0,
  }
  await log.append('failures', [{ key: Buffer.from(failure.ip), value: Buffer.from(JSON.stringify(failure)) }])
  const deadline = Date.now() + 30_000
  let rows: { ip: string }[] = []
  let lastError = ''
  while (rows.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300))
    try {
      rows = await server.query<{ ip: string }>("SELECT IPv6NumToString(ip) AS ip FROM failures FINAL WHERE jail = 'sshd'")
    } catch (error) {
      lastError = String(error) // the table appears once the store command has migrated
      rows = []
    }
  }
  assert.deepEqual(rows, [{ ip: '::ffff:192.0.2.7' }], `${stderr}\n${lastError}`)
})

test('banstream store refuses a batch size or delay that is no whole number before it connects anywhere', () => {
  const refused = [['--batch-rows', '0'], ['--batch-rows', '1e3'], ['--batch-delay', '-5'], ['--batch-delay', 'soon']] as const
  for (const [flag, value] of refused) {
    const r = spawnSync(process.execPath, [...cliCommand(), 'store', '--kafka', '127.0.0.1:1', '--clickhouse', 'http://127.0.0.1:1', flag, value], { encoding: 'utf8', timeout: 20_000 })
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`)
    assert.ok(r.stderr.includes(`${flag} ${value}: a whole number`), r.stderr)
  }
})
