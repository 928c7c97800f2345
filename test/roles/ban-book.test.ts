import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { Decision } from '../../schemas/events/decision.js'
import { eventId } from '../../schemas/events/event-id.js'
import type { EmbeddedLog } from '../../src/log/embedded-log.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { BanBook } from '../../src/roles/ban-book.js'
import { closeAfter, openLog, tempDataDir } from '../log/log-test-kit.js'

async function setup(t: TestContext) {
  const dir = await tempDataDir(t)
  const { log, problems } = await openLog(t, { dataDir: join(dir, 'log') })
  await log.createTopic('decisions', 1)
  return { log, problems }
}

function ban(ip: string, startMs: number, secs: number): BanIssued {
  return {
    type: 'BanIssued', event_id: eventId('ban', ip, startMs), cause_event_id: eventId('cause', ip), jail: 'sshd', ip,
    failures: 3, ban_time_secs: secs, ban_count: 1, occurred_at: new Date(startMs).toISOString(),
    expires_at: secs === -1 ? null : new Date(startMs + secs * 1000).toISOString(), reason: 'threshold', matches: [],
  }
}

const append = (log: EmbeddedLog, decisions: Decision[]) =>
  log.append('decisions', decisions.map((d) => ({ key: Buffer.from(d.ip), value: Buffer.from(JSON.stringify(d)) })))

async function lifts(log: EmbeddedLog): Promise<Decision[]> {
  const out: Decision[] = []
  for await (const r of readToEnd(log, 'decisions')) {
    const d = JSON.parse(r.value.toString()) as Decision
    if (d.type === 'BanLifted') out.push(d)
  }
  return out
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('a ban is lifted when it ends on the wall clock, at its end time', async (t) => {
  const { log, problems } = await setup(t)
  const book = await BanBook.start({ log, report: (p) => problems.push(p) })
  closeAfter(t, () => book.stop())
  const issued = ban('192.0.2.1', Date.now(), 1)
  await append(log, [issued, ban('192.0.2.2', Date.now(), -1)])
  await book.folded(issued.event_id)
  assert.deepEqual(book.bans().map((b) => b.ip).sort(), ['192.0.2.1', '192.0.2.2'])
  await until(async () => (await lifts(log)).length === 1, 'the lift')
  const [lift] = await lifts(log)
  assert.equal(lift!.ip, '192.0.2.1')
  assert.equal(lift!.occurred_at, issued.expires_at)
  await until(async () => book.bans().length === 1, 'the lift to be folded')
  assert.equal(book.totalBanned('sshd'), 2)
})

test('a restart lifts at once a ban that ended while down, and never lifts one twice', async (t) => {
  const { log, problems } = await setup(t)
  const now = Date.now()
  await append(log, [ban('192.0.2.1', now - 60_000, 10), ban('192.0.2.2', now - 60_000, 5)])
  const first = await BanBook.start({ log, report: (p) => problems.push(p) })
  await until(async () => (await lifts(log)).length === 2, 'both lifts')
  await first.stop()
  const second = await BanBook.start({ log, report: (p) => problems.push(p) })
  closeAfter(t, () => second.stop())
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal((await lifts(log)).length, 2)
  assert.deepEqual(second.bans(), [])
  assert.deepEqual(problems, [])
})

test('a watcher sees each decision folded after it started watching, once the book holds it, until it stops', async (t) => {
  const { log, problems } = await setup(t)
  await append(log, [ban('192.0.2.1', Date.now(), -1)])
  const book = await BanBook.start({ log, expire: false, report: (p) => problems.push(p) })
  closeAfter(t, () => book.stop())
  const seen: { ip: string; held: boolean }[] = []
  const stop = book.watch((d) => seen.push({ ip: d.ip, held: book.bans().some((b) => b.ip === d.ip) }))
  const second = ban('192.0.2.2', Date.now(), -1)
  await append(log, [second])
  await book.folded(second.event_id)
  stop()
  const third = ban('192.0.2.3', Date.now(), -1)
  await append(log, [third])
  await book.folded(third.event_id)
  assert.deepEqual(seen, [{ ip: '192.0.2.2', held: true }])
})
