import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { offsetsForTime } from '../../src/log/offsets-for-time.js'

async function openLog(t: { after: (fn: () => Promise<void> | void) => void }): Promise<EmbeddedLog> {
  const dataDir = mkdtempSync(join(tmpdir(), 'banstream-offsets-for-time-'))
  const log = await EmbeddedLog.open({ dataDir, fsync: 'never', retentionMs: Infinity, report: () => undefined })
  t.after(async () => {
    await log.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  await log.createTopic('lines', 2)
  return log
}

test('finds the first record stamped at or after the time, the end past the last, the start before the first', async (t) => {
  const log = await openLog(t)
  const keyA = Buffer.from('a')
  const pa = (await log.append('lines', [{ key: keyA, value: Buffer.from('probe'), timestamp: 0 }]))[0]!.partition
  const stamps = [1000, 2000, 2000, 3000, 5000, 8000, 13000]
  for (const timestamp of stamps) await log.append('lines', [{ key: keyA, value: Buffer.from(String(timestamp)), timestamp }])
  const offsets = async (ms: number) => (await offsetsForTime(log, 'lines', ms))[pa]
  assert.equal(await offsets(-1), 0)
  assert.equal(await offsets(1), 1)
  assert.equal(await offsets(2000), 2)
  assert.equal(await offsets(2500), 4)
  assert.equal(await offsets(8000), 6)
  assert.equal(await offsets(13001), 8)
})

test('an empty partition answers its end', async (t) => {
  const log = await openLog(t)
  assert.deepEqual(await offsetsForTime(log, 'lines', 1000), [0, 0])
})
