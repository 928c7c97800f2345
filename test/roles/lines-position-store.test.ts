import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lineBatchRecord } from '../../src/log/line-batch-record.js'
import { JsonFilePositionStore } from '../../src/sources/position-store.js'
import type { LineBatch } from '../../src/sources/source.js'
import { LinesPositionStore } from '../../src/roles/lines-position-store.js'
import { openLog, tempDataDir } from '../log/log-test-kit.js'

const keyOf = (stream: string) => `file:${stream}`
const batch = (offset: number): LineBatch => ({
  stream: '/var/log/auth.log', host: 'mail1', lines: [Buffer.from(`line ending at ${offset}`)],
  position: { path: '/var/log/auth.log', dev: '1', ino: '2', offset }, received_at: offset,
})

test('a batch appended but not checkpointed before a crash is not read again: its position is taken from lines', async (t) => {
  const dir = await tempDataDir(t)
  const positionsFile = join(dir, 'positions.json')
  {
    const { log } = await openLog(t, { dataDir: join(dir, 'log1') })
    await log.createTopic('lines', 1)
    const store = await LinesPositionStore.open(positionsFile, log, keyOf)
    for (const offset of [100, 200]) {
      const b = batch(offset)
      const [where] = await log.append('lines', [lineBatchRecord(b)])
      store.noteAppended(b, where!.partition, where!.offset)
      await store.save('file:/var/log/auth.log', b.position)
    }
    await store.flush()
    // The crash: appended, never saved.
    await log.append('lines', [lineBatchRecord(batch(300))])
    await log.close()
  }
  const { log } = await openLog(t, { dataDir: join(dir, 'log1') })
  const store = await LinesPositionStore.open(positionsFile, log, keyOf)
  assert.deepEqual(await store.load('file:/var/log/auth.log'), batch(300).position)
  // What open recovered is saved: a second crash right away keeps it.
  assert.deepEqual(await new JsonFilePositionStore(positionsFile).load('file:/var/log/auth.log'), batch(300).position)
})

const oldLog = (offset: number): LineBatch => ({ ...batch(offset), stream: '/var/log/old.log', position: { path: '/var/log/old.log', dev: '1', ino: '3', offset } })

test('without saved positions the whole topic is read back; later, records after the last save win over saved positions', async (t) => {
  const dir = await tempDataDir(t)
  const positionsFile = join(dir, 'positions.json')
  const { log } = await openLog(t, { dataDir: join(dir, 'log') })
  await log.createTopic('lines', 1)
  await log.append('lines', [lineBatchRecord(oldLog(50))])
  const store = await LinesPositionStore.open(positionsFile, log, keyOf)
  assert.deepEqual(await store.load('file:/var/log/old.log'), oldLog(50).position)
  const b = batch(100)
  const [where] = await log.append('lines', [lineBatchRecord(b)])
  store.noteAppended(b, where!.partition, where!.offset)
  await store.save('file:/var/log/auth.log', b.position)
  await store.flush()
  await log.append('lines', [lineBatchRecord(oldLog(60))])
  const reopened = await LinesPositionStore.open(positionsFile, log, keyOf)
  assert.deepEqual(await reopened.load('file:/var/log/old.log'), oldLog(60).position)
  assert.deepEqual(await reopened.load('file:/var/log/auth.log'), b.position)
})

test('a save does not wait for the disk; flush does, and a write that fails is reported', async (t) => {
  const dir = await tempDataDir(t)
  const { log } = await openLog(t, { dataDir: join(dir, 'log') })
  await log.createTopic('lines', 1)
  const errors: Error[] = []
  const file = join(dir, 'positions', 'positions.json')
  const store = await LinesPositionStore.open(file, log, keyOf, (error) => errors.push(error))
  const b = batch(100)
  const [where] = await log.append('lines', [lineBatchRecord(b)])
  store.noteAppended(b, where!.partition, where!.offset)
  await store.save('file:/var/log/auth.log', b.position)
  await store.flush()
  assert.deepEqual(await new JsonFilePositionStore(file).load('file:/var/log/auth.log'), b.position)
  assert.deepEqual(errors, [])

  // The directory gives way to a file: the next write cannot be made.
  await rm(join(dir, 'positions'), { recursive: true })
  await writeFile(join(dir, 'positions'), '')
  await store.save('file:/var/log/auth.log', batch(200).position)
  await store.flush()
  assert.equal(errors.length, 1)
})
