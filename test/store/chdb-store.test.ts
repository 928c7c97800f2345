import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChdbStore } from '../../src/store/chdb-store.js'
import { storeContract } from './store-contract.js'

let dir = ''
let store: ChdbStore | undefined
storeContract('chdb', async () => {
  dir = mkdtempSync(join(tmpdir(), 'banstream-chdb-'))
  store = ChdbStore.open(dir)
  return store
}, async () => {
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})
