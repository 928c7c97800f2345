import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Decision } from '../../schemas/events/decision.js'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { jailPolicy } from '../../streams/decide-policy.js'
import type { EmbeddedLog } from '../../src/log/embedded-log.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { DecideWorker } from '../../src/roles/decide-worker.js'
import { openLog, tempDataDir } from '../log/log-test-kit.js'
import { failure } from '../streams/decide-fixtures.js'

const decide = { jails: [jailPolicy({ name: 'sshd', max_retry: 3, find_time_secs: 600, ban_time_secs: 600 })] }

async function setup(t: TestContext) {
  const dir = await tempDataDir(t)
  const { log, problems } = await openLog(t, { dataDir: join(dir, 'log') })
  for (const topic of ['failures', 'commands', 'decisions']) await log.createTopic(topic, 1)
  return { dir, log, problems }
}

const append = (log: EmbeddedLog, failures: FailureDetected[]) =>
  log.append('failures', failures.map((f) => ({ key: Buffer.from(f.ip), value: Buffer.from(JSON.stringify(f)) })))

async function decisions(log: EmbeddedLog): Promise<Decision[]> {
  const out: Decision[] = []
  for await (const r of readToEnd(log, 'decisions')) out.push(JSON.parse(r.value.toString()) as Decision)
  return out
}

/** Waits until `count` inputs have been stepped. */
function stepped(count: number) {
  let seen = 0
  let done!: () => void
  const reached = new Promise<void>((resolve) => (done = resolve))
  return { reached, onOutputs: () => { if (++seen >= count) done() } }
}

test('failures in, one ban out at maxretry, appended to decisions', async (t) => {
  const { dir, log, problems } = await setup(t)
  const progress = stepped(3)
  const worker = await DecideWorker.start({ log, decide, snapshotPath: join(dir, 'decide.json'), report: (p) => problems.push(p), onOutputs: progress.onOutputs })
  await append(log, [failure('192.0.2.1', 0), failure('192.0.2.1', 10), failure('192.0.2.1', 20)])
  await progress.reached
  await worker.stop()
  const out = await decisions(log)
  assert.deepEqual(out.map((d) => [d.type, d.ip]), [['BanIssued', '192.0.2.1']])
  assert.equal(worker.failuresCounted('sshd'), 3)
  assert.deepEqual(problems, [])
})

test('a failure delivered twice (same event id) is counted once', async (t) => {
  const { dir, log, problems } = await setup(t)
  const progress = stepped(2)
  const worker = await DecideWorker.start({ log, decide, snapshotPath: join(dir, 'decide.json'), report: (p) => problems.push(p), onOutputs: progress.onOutputs })
  const twice = failure('192.0.2.1', 10)
  await append(log, [failure('192.0.2.1', 0), twice, twice, failure('192.0.2.9', 30)])
  await progress.reached
  await new Promise((resolve) => setImmediate(resolve))
  await worker.stop()
  assert.equal(worker.failuresCounted('sshd'), 3)
  assert.deepEqual(await decisions(log), [])
})

test('after a restart from an older snapshot, inputs stepped again make no decision twice and lose none', async (t) => {
  const { dir, log, problems } = await setup(t)
  const snapshotPath = join(dir, 'decide.json')
  const first = stepped(2)
  const worker = await DecideWorker.start({ log, decide, snapshotPath, report: (p) => problems.push(p), onOutputs: first.onOutputs })
  await append(log, [failure('192.0.2.1', 0), failure('192.0.2.1', 10)])
  await first.reached
  await worker.stop() // saves: two failures counted
  const saved = await readFile(snapshotPath, 'utf8')
  // More input is decided, then the process dies before its next save: the snapshot on disk is the older one.
  const second = stepped(3)
  const again = await DecideWorker.start({ log, decide, snapshotPath, report: (p) => problems.push(p), onOutputs: second.onOutputs })
  await append(log, [failure('192.0.2.1', 20), failure('192.0.2.2', 30), failure('192.0.2.2', 40)])
  await second.reached
  await again.stop()
  await writeFile(snapshotPath, saved)
  const third = stepped(4)
  const resumed = await DecideWorker.start({ log, decide, snapshotPath, report: (p) => problems.push(p), onOutputs: third.onOutputs })
  await append(log, [failure('192.0.2.2', 50)])
  await third.reached
  await resumed.stop()
  const out = await decisions(log)
  assert.deepEqual(out.map((d) => [d.type, d.ip]), [['BanIssued', '192.0.2.1'], ['BanIssued', '192.0.2.2']])
  assert.equal(new Set(out.map((d) => d.event_id)).size, out.length)
  assert.equal(resumed.currentlyFailed('sshd'), 0)
})

test('a malformed failures record is reported and skipped', async (t) => {
  const { dir, log, problems } = await setup(t)
  const progress = stepped(3)
  const worker = await DecideWorker.start({ log, decide, snapshotPath: join(dir, 'decide.json'), report: (p) => problems.push(p), onOutputs: progress.onOutputs })
  await log.append('failures', [{ key: null, value: Buffer.from('{"type":"FailureDetected"}') }])
  await append(log, [failure('192.0.2.1', 0), failure('192.0.2.1', 10), failure('192.0.2.1', 20)])
  await progress.reached
  await worker.stop()
  assert.equal(problems.length, 1)
  assert.equal(problems[0]!.kind, 'corrupt-record')
  assert.equal((await decisions(log)).length, 1)
})

test('a record of decisions that is no decision is reported and skipped at start, and the stage starts', async (t) => {
  const { dir, log, problems } = await setup(t)
  await log.append('decisions', [{ key: null, value: Buffer.from('not json') }, { key: null, value: Buffer.from('{"type":"BanIssued"}') }])
  const progress = stepped(3)
  const worker = await DecideWorker.start({ log, decide, snapshotPath: join(dir, 'decide.json'), report: (p) => problems.push(p), onOutputs: progress.onOutputs })
  await append(log, [failure('192.0.2.1', 0), failure('192.0.2.1', 10), failure('192.0.2.1', 20)])
  await progress.reached
  await worker.stop()
  assert.deepEqual(problems.map((p) => [p.kind, p.topic, p.position]), [['corrupt-record', 'decisions', 0], ['corrupt-record', 'decisions', 1]])
  const appended: string[] = []
  for await (const r of readToEnd(log, 'decisions', { 0: 2 })) appended.push((JSON.parse(r.value.toString()) as Decision).type)
  assert.deepEqual(appended, ['BanIssued'])
})

test('failures of an ignored address are not counted in Total failed, as fail2ban skips them before counting', async (t) => {
  const { dir, log, problems } = await setup(t)
  const progress = stepped(3)
  const ignoring = { jails: [jailPolicy({ name: 'sshd', max_retry: 3, ignore_ip: ['192.0.2.5'] })] }
  const worker = await DecideWorker.start({ log, decide: ignoring, snapshotPath: join(dir, 'decide.json'), report: (p) => problems.push(p), onOutputs: progress.onOutputs })
  await append(log, [failure('192.0.2.5', 0), failure('192.0.2.5', 10), failure('192.0.2.6', 20)])
  await progress.reached
  await worker.stop()
  assert.equal(worker.failuresCounted('sshd'), 1)
  assert.deepEqual(await decisions(log), [])
})
