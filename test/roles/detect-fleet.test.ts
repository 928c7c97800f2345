import { after, before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Decision } from '../../schemas/events/decision.js'
import { Topics } from '../../schemas/topics.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { KafkaLog, type KafkaLogOptions } from '../../src/log/kafka/kafka-log.js'
import { lineBatchRecord } from '../../src/log/line-batch-record.js'
import type { Log, ProducedRecord } from '../../src/log/log.js'
import { partitionForKey } from '../../src/log/murmur2.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { startDetect, type Detect } from '../../src/roles/detect.js'
import { startMockCluster, type MockCluster } from '../kafka/mock-cluster.js'
import { sshdFailure, tempDir, writeTestConfig, type DecisionKey } from './run-test-kit.js'

// Every wait is bounded: a lost record or a stuck group fails the test instead of hanging the run.
const WAIT_MS = 20_000
const TEST = { timeout: 45_000 }
const PARTITIONS = 4
const TOPICS = [Topics.lines.name, Topics.failures.name, Topics.decisions.name, Topics.commands.name]
const LOG_PATH = '/var/log/auth.log'
const START = Date.parse('2026-03-01T08:00:00Z')
const ROUNDS = 24

/**
 * Lines of attackers spread over the `failures` partitions, three per
 * partition, each failing every 40 s (sshd: maxretry 3, findtime 600,
 * bantime 300): bans, bans prolonged while the attempts go on, and, for the
 * attacker that pauses, a ban after the first one ended. A round holds one
 * `lines` record per host. The attackers of one partition attack through one
 * host, so each `failures` partition gets its failures in one order whichever
 * worker matched them, and the embedded run is a fair reference.
 */
function generatedInput(): ProducedRecord[][] {
  const attackers = new Map<number, string[]>()
  for (let i = 1; [...attackers.values()].flat().length < PARTITIONS * 3; i++) {
    const ip = `198.51.100.${i}`
    const partition = partitionForKey(Buffer.from(ip), PARTITIONS)
    const list = attackers.get(partition) ?? []
    if (list.length < 3) attackers.set(partition, [...list, ip])
  }
  const rounds: ProducedRecord[][] = []
  let pid = 1000
  for (let round = 0; round < ROUNDS; round++) {
    const records: ProducedRecord[] = []
    for (const [partition, ips] of attackers) {
      const lines = ips.flatMap((ip, k) => (k === 1 && round >= 6 && round < 18 ? [] : [sshdFailure(START + round * 40_000 + k * 1000, ip, pid++)]))
      records.push(lineBatchRecord({ stream: LOG_PATH, host: `mx${partition}`, lines: lines.map((l) => Buffer.from(l)), received_at: START }))
    }
    rounds.push(records)
  }
  return rounds
}

let dir: string
let configDir: string
let input: ProducedRecord[][]
let expected: DecisionKey[]

before(async () => {
  dir = tempDir('banstream-detect-fleet-')
  configDir = writeTestConfig(join(dir, 'config'), LOG_PATH, [{ name: 'sshd', maxRetry: 3, findTimeSecs: 600, banTimeSecs: 300 }])
  input = generatedInput()
  expected = await embeddedRun()
})
after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }))

/** The same input through the same workers over the embedded log: the decisions every fleet run must give. */
async function embeddedRun(): Promise<DecisionKey[]> {
  const log = await EmbeddedLog.open({ dataDir: join(dir, 'embedded'), fsync: 'never', report: () => undefined })
  try {
    for (const topic of TOPICS) await log.createTopic(topic, PARTITIONS)
    const detect = await startDetect({ log, configDir, live: false, note: () => undefined })
    try {
      for (const round of input) await log.append(Topics.lines.name, round)
      await drained(log)
    } finally {
      await detect.stop()
    }
    const decisions = await decisionsIn(log)
    assert.ok(decisions.length >= PARTITIONS * 3, `the input gives bans (${decisions.length})`)
    return keys(decisions)
  } finally {
    await log.close()
  }
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer!: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await within((async () => {
    while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50))
  })(), what)
}

/** Until match has committed every `lines` record and decide every `failures` record (which it does after appending their decisions). */
async function drained(log: Log): Promise<void> {
  const caughtUp = async (group: string, topic: string) => {
    const ends = await log.endOffsets(topic)
    for (let p = 0; p < ends.length; p++) if (((await log.committed(group, topic, p)) ?? 0) < ends[p]!) return false
    return true
  }
  await until(async () => (await caughtUp('match', Topics.lines.name)) && (await caughtUp('decide', Topics.failures.name)), 'every line matched and every failure decided')
}

async function decisionsIn(log: Log): Promise<Decision[]> {
  const out: Decision[] = []
  for await (const r of readToEnd(log, Topics.decisions.name)) out.push(JSON.parse(r.value.toString()) as Decision)
  return out
}

function keys(decisions: Decision[]): DecisionKey[] {
  return decisions
    .map((d) => ({ type: d.type, jail: d.jail, ip: d.ip, occurred_at: d.occurred_at, expires_at: d.type === 'BanIssued' ? d.expires_at : null }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}

function assertSameAsEmbedded(decisions: Decision[]): void {
  const ids = decisions.map((d) => d.event_id)
  assert.equal(new Set(ids).size, ids.length, 'no decision appended twice')
  assert.deepEqual(keys(decisions), expected)
}

function kafkaOptions(cluster: MockCluster): KafkaLogOptions {
  return {
    brokers: cluster.brokers,
    clientLogLevel: 'nothing',
    // The mock names no reachable controller, which kafkajs's idempotent producer needs.
    idempotent: false,
    // The mock rebalances a session timeout minus 1 s after a member is gone.
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    fetchMaxWaitMs: 20,
    requestTimeoutMs: 3000,
    handlerRetryBaseMs: 10,
  }
}

/** A mock cluster with the topics and a log on it; closers run last-registered first after the test. */
async function fleet(t: TestContext) {
  const closers: (() => Promise<void>)[] = []
  t.after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined)
  })
  const cluster = await startMockCluster(1, Object.fromEntries(TOPICS.map((topic) => [topic, PARTITIONS])))
  closers.push(() => cluster.stop())
  const open = () => {
    const log = new KafkaLog({ ...kafkaOptions(cluster), report: () => undefined })
    closers.push(() => log.close())
    return log
  }
  const detect = async (log: KafkaLog) => {
    const worker = await startDetect({ log, configDir, live: false, note: () => undefined })
    closers.push(() => worker.stop())
    return worker
  }
  return { cluster, open, detect }
}

