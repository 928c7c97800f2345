import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdir, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EmbeddedLog, type EmbeddedLogOptions } from '../../src/log/embedded-log.js'
import { frameBytes } from '../../src/log/record-frame.js'
import { consume, openLog, tempDataDir, text, values } from './log-test-kit.js'

/** Records of one size, so the n-th frame of a segment sits at n * FRAME. */
const record = (i: number) => text(`record ${String(i).padStart(4, '0')}`)
const FRAME = frameBytes(null, record(0).value, {})

async function writeRecords(options: Omit<EmbeddedLogOptions, 'fsync'>, count: number): Promise<void> {
  const log = await EmbeddedLog.open({ ...options, fsync: 'never' })
  await log.createTopic('lines', 1)
  await log.append('lines', Array.from({ length: count }, (_, i) => record(i)))
  await log.close()
}

async function segmentFiles(dataDir: string, ext: string): Promise<string[]> {
  const dir = join(dataDir, 'log', 'lines', '0')
  return (await readdir(dir)).filter((n) => n.endsWith(ext)).sort().map((n) => join(dir, n))
}

async function flipByte(path: string, position: number): Promise<void> {
  const handle = await open(path, 'r+')
  const byte = Buffer.alloc(1)
  await handle.read(byte, 0, 1, position)
  byte[0]! ^= 0xff
  await handle.write(byte, 0, 1, position)
  await handle.close()
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `record ${String(from + i).padStart(4, '0')}`)

test('garbage after the last record is cut off on open and appends continue behind the last record', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeRecords({ dataDir }, 10)
  const [segment] = await segmentFiles(dataDir, '.log')
  await appendFile(segment!, Buffer.from('\x00\x00\x01\x00garbage of a torn write'))
  const { log, problems } = await openLog(t, { dataDir })
  assert.deepEqual(problems.map((p) => p.kind), ['torn-tail'])
  assert.equal((await stat(segment!)).size, 10 * FRAME)
  assert.deepEqual(await log.append('lines', [text('after')]), [{ partition: 0, offset: 10 }])
  assert.deepEqual(values(await log.read('lines', 0, 0, 100)), [...range(0, 10), 'after'])
})

test('a last record cut short is dropped and its offset is given to the next append', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeRecords({ dataDir }, 10)
  const [segment] = await segmentFiles(dataDir, '.log')
  await truncate(segment!, 10 * FRAME - 3)
  const { log, problems } = await openLog(t, { dataDir })
  assert.deepEqual(problems.map((p) => p.kind), ['torn-tail'])
  assert.deepEqual(await log.endOffsets('lines'), [9])
  assert.deepEqual(values(await log.read('lines', 0, 0, 100)), range(0, 9))
  assert.deepEqual(await log.append('lines', [text('after')]), [{ partition: 0, offset: 9 }])
})

test('a damaged record in the middle is reported, skipped, and keeps no one from the records after it', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeRecords({ dataDir }, 10)
  const [segment] = await segmentFiles(dataDir, '.log')
  await flipByte(segment!, 4 * FRAME + FRAME - 3)
  const { log, problems } = await openLog(t, { dataDir })
  assert.deepEqual(problems.map((p) => [p.kind, p.position]), [['corrupt-record', 4 * FRAME]])
  assert.match(problems[0]!.reason, /CRC mismatch/)
  const read = await log.read('lines', 0, 0, 100)
  assert.deepEqual(read.map((r) => r.offset), [0, 1, 2, 3, 5, 6, 7, 8, 9])
  const delivered = (await consume(log, { topic: 'lines', group: 'match' }, 9)).flat()
  assert.deepEqual(delivered.map((r) => r.offset), [0, 1, 2, 3, 5, 6, 7, 8, 9])
  assert.equal(await log.committed('match', 'lines', 0), 10)
  assert.deepEqual(await log.append('lines', [text('after')]), [{ partition: 0, offset: 10 }])
})

