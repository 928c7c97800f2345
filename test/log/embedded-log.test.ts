import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { partitionForKey } from '../../src/log/murmur2.js'
import type { LogRecord } from '../../src/log/log.js'
import { consume, openLog, tempDataDir, text, values } from './log-test-kit.js'

test('append places a keyed record in its murmur2 partition and numbers each partition from 0', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('failures', 4)
  const keys = ['192.0.2.1', '192.0.2.2', '2001:db8::1', '192.0.2.1', '198.51.100.7', '192.0.2.2']
  const placed = await log.append('failures', keys.map((k, i) => text(`f${i}`, k)))
  const nextPerPartition = [0, 0, 0, 0]
  placed.forEach((p, i) => {
    assert.equal(p.partition, partitionForKey(Buffer.from(keys[i]!), 4))
    assert.equal(p.offset, nextPerPartition[p.partition]!++)
  })
  assert.deepEqual(await log.endOffsets('failures'), nextPerPartition)
})

test('records without a key go round-robin over the partitions', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 3)
  const placed = await log.append('lines', ['a', 'b', 'c', 'd', 'e', 'f'].map((v) => text(v)))
  assert.deepEqual(placed.map((p) => p.partition), [0, 1, 2, 0, 1, 2])
  assert.deepEqual(await log.endOffsets('lines'), [2, 2, 2])
})

test('read returns stored records with headers, and the clock stamps records that carry no timestamp', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t), now: () => 1_123_997_600_000 })
  await log.createTopic('lines', 1)
  await log.append('lines', [
    { key: Buffer.from('mail-1'), value: Buffer.from('line one'), headers: { stream: '/var/log/mail.log' } },
    { key: null, value: Buffer.from('line two'), timestamp: 42 },
  ])
  const [first, second] = await log.read('lines', 0, 0, 10)
  assert.deepEqual(
    { ...first!, key: first!.key?.toString(), value: first!.value.toString() },
    { topic: 'lines', partition: 0, offset: 0, key: 'mail-1', value: 'line one', headers: { stream: '/var/log/mail.log' }, timestamp: 1_123_997_600_000 },
  )
  assert.equal(second!.key, null)
  assert.equal(second!.timestamp, 42)
  assert.deepEqual(second!.headers, {})
})

test('read starts at the given offset and stops at maxRecords, across segment files', async (t) => {
  const dataDir = await tempDataDir(t)
  const { log } = await openLog(t, { dataDir, segmentBytes: 1024, indexIntervalBytes: 128 })
  await log.createTopic('lines', 1)
  for (let i = 0; i < 300; i += 10) await log.append('lines', Array.from({ length: 10 }, (_, j) => text(`line ${i + j}`)))
  assert.deepEqual(values(await log.read('lines', 0, 123, 4)), ['line 123', 'line 124', 'line 125', 'line 126'])
  assert.deepEqual(values(await log.read('lines', 0, 295, 100)), ['line 295', 'line 296', 'line 297', 'line 298', 'line 299'])
  assert.deepEqual(await log.read('lines', 0, 300, 10), [])
  const all = await log.read('lines', 0, 0, 1000)
  assert.deepEqual(all.map((r) => r.offset), Array.from({ length: 300 }, (_, i) => i))
})

test('a record longer than a read chunk is read whole from any offset, and nothing is reported damaged', async (t) => {
  const problems: unknown[] = []
  const { log } = await openLog(t, { dataDir: await tempDataDir(t), report: (problem) => problems.push(problem) })
  await log.createTopic('lines', 1)
  const sizes = [1000, 200 * 1024, 300 * 1024, 1000, 900 * 1024, 1000]
  await log.append('lines', sizes.map((n, i) => ({ key: null, value: Buffer.alloc(n, 0x61 + i) })))
  for (let from = 0; from < sizes.length; from++) {
    const records = await log.read('lines', 0, from, 100)
    assert.deepEqual(records.map((r) => [r.offset, r.value.length]), sizes.slice(from).map((n, i) => [from + i, n]), `from ${from}`)
  }
  assert.deepEqual(problems, [])
})

test('a subscriber gets every partition in offset order, in batches no larger than asked', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('failures', 3)
  const keys = Array.from({ length: 60 }, (_, i) => `198.51.100.${i % 9}`)
  await log.append('failures', keys.map((k, i) => text(String(i), k)))
  const batches = await consume(log, { topic: 'failures', group: 'decide', maxBatchRecords: 4 }, 60)
  assert.ok(batches.every((b) => b.length <= 4 && b.every((r) => r.partition === b[0]!.partition)))
  for (let p = 0; p < 3; p++) {
    const got = batches.flat().filter((r) => r.partition === p)
    assert.deepEqual(got.map((r) => r.offset), got.map((_, i) => i))
    assert.deepEqual(values(got), keys.flatMap((k, i) => (partitionForKey(Buffer.from(k), 3) === p ? [String(i)] : [])))
  }
})