/** A detect worker in a child process, to be killed without a chance to leave the group or commit. */
function memberProcess(t: TestContext, cluster: MockCluster) {
  const here = fileURLToPath(import.meta.url)
  const fromSource = here.endsWith('.ts')
  const script = join(dirname(here), `detect-fleet-member.${fromSource ? 'ts' : 'js'}`)
  const child = spawn(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), script, JSON.stringify(kafkaOptions(cluster)), configDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { child.kill('SIGKILL') })
  let held: number[] = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('held')) held = line.slice(5).split(',').filter((p) => p !== '').map(Number)
  })
  return { held: () => held, kill: () => child.kill('SIGKILL') }
}

async function append(log: Log, rounds: ProducedRecord[][]): Promise<void> {
  for (const round of rounds) await log.append(Topics.lines.name, round)
}

test('a detect worker tells a jail with resetonsuccess of successes: a login that worked resets its count', TEST, async () => {
  const here = join(dir, 'reset-on-success')
  const config = writeTestConfig(join(here, 'config'), LOG_PATH, [{ name: 'sshd', maxRetry: 3, findTimeSecs: 600, banTimeSecs: 300 }])
  writeFileSync(join(config, 'jail.local'), '[sshd]\nresetonsuccess = true\n')
  const log = await EmbeddedLog.open({ dataDir: join(here, 'data'), fsync: 'never', report: () => undefined })
  try {
    for (const topic of TOPICS) await log.createTopic(topic, 1)
    const detect = await startDetect({ log, configDir: config, live: false, note: () => undefined })
    try {
      const at = (s: number) => START + s * 1000
      const lines = [
        sshdFailure(at(0), '198.51.100.9', 1), sshdFailure(at(1), '198.51.100.9', 2),
        `${new Date(at(2)).toISOString().replace('Z', '+00:00')} srv sshd[3]: Accepted password for alice from 198.51.100.9 port 22 ssh2`,
        sshdFailure(at(3), '198.51.100.9', 4), sshdFailure(at(4), '198.51.100.9', 5),
        sshdFailure(at(5), '203.0.113.5', 6), sshdFailure(at(6), '203.0.113.5', 7), sshdFailure(at(7), '203.0.113.5', 8),
      ]
      await log.append(Topics.lines.name, [lineBatchRecord({ stream: LOG_PATH, host: 'mx1', lines: lines.map((l) => Buffer.from(l)), received_at: START })])
      await drained(log)
    } finally {
      await detect.stop()
    }
    assert.deepEqual((await decisionsIn(log)).map((d) => [d.type, d.ip]), [['BanIssued', '203.0.113.5']])
  } finally {
    await log.close()
  }
})

describe('detect workers on librdkafka\'s mock cluster', () => {
  test('one worker decides what the embedded run decides', TEST, async (t) => {
    const { open, detect } = await fleet(t)
    const log = open()
    const worker: Detect = await detect(log)
    await until(() => worker.decidePartitions().length === PARTITIONS, 'the worker to hold every partition')
    await append(log, input)
    await drained(log)
    assertSameAsEmbedded(await decisionsIn(log))
  })

  test('two workers, one killed mid-input: the survivor takes its partitions over and no decision is lost or doubled', TEST, async (t) => {
    const { cluster, open, detect } = await fleet(t)
    const doomed = memberProcess(t, cluster)
    await until(() => doomed.held().length === PARTITIONS, 'the first worker to hold every partition')
    const log = open()
    const survivor = await detect(log)
    await until(() => survivor.decidePartitions().length > 0 && survivor.decidePartitions().length + doomed.held().length === PARTITIONS, 'the two workers to share the partitions')
    const doomedPartitions = doomed.held()
    await append(log, input.slice(0, ROUNDS / 2))
    // Killed once it has decided some of its partitions' failures: what it matched and decided but did not commit is done again.
    await until(async () => (await decisionsIn(log)).some((d) => doomedPartitions.includes(partitionForKey(Buffer.from(d.ip), PARTITIONS))), 'a decision of the doomed worker')
    doomed.kill()
    await append(log, input.slice(ROUNDS / 2))
    await until(() => survivor.decidePartitions().length === PARTITIONS, 'the survivor to take every partition')
    await drained(log)
    assertSameAsEmbedded(await decisionsIn(log))
  })

  test('the broker going down and up mid-input neither loses nor doubles a ban', TEST, async (t) => {
    const { cluster, open, detect } = await fleet(t)
    const log = open()
    const worker = await detect(log)
    await until(() => worker.decidePartitions().length === PARTITIONS, 'the worker to hold every partition')
    await append(log, input.slice(0, ROUNDS / 2))
    await cluster.down(1)
    const appending = append(log, input.slice(ROUNDS / 2))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    await cluster.up(1)
    await within(appending, 'the appends made while the broker was down')
    await drained(log)
    assertSameAsEmbedded(await decisionsIn(log))
  })
})
