import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ReplayJobs, type ReplayOutcome, type ReplayWork } from '../../../src/api/replay/replay-jobs.js'
import type { ReplayProgress } from '../../../src/roles/replay.js'

const OUTCOME: ReplayOutcome = { result: { first_failure_at: null, last_failure_at: null, lines: 0, unrouted_lines: 0, jails: [] } }

/** Work that runs until the test ends it, with its progress callback and signal in reach. */
function controlled() {
  let finish!: (outcome: ReplayOutcome) => void
  let fail!: (err: Error) => void
  const seen: { progress?: (p: ReplayProgress) => void; signal?: AbortSignal; started: boolean } = { started: false }
  const work: ReplayWork = (progress, signal) => {
    Object.assign(seen, { progress, signal, started: true })
    return new Promise<ReplayOutcome>((resolve, reject) => {
      finish = resolve
      fail = reject
      signal.addEventListener('abort', () => reject(new Error('stopped')))
    })
  }
  return { work, seen, finish: (o: ReplayOutcome = OUTCOME) => finish(o), fail: (e: Error) => fail(e) }
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

test('runs one job at a time: the next waits queued until the running one is done', async () => {
  const jobs = new ReplayJobs({ maxQueued: 2, keepFinished: 10, now: () => 0 })
  const a = controlled()
  const b = controlled()
  const idA = jobs.submit(a.work)!
  const idB = jobs.submit(b.work)!
  assert.equal(jobs.view(idA)!.state, 'running')
  assert.equal(jobs.view(idB)!.state, 'queued')
  assert.equal(b.seen.started, false)
  a.finish()
  await settle()
  assert.equal(jobs.view(idA)!.state, 'done')
  assert.deepEqual(jobs.view(idA)!.result, OUTCOME.result)
  assert.equal(jobs.view(idB)!.state, 'running')
  b.fail(new Error('cannot read /var/log/x'))
  await settle()
  assert.deepEqual([jobs.view(idB)!.state, jobs.view(idB)!.error], ['failed', 'cannot read /var/log/x'])
})

test('refuses a job once the queue behind the running one is full', () => {
  const jobs = new ReplayJobs({ maxQueued: 1, keepFinished: 10, now: () => 0 })
  assert.ok(jobs.submit(controlled().work))
  assert.ok(jobs.submit(controlled().work))
  assert.equal(jobs.submit(controlled().work), undefined)
})

test('reports lines per second and the time left from the share of the source read, on the injected clock', () => {
  let now = 1000
  const jobs = new ReplayJobs({ maxQueued: 1, keepFinished: 10, now: () => now })
  const a = controlled()
  const id = jobs.submit(a.work)!
  assert.deepEqual(jobs.view(id)!.progress, { lines: 0, lines_per_s: null, eta_s: null })
  now += 4000
  a.seen.progress!({ done: 25, total: 100, lines: 2000 })
  assert.deepEqual(jobs.view(id)!.progress, { lines: 2000, lines_per_s: 500, eta_s: 12 })
})

test('keeps the finished jobs last asked about, dropping the least recently read', async () => {
  const jobs = new ReplayJobs({ maxQueued: 5, keepFinished: 2, now: () => 0 })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const w = controlled()
    ids.push(jobs.submit(w.work)!)
    if (i === 1) jobs.view(ids[0]!)
    w.finish()
    await settle()
    if (i === 1) jobs.view(ids[0]!)
  }
  assert.equal(jobs.view(ids[1]!), undefined)
  assert.equal(jobs.view(ids[0]!)!.state, 'done')
  assert.equal(jobs.view(ids[2]!)!.state, 'done')
})

test('close stops the running job, fails the queued ones and cleans up after both', async () => {
  const jobs = new ReplayJobs({ maxQueued: 2, keepFinished: 10, now: () => 0 })
  const cleaned: string[] = []
  const running = jobs.submit(controlled().work, { cleanup: async () => { cleaned.push('running') } })!
  const queued = jobs.submit(controlled().work, { cleanup: async () => { cleaned.push('queued') } })!
  await jobs.close()
  assert.deepEqual([jobs.view(running)!.state, jobs.view(running)!.error], ['failed', 'stopped'])
  assert.deepEqual([jobs.view(queued)!.state, jobs.view(queued)!.error], ['failed', 'the API closed before the job ran'])
  assert.deepEqual(cleaned.sort(), ['queued', 'running'])
  assert.equal(jobs.submit(controlled().work), undefined)
})