test('maxBatchBytes bounds a batch but always lets one record through', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 1)
  await log.append('lines', [text('x'.repeat(300)), text('y'.repeat(300)), text('z'.repeat(300))])
  const batches = await consume(log, { topic: 'lines', group: 'g', maxBatchBytes: 500 }, 3)
  assert.deepEqual(batches.map((b) => b.length), [1, 1, 1])
})

test('a subscriber is woken by appends made after it caught up', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('decisions', 2)
  const got: string[] = []
  let caughtUp!: () => void
  let rest!: () => void
  const first = new Promise<void>((r) => (caughtUp = r))
  const second = new Promise<void>((r) => (rest = r))
  await log.append('decisions', [text('ban 1', '192.0.2.1')])
  const subscription = log.subscribe({ topic: 'decisions', group: 'actuator' }, async (batch) => {
    got.push(...values(batch))
    if (got.length === 1) caughtUp()
    if (got.length === 3) rest()
  })
  await first
  await log.append('decisions', [text('ban 2', '192.0.2.2'), text('unban 1', '192.0.2.1')])
  await second
  await subscription.close()
  assert.deepEqual(got.sort(), ['ban 1', 'ban 2', 'unban 1'])
})

test('the next batch waits until the handler has settled the previous one', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 1)
  await log.append('lines', [text('a'), text('b'), text('c')])
  let running = 0
  let maxRunning = 0
  const order: string[] = []
  let finished!: () => void
  const done = new Promise<void>((r) => (finished = r))
  const subscription = log.subscribe({ topic: 'lines', group: 'g', maxBatchRecords: 1 }, async (batch) => {
    running++
    maxRunning = Math.max(maxRunning, running)
    // Yield to the event loop several times: a log without backpressure would call again meanwhile.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    order.push(values(batch)[0]!)
    running--
    if (order.length === 3) finished()
  })
  await done
  await subscription.close()
  assert.equal(maxRunning, 1)
  assert.deepEqual(order, ['a', 'b', 'c'])
})

test('a subscriber commits the next offset after each batch by default', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 1)
  await log.append('lines', [text('a'), text('b'), text('c')])
  await consume(log, { topic: 'lines', group: 'match' }, 3)
  assert.equal(await log.committed('match', 'lines', 0), 3)
  assert.equal(await log.committed('other', 'lines', 0), undefined)
})

test('with autoCommit off nothing is committed until the consumer commits', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 1)
  await log.append('lines', [text('a'), text('b')])
  await consume(log, { topic: 'lines', group: 'store', autoCommit: false }, 2)
  assert.equal(await log.committed('store', 'lines', 0), undefined)
  await log.commit('store', 'lines', 0, 1)
  assert.equal(await log.committed('store', 'lines', 0), 1)
})

test('a restarted log resumes a group from its committed offsets', async (t) => {
  const dataDir = await tempDataDir(t)
  const first = await EmbeddedLog.open({ dataDir, fsync: 'always' })
  await first.createTopic('failures', 2)
  await first.append('failures', ['a', 'b', 'c', 'd'].map((v) => text(v, v)))
  await consume(first, { topic: 'failures', group: 'decide' }, 4)
  await first.append('failures', ['e', 'f'].map((v) => text(v, v)))
  await first.close()

  const { log } = await openLog(t, { dataDir })
  const batches = await consume(log, { topic: 'failures', group: 'decide' }, 2)
  assert.deepEqual(values(batches.flat()).sort(), ['e', 'f'])
  assert.deepEqual(await log.endOffsets('failures'), await Promise.all([0, 1].map((p) => log.committed('decide', 'failures', p))))
})

test('earliest, latest and explicit offsets choose where a subscriber starts', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 1)
  await log.append('lines', [text('a'), text('b'), text('c')])
  await log.commit('g', 'lines', 0, 2)

  assert.deepEqual(values((await consume(log, { topic: 'lines', group: 'g', from: 'earliest', autoCommit: false }, 3)).flat()), ['a', 'b', 'c'])
  assert.deepEqual(values((await consume(log, { topic: 'lines', group: 'g', from: { offsets: { 0: 1 } }, autoCommit: false }, 2)).flat()), ['b', 'c'])
  assert.deepEqual(values((await consume(log, { topic: 'lines', group: 'g', autoCommit: false }, 1)).flat()), ['c'])

  const got: string[] = []
  let arrived!: () => void
  const arrival = new Promise<void>((r) => (arrived = r))
  const latest = log.subscribe({ topic: 'lines', group: 'tail', from: 'latest' }, async (batch) => {
    got.push(...values(batch))
    arrived()
  })
  await log.append('lines', [text('d')])
  await arrival
  await latest.close()
  assert.deepEqual(got, ['d'])
})

