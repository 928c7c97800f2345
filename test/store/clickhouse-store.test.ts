import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChdbStore } from '../../src/store/chdb-store.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { startClickHouseHttpFront, type ClickHouseHttpFront } from './clickhouse-http-front.js'
import { storeContract } from './store-contract.js'

let dir = ''
let engine: ChdbStore | undefined
let front: ClickHouseHttpFront | undefined
let store: ClickHouseStore | undefined
storeContract('@clickhouse/client through the HTTP front over chDB', async () => {
  dir = mkdtempSync(join(tmpdir(), 'banstream-chfront-'))
  engine = ChdbStore.open(dir)
  await engine.command('CREATE DATABASE IF NOT EXISTS history')
  front = await startClickHouseHttpFront(engine)
  store = new ClickHouseStore({ url: front.url, database: 'history' })
  return store
}, async () => {
  await store?.close()
  await front?.close()
  await engine?.close()
  rmSync(dir, { recursive: true, force: true })
})
