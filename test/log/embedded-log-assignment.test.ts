import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openLog, tempDataDir, text } from './log-test-kit.js'

test('the subscriber is given every partition before the first batch and gives them up at close, after the last', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t) })
  await log.createTopic('failures', 3)
  await log.append('failures', ['a', 'b', 'c', 'd'].map((v) => text(v, v)))
  const events: string[] = []
  let seen = 0
  let all!: () => void
  const arrived = new Promise<void>((resolve) => (all = resolve))
  const subscription = log.subscribe({
    topic: 'failures',
    group: 'decide',
    onAssigned: async (partitions) => {
      // A rebuild takes time: no batch may start meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 20))
      events.push(`assigned ${partitions.join(',')}`)
    },
    onRevoked: async (partitions) => { events.push(`revoked ${partitions.join(',')}`) },
  }, async (batch) => {
    events.push('batch')
    seen += batch.length
    if (seen >= 4) all()
  })
  await arrived
  await subscription.close()
  assert.equal(events[0], 'assigned 0,1,2')
  assert.equal(events[events.length - 1], 'revoked 0,1,2')
  assert.deepEqual(new Set(events.slice(1, -1)), new Set(['batch']))
})

test('a failing onAssigned is reported and called again; records wait until it resolves', async (t) => {
  const { log, problems } = await openLog(t, { dataDir: await tempDataDir(t), handlerRetryBaseMs: 1 })
  await log.createTopic('failures', 2)
  await log.append('failures', [text('a', 'a')])
  let calls = 0
  let delivered!: (calls: number) => void
  const firstBatch = new Promise<number>((resolve) => (delivered = resolve))
  const subscription = log.subscribe({
    topic: 'failures',
    group: 'decide',
    onAssigned: async () => {
      calls++
      if (calls < 3) throw new Error('decisions unreadable')
    },
  }, async () => delivered(calls))
  assert.equal(await firstBatch, 3)
  await subscription.close()
  assert.deepEqual(problems.map((p) => [p.kind, p.reason.startsWith('decisions unreadable')]), [['handler-failed', true], ['handler-failed', true]])
})

test('a subscription closed before onAssigned resolved revokes nothing', async (t) => {
  const { log } = await openLog(t, { dataDir: await tempDataDir(t), handlerRetryBaseMs: 1 })
  await log.createTopic('failures', 2)
  const revoked: number[][] = []
  let started!: () => void
  const assigning = new Promise<void>((resolve) => (started = resolve))
  const subscription = log.subscribe({
    topic: 'failures',
    group: 'decide',
    onAssigned: async () => {
      started()
      throw new Error('not yet')
    },
    onRevoked: async (partitions) => { revoked.push(partitions) },
  }, async () => undefined)
  await assigning
  await subscription.close()
  assert.deepEqual(revoked, [])
})