test('damage in an older segment is found on read, reported once, and skipped', async (t) => {
  const dataDir = await tempDataDir(t)
  const options = { dataDir, segmentBytes: 10 * FRAME, indexIntervalBytes: 3 * FRAME }
  await writeRecords(options, 30)
  const [first] = await segmentFiles(dataDir, '.log')
  await flipByte(first!, 7 * FRAME + 12)
  const { log, problems } = await openLog(t, options)
  assert.equal(problems.length, 0)
  assert.deepEqual(values(await log.read('lines', 0, 6, 3)), [...range(6, 7), ...range(8, 10)])
  assert.deepEqual(values(await log.read('lines', 0, 7, 2)), range(8, 10))
  assert.deepEqual(problems.map((p) => [p.kind, p.file, p.position]), [['corrupt-record', first, 7 * FRAME]])
})

test('an index that does not match its segment is rebuilt and reads stay correct', async (t) => {
  const dataDir = await tempDataDir(t)
  const options = { dataDir, segmentBytes: 20 * FRAME, indexIntervalBytes: 2 * FRAME }
  await writeRecords(options, 60)
  const indexes = await segmentFiles(dataDir, '.index')
  // Entries that each point one record too far: still ordered, so only reading against the log exposes them.
  const wrong = Buffer.alloc(16 * 4)
  for (let i = 0; i < 4; i++) {
    wrong.writeUInt32BE(2 * i + 2, 16 * i)
    wrong.writeUInt32BE((2 * i + 1) * FRAME, 16 * i + 4)
  }
  await writeFile(indexes[0]!, wrong)
  await writeFile(indexes[1]!, Buffer.from('not an index at all, not even whole entries'))
  const { log, problems } = await openLog(t, options)
  assert.deepEqual(values(await log.read('lines', 0, 5, 3)), range(5, 8))
  assert.deepEqual(values(await log.read('lines', 0, 25, 3)), range(25, 28))
  assert.deepEqual(values(await log.read('lines', 0, 0, 100)), range(0, 60))
  assert.ok(problems.length > 0 && problems.every((p) => p.kind === 'rebuilt-index'))
})

test('an unreadable segment file is reported and skipped, and its offsets are never reused', async (t) => {
  const dataDir = await tempDataDir(t)
  const options = { dataDir, segmentBytes: 10 * FRAME }
  await writeRecords(options, 30)
  const [, middle, last] = await segmentFiles(dataDir, '.log')
  for (const path of [middle!, last!]) {
    await rm(path)
    await mkdir(path)
  }
  const { log, problems } = await openLog(t, options)
  assert.deepEqual(problems.map((p) => [p.kind, p.file]), [['unreadable-segment', middle], ['unreadable-segment', last]])
  assert.deepEqual(values(await log.read('lines', 0, 0, 100)), range(0, 10))
  const [placed] = await log.append('lines', [text('after')])
  assert.ok(placed!.offset > 20)
  assert.deepEqual(values(await log.read('lines', 0, 0, 100)), [...range(0, 10), 'after'])
})

test('a committed offset past the end is reported and the subscriber continues from the end', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeRecords({ dataDir }, 3)
  const { log, problems } = await openLog(t, { dataDir })
  await log.commit('decide', 'lines', 0, 7)
  const got: string[] = []
  let arrived!: () => void
  const arrival = new Promise<void>((r) => (arrived = r))
  const subscription = log.subscribe({ topic: 'lines', group: 'decide' }, async (batch) => {
    got.push(...values(batch))
    arrived()
  })
  await log.append('lines', [text('new')])
  await arrival
  await subscription.close()
  assert.deepEqual(got, ['new'])
  assert.equal(problems.filter((p) => p.kind === 'offset-out-of-range').length, 1)
  assert.equal(await log.committed('decide', 'lines', 0), 4)
})

test('an unparseable offsets file is reported and reads as no commit', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeRecords({ dataDir }, 3)
  await mkdir(join(dataDir, 'offsets', 'decide'), { recursive: true })
  await writeFile(join(dataDir, 'offsets', 'decide', 'lines.json'), '{"0": 2, "1"')
  const { log, problems } = await openLog(t, { dataDir })
  assert.equal(await log.committed('decide', 'lines', 0), undefined)
  assert.deepEqual(problems.map((p) => p.kind), ['unreadable-offsets'])
})

test('a group name cannot escape the offsets directory', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeRecords({ dataDir }, 1)
  const { log } = await openLog(t, { dataDir })
  await log.commit('../../x', 'lines', 0, 1)
  assert.deepEqual(await readdir(join(dataDir, 'offsets')), ['%2E%2E%2F%2E%2E%2Fx'])
  assert.equal(await log.committed('../../x', 'lines', 0), 1)
})
