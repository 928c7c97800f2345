import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { frameBytes } from '../../src/log/record-frame.js'
import { consume, openLog, tempDataDir, text, values } from './log-test-kit.js'

const HOUR = 3600_000
const record = (i: number) => text(`record ${String(i).padStart(4, '0')}`)
const FRAME = frameBytes(null, record(0).value, {})

function clock(start: number) {
  let now = start
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

async function segmentCount(dataDir: string, topic: string): Promise<number> {
  return (await readdir(join(dataDir, 'log', topic, '0'))).filter((n) => n.endsWith('.log')).length
}

test('segments whose newest record is older than retentionMs are deleted, oldest first', async (t) => {
  const dataDir = await tempDataDir(t)
  const time = clock(1_000 * HOUR)
  const { log } = await openLog(t, { dataDir, now: time.now, retentionMs: 24 * HOUR, segmentBytes: 10 * FRAME })
  await log.createTopic('lines', 1)
  for (let i = 0; i < 30; i++) {
    await log.append('lines', [record(i)])
    time.advance(HOUR)
  }
  // Records 0..9 were stamped at hours 1000..1009, 10..19 at 1010..1019; now is 1030, the cutoff 1006.
  await log.enforceRetention()
  assert.deepEqual(await log.startOffsets('lines'), [0])
  time.advance(4 * HOUR) // cutoff 1010: the first segment's newest record (1009) is now too old
  await log.enforceRetention()
  assert.deepEqual(await log.startOffsets('lines'), [10])
  assert.equal(await segmentCount(dataDir, 'lines'), 2)
})

test('reading or subscribing below the log start begins at the log start', async (t) => {
  const dataDir = await tempDataDir(t)
  const time = clock(1_000 * HOUR)
  const { log } = await openLog(t, { dataDir, now: time.now, retentionMs: HOUR, segmentBytes: 5 * FRAME })
  await log.createTopic('lines', 1)
  await log.append('lines', Array.from({ length: 5 }, (_, i) => record(i)))
  await log.commit('late', 'lines', 0, 2)
  time.advance(2 * HOUR)
  await log.append('lines', Array.from({ length: 5 }, (_, i) => record(5 + i)))
  await log.enforceRetention()
  assert.deepEqual(await log.startOffsets('lines'), [5])
  assert.deepEqual(values(await log.read('lines', 0, 0, 2)), ['record 0005', 'record 0006'])
  const batches = await consume(log, { topic: 'lines', group: 'late' }, 5)
  assert.deepEqual(batches.flat().map((r) => r.offset), [5, 6, 7, 8, 9])
})

test('an idle topic whose records have all expired is emptied and keeps numbering from where it was', async (t) => {
  const dataDir = await tempDataDir(t)
  const time = clock(1_000 * HOUR)
  const { log } = await openLog(t, { dataDir, now: time.now, retentionMs: HOUR })
  await log.createTopic('decisions', 1)
  await log.append('decisions', [record(0), record(1), record(2)])
  time.advance(2 * HOUR)
  await log.enforceRetention()
  assert.deepEqual(await log.startOffsets('decisions'), [3])
  assert.deepEqual(await log.endOffsets('decisions'), [3])
  assert.deepEqual(await log.read('decisions', 0, 0, 10), [])
  assert.deepEqual(await log.append('decisions', [record(3)]), [{ partition: 0, offset: 3 }])
  assert.equal(await segmentCount(dataDir, 'decisions'), 1)
})

test('size retention deletes the oldest segments the limit does not need and never the newest', async (t) => {
  const dataDir = await tempDataDir(t)
  const { log } = await openLog(t, { dataDir, retentionBytes: 25 * FRAME, segmentBytes: 10 * FRAME })
  await log.createTopic('lines', 1)
  await log.append('lines', Array.from({ length: 45 }, (_, i) => record(i)))
  // Segments of 10, 10, 10, 10 and 5 records: dropping the first two leaves 25 records, dropping a third would leave 15.
  await log.enforceRetention()
  assert.deepEqual(await log.startOffsets('lines'), [20])
  assert.equal(await segmentCount(dataDir, 'lines'), 3)
  assert.deepEqual(values(await log.read('lines', 0, 0, 1)), ['record 0020'])
})

test('a topic override replaces the log-wide retention', async (t) => {
  const dataDir = await tempDataDir(t)
  const time = clock(1_000 * HOUR)
  const { log } = await openLog(t, { dataDir, now: time.now, retentionMs: HOUR, topics: { decisions: { retentionMs: Infinity } } })
  await log.createTopic('decisions', 1)
  await log.createTopic('lines', 1)
  await log.append('decisions', [record(0)])
  await log.append('lines', [record(0)])
  time.advance(100 * HOUR)
  await log.enforceRetention()
  assert.deepEqual(await log.startOffsets('decisions'), [0])
  assert.deepEqual(await log.startOffsets('lines'), [1])
})

test('a read racing retention returns whole records in order and ends at the newest', async (t) => {
  const dataDir = await tempDataDir(t)
  const { log } = await openLog(t, { dataDir, retentionBytes: 10 * FRAME, segmentBytes: 10 * FRAME })
  await log.createTopic('lines', 1)
  await log.append('lines', Array.from({ length: 30 }, (_, i) => record(i)))
  const [records] = await Promise.all([log.read('lines', 0, 0, 30), log.enforceRetention()])
  // Whether the reader got to a segment before it went is up to I/O timing; what it returns must be right either way.
  assert.deepEqual(values(records), records.map((r) => `record ${String(r.offset).padStart(4, '0')}`))
  assert.ok(records.every((r, i) => i === 0 || r.offset > records[i - 1]!.offset))
  assert.equal(records[records.length - 1]!.offset, 29)
  assert.deepEqual(await log.startOffsets('lines'), [20])
})