test('a failing handler gets the same batch again and the failure is reported', async (t) => {
  const { log, problems } = await openLog(t, { dataDir: await tempDataDir(t), handlerRetryBaseMs: 1 })
  await log.createTopic('decisions', 1)
  await log.append('decisions', [text('ban', '192.0.2.9')])
  const deliveries: LogRecord[][] = []
  let delivered!: () => void
  const done = new Promise<void>((r) => (delivered = r))
  const subscription = log.subscribe({ topic: 'decisions', group: 'actuator' }, async (batch) => {
    deliveries.push(batch)
    if (deliveries.length < 3) throw new Error('nft not ready')
    delivered()
  })
  await done
  await subscription.close()
  assert.equal(deliveries.length, 3)
  assert.ok(deliveries.every((b) => b.length === 1 && b[0]!.offset === 0))
  assert.deepEqual(problems.map((p) => p.kind), ['handler-failed', 'handler-failed'])
  assert.match(problems[0]!.reason, /nft not ready/)
  assert.equal(await log.committed('actuator', 'decisions', 0), 1)
})

test('closing a subscription waits for the batch in flight', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 1)
  await log.append('lines', [text('a')])
  let entered!: () => void
  const inHandler = new Promise<void>((r) => (entered = r))
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  let finished = false
  const subscription = log.subscribe({ topic: 'lines', group: 'g' }, async () => {
    entered()
    await gate
    finished = true
  })
  await inHandler
  const closing = subscription.close()
  release()
  await closing
  assert.equal(finished, true)
})

test('a second subscriber in the same group and topic is refused', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('lines', 1)
  const first = log.subscribe({ topic: 'lines', group: 'match' }, async () => undefined)
  assert.throws(() => log.subscribe({ topic: 'lines', group: 'match' }, async () => undefined), { code: 'BANSTREAM_ERR_LOG_GROUP_BUSY' })
  await first.close()
  await log.subscribe({ topic: 'lines', group: 'match' }, async () => undefined).close()
})

test('createTopic is idempotent but refuses a different partition count', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('failures', 4)
  await log.createTopic('failures', 4)
  await assert.rejects(log.createTopic('failures', 2), { code: 'BANSTREAM_ERR_LOG_TOPIC_EXISTS' })
  await assert.rejects(log.createTopic('../etc', 1), { code: 'BANSTREAM_ERR_LOG_TOPIC_NAME' })
})

test('unknown topics, oversized records and appends after close are refused', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t), maxRecordBytes: 100 })
  await log.createTopic('lines', 1)
  await assert.rejects(log.append('nope', [text('a')]), { code: 'BANSTREAM_ERR_LOG_UNKNOWN_TOPIC' })
  await assert.rejects(log.append('lines', [text('a'), text('x'.repeat(100))]), { code: 'BANSTREAM_ERR_LOG_RECORD_TOO_LARGE' })
  assert.deepEqual(await log.endOffsets('lines'), [0])
  await log.close()
  await assert.rejects(log.append('lines', [text('a')]), { code: 'BANSTREAM_ERR_LOG_CLOSED' })
})

test('a data dir is open in one log at a time', async (t) => {
  const dataDir = await tempDataDir(t)
  await openLog(t, { dataDir })
  await assert.rejects(EmbeddedLog.open({ dataDir }), { code: 'BANSTREAM_ERR_LOG_LOCKED' })
})

test('topics and their records survive a clean restart', async (t) => {
  const dataDir = await tempDataDir(t)
  const first = await EmbeddedLog.open({ dataDir, segmentBytes: 512 })
  await first.createTopic('lines', 2)
  await first.append('lines', Array.from({ length: 50 }, (_, i) => text(`line ${i}`)))
  await first.close()
  const { log, problems } = await openLog(t, { dataDir, segmentBytes: 512 })
  assert.deepEqual(await log.endOffsets('lines'), [25, 25])
  assert.deepEqual(values(await log.read('lines', 1, 20, 10)), ['line 41', 'line 43', 'line 45', 'line 47', 'line 49'])
  assert.deepEqual(await log.append('lines', [text('again')]), [{ partition: 0, offset: 25 }])
  assert.deepEqual(problems, [])
})

test('under an fsync interval, appends go on while a sync runs, and the next tick syncs what they wrote', async (t) => {
  const dataDir = await tempDataDir(t)
  const { log } = await openLog(t, { dataDir, fsync: { intervalMs: 5 } })
  await log.createTopic('lines', 1)
  // From here every file sync waits at a gate the test opens: a disk that takes as long as the test says.
  const probe = await open(join(dataDir, 'probe'), 'w')
  const fileHandle = Object.getPrototypeOf(probe) as { sync: () => Promise<void> }
  await probe.close()
  const realSync = fileHandle.sync
  let syncs = 0
  let openGate!: () => void
  const gate = new Promise<void>((resolve) => (openGate = resolve))
  fileHandle.sync = async function (this: unknown) {
    syncs++
    await gate
    return realSync.call(this)
  }
  t.after(() => {
    fileHandle.sync = realSync
    openGate()
  })
  await log.append('lines', [text('a')])
  while (syncs === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const appended = log.append('lines', [text('b')]).then(() => 'appended')
  const held = new Promise((resolve) => setTimeout(resolve, 1000, 'held behind the sync'))
  assert.equal(await Promise.race([appended, held]), 'appended')
  const during = syncs
  openGate()
  while (syncs === during) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.deepEqual(values(await log.read('lines', 0, 0, 10)), ['a', 'b'])
})
