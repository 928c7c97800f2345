import { after, before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { KafkaLog } from '../../src/log/kafka/kafka-log.js'
import type { LogRecord, SubscribeOptions } from '../../src/log/log.js'
import { startMockCluster, type MockCluster } from '../kafka/mock-cluster.js'
import { text, values } from './log-test-kit.js'

// Every wait is bounded: a stuck group fails the test instead of hanging the run.
const WAIT_MS = 15_000
const TEST = { timeout: 25_000 }

let cluster: MockCluster
before(async () => {
  cluster = await startMockCluster(1)
})
after(() => cluster?.stop())

async function topic(partitions: number): Promise<string> {
  const name = `t-${randomUUID()}`
  await cluster.createTopic(name, partitions)
  return name
}

function open(t: TestContext): KafkaLog {
  const log = new KafkaLog({
    brokers: cluster.brokers,
    clientLogLevel: 'nothing',
    idempotent: false,
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    fetchMaxWaitMs: 20,
    handlerRetryBaseMs: 1,
    report: () => undefined,
  })
  t.after(() => log.close())
  return log
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer!: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Polls `check` until it holds (bounded). */
async function until(check: () => boolean, what: string): Promise<void> {
  await within((async () => {
    while (!check()) await new Promise((resolve) => setTimeout(resolve, 25))
  })(), what)
}

/** A member that records which partitions it holds and what it was handed, in order. */
function member(log: KafkaLog, opts: Omit<SubscribeOptions, 'onAssigned' | 'onRevoked'>, assignDelayMs = 0) {
  const held = new Set<number>()
  const events: string[] = []
  const got: LogRecord[] = []
  const early: number[] = []
  const subscription = log.subscribe({
    ...opts,
    onAssigned: async (partitions) => {
      await new Promise((resolve) => setTimeout(resolve, assignDelayMs))
      for (const p of partitions) held.add(p)
      events.push(`assigned ${[...partitions].sort().join(',')}`)
    },
    onRevoked: async (partitions) => {
      for (const p of partitions) held.delete(p)
      events.push(`revoked ${[...partitions].sort().join(',')}`)
    },
  }, async (batch) => {
    for (const r of batch) if (!held.has(r.partition)) early.push(r.partition)
    events.push(`batch ${batch[0]!.partition}`)
    got.push(...batch)
  })
  return { held, events, got, early, subscription }
}

describe('KafkaLog partition assignment on librdkafka\'s mock cluster', { concurrency: true }, () => {
  test('a lone member is given every partition before their records, even when taking them up outlasts heartbeats, and gives them up at close', TEST, async (t) => {
    const log = open(t)
    const name = await topic(3)
    await log.append(name, ['a', 'b', 'c', 'd', 'e'].map((v) => text(v, v)))
    // Longer than the heartbeat interval: the member heartbeats while it waits, so the group keeps it.
    const m = member(log, { topic: name, group: `g-${randomUUID()}` }, 1000)
    t.after(() => m.subscription.close())
    await until(() => m.got.length >= 5, 'every record')
    await within(m.subscription.close(), 'the subscription to close')
    assert.equal(m.events[0], 'assigned 0,1,2')
    assert.equal(m.events[m.events.length - 1], 'revoked 0,1,2')
    assert.deepEqual(values(m.got).sort(), ['a', 'b', 'c', 'd', 'e'])
    assert.deepEqual(m.early, [], 'no record came before its partition\'s onAssigned resolved')
  })

  test('when a second member joins, the first gives up exactly what the second takes up', TEST, async (t) => {
    const name = await topic(4)
    const group = `g-${randomUUID()}`
    const first = member(open(t), { topic: name, group })
    t.after(() => first.subscription.close())
    await until(() => first.held.size === 4, 'the first member to hold every partition')
    const second = member(open(t), { topic: name, group })
    t.after(() => second.subscription.close())
    await until(() => second.held.size > 0 && first.held.size + second.held.size === 4, 'the partitions to be shared')
    const moved = [...second.held].sort()
    assert.deepEqual(first.events, ['assigned 0,1,2,3', `revoked ${moved.join(',')}`])
    assert.deepEqual([...first.held].filter((p) => second.held.has(p)), [])
    // Records appended now go to whoever holds their partition, each once.
    const keys = Array.from({ length: 20 }, (_, i) => `192.0.2.${i}`)
    await first.subscription.close()
    await until(() => second.held.size === 4, 'the second member to take every partition once the first left')
    await open(t).append(name, keys.map((k) => text(k, k)))
    await until(() => second.got.length >= 20, 'every record at the remaining member')
    assert.deepEqual(values(second.got).sort(), [...keys].sort())
    assert.deepEqual([...first.early, ...second.early], [])
  })
})
