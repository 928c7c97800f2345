import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Topics } from '../../schemas/topics.js'
import { KafkaLog } from '../../src/log/kafka/kafka-log.js'
import { logChunks } from '../../src/roles/replay-log.js'
import { replay, replayLines, type ReplayJailsOptions, type ReplayResult } from '../../src/roles/replay.js'
import { startMockCluster, type MockCluster } from '../kafka/mock-cluster.js'
import { ATTACKERS, WEEK_END, WEEK_START, weekConfig, weekJails, weekRecords, writeWeek } from './replay-week.js'

const TEST = { timeout: 60_000 }

let cluster: MockCluster
let log: KafkaLog
let dir: string
let config: string
let weekFile: string
let jailOptions: ReplayJailsOptions

before(async () => {
  cluster = await startMockCluster(1, { [Topics.lines.name]: 2 })
  log = new KafkaLog({ brokers: cluster.brokers, clientLogLevel: 'nothing', idempotent: false, requestTimeoutMs: 3000, report: () => undefined })
  await log.append(Topics.lines.name, weekRecords())
  dir = mkdtempSync(join(tmpdir(), 'banstream-replay-log-'))
  weekFile = writeWeek(dir).plain
  config = weekConfig()
  jailOptions = await weekJails(config)
})
after(async () => {
  await log?.close()
  await cluster?.stop()
  rmSync(dir, { recursive: true, force: true })
  rmSync(config, { recursive: true, force: true })
})

// Event ids derive from where a line was read (file offset or forwarder position), which differs between the two sources.
const withoutIds = (r: ReplayResult) => JSON.parse(JSON.stringify(r, (key, value) => (key === 'event_id' || key === 'ban_event_id' ? undefined : value))) as ReplayResult

test('the lines topic of a week replays to the same failures, bans and unbans as the file of the same lines', TEST, async () => {
  const range = { from: WEEK_START, to: WEEK_END }
  const skipped: string[] = []
  const fromLog = await replayLines({ ...jailOptions, ...range }, logChunks(log, { ...range, skipped: (reason) => skipped.push(reason) }))
  const fromFile = await replay({ ...jailOptions, ...range, inputs: [{ path: weekFile, as: '/var/log/web.log' }] })
  assert.deepEqual(withoutIds(fromLog), withoutIds(fromFile))
  assert.deepEqual(fromLog.jails[0]!.bans.map((b) => b.ip), [ATTACKERS.burst, ATTACKERS.twice, ATTACKERS.twice, ATTACKERS.token])
  assert.equal(skipped.length, 1)
  assert.match(skipped[0]!, /missing stream, host, count or received_at header/)
})

test('a day of the lines topic is read from the offset of its start and gives the bans of that day', TEST, async () => {
  const range = { from: WEEK_START + 4 * 86400, to: WEEK_START + 5 * 86400 }
  const progress: { done: number; total: number }[] = []
  const fromLog = await replayLines({ ...jailOptions, ...range, onProgress: (p) => progress.push(p) }, logChunks(log, range))
  const fromFile = await replay({ ...jailOptions, ...range, inputs: [{ path: weekFile, as: '/var/log/web.log' }] })
  const decided = (r: ReplayResult) => withoutIds(r).jails.map(({ failures, failures_by_regex, bans, unbans }) => ({ failures, failures_by_regex, bans, unbans }))
  assert.deepEqual(decided(fromLog), decided(fromFile))
  assert.deepEqual(fromLog.jails[0]!.bans.map((b) => b.ip), [ATTACKERS.twice, ATTACKERS.twice])
  // A day's records of the week's, and not one line before the day's first record.
  assert.ok(fromLog.lines < fromFile.lines / 5, `${fromLog.lines} lines read`)
  assert.ok(fromLog.lines >= 2880)
  assert.equal(progress.at(-1)!.done, progress.at(-1)!.total)
})
