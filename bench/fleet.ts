/**
 * Fleet mode's speed (issue 4), against librdkafka's MOCK cluster: a Kafka protocol implementation
 * in one local process, with no disk, no replication and no network between machines. Its numbers
 * show the cost of our Kafka client path (kafkajs, batching, group protocol), not a real Kafka's.
 *
 *   throughput  a generated mail log (one per host, several hosts so the `lines` partitions spread,
 *               batches as lineBatchRecord) through detect workers, each in its own process, timed until
 *               `match` has committed every `lines` record and `decide` every `failures` record: one and
 *               two workers on the mock cluster, one worker (in-process) on the embedded log. `backlog`:
 *               the lines pre-appended, then the workers started (group join and rebalance inside the
 *               run); `settled`: the workers' group settled first, then the lines appended at full speed.
 *               "steady" is lines/s between 10% (and the group settled) and 90% of `lines` committed.
 *   latency     an actuator (startActuate, dryRun) on the mock cluster while decisions are appended at a
 *               steady rate; decision record timestamp → actuation record timestamp, per decision.
 *   pipeline    forward → decision: one and two detect workers (own processes, group settled first) while the hosts'
 *               lines are appended at a steady rate, every 50 ms what each host's log grew by, the hosts
 *               in one append (see PIPELINE_TICK_MS); per ban, the append time of the line that reached
 *               maxretry (the ban's last match) → the decision record's timestamp. 20% of these lines are
 *               failures, so that a run of seconds holds enough bans to time.
 *
 * Each run is a fresh process (and a fresh cluster or data dir) so none warms another.
 *
 *   npx tsx bench/fleet.ts [lines, default 250000] [decisions/s, default 200] [latency seconds, default 15]
 *                          [pipeline lines/s, default 50000]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Actuation } from '../schemas/events/actuation.js'
import type { BanIssued } from '../schemas/events/ban-issued.js'
import { partitionKey, Topics } from '../schemas/topics.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { KafkaLog, type KafkaLogOptions } from '../src/log/kafka/kafka-log.js'
import { lineBatchRecord } from '../src/log/line-batch-record.js'
import type { Log, ProducedRecord } from '../src/log/log.js'
import { partitionForKey } from '../src/log/murmur2.js'
import { readToEnd } from '../src/log/read-to-end.js'
import { startActuate } from '../src/roles/actuate.js'
import { startDetect } from '../src/roles/detect.js'
import { startMockCluster, type MockCluster } from '../test/kafka/mock-cluster.js'
import { generateMailLog } from './mail-log.js'
import { benchConfigDir } from './pipeline-config.js'
import { percentile } from './report.js'

const here = fileURLToPath(import.meta.url)
/**
 * librdkafka's mock keeps at most 5 MB (or 100 000 records) per partition and drops the oldest beyond
 * that, so the pre-appended `lines` must fit: 8 partitions hold ~40 MB, ~300 k generated lines.
 */
const PARTITIONS = 8
const HOSTS_PER_PARTITION = 2
const LINES_PER_RECORD = 500
const FAILURE_SHARE = 0.05
/** The latency run's logs are under heavier attack, so that a run of seconds holds enough bans to time. */
const PIPELINE_FAILURE_SHARE = 0.2
/**
 * How often the pipeline run appends what the hosts' logs grew by. librdkafka's mock answers a fetch
 * with at most one record batch per partition (real brokers send up to fetch.max.bytes of them), so a
 * consumer there reads one append per partition per fetch round: appends much more often than a
 * worker's round (its failures appended and offsets committed for every partition) measure the mock,
 * not banstream.
 */
const PIPELINE_TICK_MS = 50
const LOG_PATH = '/var/log/mail.log'
const TOPICS = [Topics.lines.name, Topics.failures.name, Topics.decisions.name, Topics.commands.name, Topics.actuations.name]
const POLL_MS = 100
const DRAIN_LIMIT_MS = 600_000

function kafkaOptions(cluster: MockCluster): KafkaLogOptions {
  return {
    brokers: cluster.brokers,
    clientLogLevel: 'nothing',
    // The mock names no reachable controller, which kafkajs's idempotent producer needs.
    idempotent: false,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
    fetchMaxWaitMs: 20,
    report: () => undefined,
  }
}

async function main(lines: number, rate: number, seconds: number, lineRate: number): Promise<void> {
  console.log('fleet: librdkafka mock cluster — a Kafka protocol implementation in one local process, NOT a real Kafka ' +
    '(no disk, no replication, no network): these numbers are our client path\'s cost, not a production cluster\'s.')
  console.log(`  ${lines} mail-log lines (${FAILURE_SHARE * 100}% failures), one log per host, ${LINES_PER_RECORD} lines per record, ` +
    `${PARTITIONS * HOSTS_PER_PARTITION} hosts over ${PARTITIONS} partitions per topic; jails sshd postfix dovecot`)
  part('throughput', ['embedded', '1', String(lines), 'backlog'])
  for (const start of ['backlog', 'settled']) for (const workers of ['1', '2']) part('throughput', ['kafka', workers, String(lines), start])
  part('latency', [String(rate), String(seconds)])
  for (const workers of ['1', '2']) part('pipeline', [String(lineRate), String(seconds), workers])
}

function part(name: string, args: string[]): void {
  const r = spawnSync(process.execPath, [...process.execArgv, here, name, ...args], { stdio: 'inherit' })
  if (r.status !== 0) process.exitCode = 1
}

/** Host names whose `lines` keys fall HOSTS_PER_PARTITION to each partition, so every partition gets the same share. */
function spreadHosts(): string[] {
  const perPartition = new Map<number, string[]>()
  for (let i = 1; perPartition.size < PARTITIONS || [...perPartition.values()].some((h) => h.length < HOSTS_PER_PARTITION); i++) {
    const host = `mx${i}`
    const p = partitionForKey(Buffer.from(host), PARTITIONS)
    const list = perPartition.get(p) ?? []
    if (list.length < HOSTS_PER_PARTITION) perPartition.set(p, [...list, host])
  }
  return [...perPartition.values()].flat()
}

/**
 * Each host's own mail log over the same span of time (so no partition's failures run far ahead of
 * another's in event time), cut into records of LINES_PER_RECORD lines, the hosts' records interleaved.
 */
function lineRecords(lines: number): ProducedRecord[] {
  const hosts = spreadHosts()
  const start = Date.UTC(2026, 10, 1)
  const perHost = hosts.map((host, h) => {
    const text = generateMailLog(Math.ceil(lines / hosts.length), { failureShare: FAILURE_SHARE, seed: 42 + h, start })
    const all = text.slice(0, -1).split('\n').map((l) => Buffer.from(l))
    const records: ProducedRecord[] = []
    for (let i = 0; i < all.length; i += LINES_PER_RECORD) records.push(lineBatchRecord({ stream: LOG_PATH, host, lines: all.slice(i, i + LINES_PER_RECORD), received_at: start }))
    return records
  })
  return perHost[0]!.flatMap((_, i) => perHost.flatMap((records) => (i < records.length ? [records[i]!] : [])))
}

/**
 * `backlog`: the lines are appended first, then the workers started (a restart after an outage; the
 * group's join and first rebalance fall inside the run). `settled`: the workers are started on an empty
 * `lines` and the group left to settle, then the lines appended as fast as the log takes them.
 */
async function throughputPart(kind: 'embedded' | 'kafka', workers: number, lines: number, start: 'backlog' | 'settled'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-fleet-'))
  const children: ChildProcess[] = []
  let cluster: MockCluster | undefined
  let log: Log | undefined
  try {
    const configDir = await benchConfigDir(join(dir, 'config'), LOG_PATH)
    const records = lineRecords(lines)
    if (kind === 'kafka') {
      cluster = await startMockCluster(1, Object.fromEntries(TOPICS.map((t) => [t, PARTITIONS])))
      log = new KafkaLog(kafkaOptions(cluster))
    } else {
      log = await EmbeddedLog.open({ dataDir: join(dir, 'log'), fsync: 'never', report: () => undefined })
      for (const topic of TOPICS) await log.createTopic(topic, PARTITIONS)
    }
    const target = log
    let appendMs = 0
    const appendLines = async () => {
      const a0 = performance.now()
      for (let i = 0; i < records.length; i += 50) await target.append(Topics.lines.name, records.slice(i, i + 50))
      appendMs = performance.now() - a0
      const dropped = (await target.startOffsets(Topics.lines.name)).reduce((a, b) => a + b, 0)
      if (dropped > 0) throw new Error(`the log dropped ${dropped} of ${records.length} lines records before they were read (the mock keeps 5 MB per partition): use fewer lines`)
    }
    if (start === 'backlog') await appendLines()

    const s0 = performance.now()
    let stopInProcess: (() => Promise<void>) | undefined
    // The decide partitions each worker holds: the group is settled once every worker holds some.
    const held: number[] = []
    let settledAt: number | undefined = kind === 'kafka' ? undefined : s0
    if (kind === 'kafka') {
      const options = JSON.stringify({ ...kafkaOptions(cluster!), report: undefined })
      await Promise.all(Array.from({ length: workers }, async (_, w) => {
        const child = spawn(process.execPath, [...process.execArgv, here, 'detect-worker', options, configDir], { stdio: ['ignore', 'pipe', 'inherit'] })
        children.push(child)
        await ready(child, (line) => {
          held[w] = line.slice('held '.length).split(',').filter((p) => p !== '').length
          const settled = held.filter((n) => n > 0).length === workers && held.reduce((a, b) => a + b, 0) === PARTITIONS
          if (settledAt === undefined && settled) settledAt = performance.now()
        })
      }))
    } else {
      const detect = await startDetect({ log, configDir, live: false, note: () => undefined })
      stopInProcess = () => detect.stop()
    }
    if (start === 'settled') {
      const limit = performance.now() + 60_000
      while (settledAt === undefined && performance.now() < limit) await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      if (settledAt === undefined) throw new Error('the detect group did not settle within 60 s')
      // The match group joins alongside the decide group; a second lets its assignment land too.
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const t0 = performance.now()
    const draining = drain(log, records.length)
    if (start === 'settled') await appendLines()
    const samples = await draining
    const doneMs = performance.now() - t0
    await stopInProcess?.()

    const failures = (await log.endOffsets(Topics.failures.name)).reduce((a, b) => a + b, 0)
    const decisions = (await log.endOffsets(Topics.decisions.name)).reduce((a, b) => a + b, 0)
    const steady = steadyRate(samples, records.length, lines, settledAt === undefined ? Infinity : settledAt - t0)
    const who = kind === 'kafka' ? `mock Kafka, ${workers} worker${workers > 1 ? 's' : ''} (own processes)` : 'embedded log, 1 worker (in-process)'
    const span = start === 'backlog' ? `ready→done ${(lines / (doneMs / 1000) / 1e3).toFixed(1)} k lines/s (${(doneMs / 1000).toFixed(1)} s; start ${((t0 - s0) / 1000).toFixed(1)} s)`
      : `append→done ${(lines / (doneMs / 1000) / 1e3).toFixed(1)} k lines/s (${(doneMs / 1000).toFixed(1)} s)`
    console.log(`  ${who}, ${start}: steady ${(steady / 1e3).toFixed(1)} k lines/s, ${span}; ` +
      `append ${(lines / (appendMs / 1000) / 1e3).toFixed(0)} k lines/s; ${failures} failures, ${decisions} decisions; per line ${(1e6 / steady).toFixed(1)} µs`)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await log?.close()
    await cluster?.stop()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}

interface Sample { ms: number; records: number }

/** Polls the groups' committed offsets until every `lines` record is matched and every failure decided; the `lines` progress over time. */
async function drain(log: Log, lineRecordCount: number): Promise<Sample[]> {
  const t0 = performance.now()
  const samples: Sample[] = []
  const committedSum = async (group: string, topic: string) => {
    let sum = 0
    for (let p = 0; p < PARTITIONS; p++) sum += (await log.committed(group, topic, p)) ?? 0
    return sum
  }
  for (;;) {
    const matched = await committedSum('match', Topics.lines.name)
    samples.push({ ms: performance.now() - t0, records: matched })
    if (matched >= lineRecordCount) {
      const failures = (await log.endOffsets(Topics.failures.name)).reduce((a, b) => a + b, 0)
      if ((await committedSum('decide', Topics.failures.name)) >= failures) return samples
    }
    if (performance.now() - t0 > DRAIN_LIMIT_MS) throw new Error(`not drained after ${DRAIN_LIMIT_MS / 1000} s: ${matched}/${lineRecordCount} lines records matched`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/**
 * Lines/s from the first sample at ≥10% of `lines` records committed by match, and after the group
 * settled (`settledMs`), to the first at ≥90%.
 */
function steadyRate(samples: Sample[], recordCount: number, lines: number, settledMs: number): number {
  const from = samples.find((s) => s.records >= 0.1 * recordCount && s.ms >= settledMs)
  const to = samples.find((s) => s.records >= 0.9 * recordCount)!
  if (from === undefined) return Number.NaN
  const linesBetween = ((to.records - from.records) / recordCount) * lines
  return to.ms > from.ms ? linesBetween / ((to.ms - from.ms) / 1000) : Number.NaN
}

/** Resolves when the child prints `ready`; its later lines go to `onLine`. */
function ready(child: ChildProcess, onLine: (line: string) => void = () => undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let started = false
    child.once('exit', (code) => started || reject(new Error(`worker exited (${code}) before it was ready`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (started) onLine(line)
      else if (line === 'ready') resolve(void (started = true))
      else reject(new Error(`worker said '${line}' before it was ready`))
    })
  })
}

async function detectWorkerPart(options: string, configDir: string): Promise<void> {
  const log = new KafkaLog({ ...(JSON.parse(options) as KafkaLogOptions), report: () => undefined })
  const detect = await startDetect({ log, configDir, live: false, note: () => undefined })
  process.stdout.write('ready\n')
  let last: string | undefined
  setInterval(() => {
    const held = detect.decidePartitions().join(',')
    if (held !== last) process.stdout.write(`held ${(last = held)}\n`)
  }, 20)
  process.once('SIGTERM', () => void detect.stop().then(() => log.close()).finally(() => process.exit(0)))
}

async function actuatorPart(options: string, configDir: string, logFile: string): Promise<void> {
  const log = new KafkaLog({ ...(JSON.parse(options) as KafkaLogOptions), report: () => undefined })
  const actuate = await startActuate({ log, host: 'mx1', configDir, logFile, dryRun: true, note: () => undefined })
  process.stdout.write('ready\n')
  process.once('SIGTERM', () => void actuate.stop().then(() => log.close()).finally(() => process.exit(0)))
}

/** A ban of a distinct address in sshd, as decide would append it. */
function ban(i: number, now: number): BanIssued {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  const at = new Date(now).toISOString()
  return {
    type: 'BanIssued', event_id: `bench-ban-${i}`, cause_event_id: `bench-failure-${i}`, jail: 'sshd', ip, failures: 5,
    ban_time_secs: 600, ban_count: 1, expires_at: new Date(now + 600_000).toISOString(), occurred_at: at, reason: 'threshold', matches: [],
  }
}

/** Per decision id, when its last actuation was appended, once `count` decisions are carried out (or after 60 s). */
async function actuated(log: Log, count: number): Promise<Map<string, number>> {
  const waitUntil = Date.now() + 60_000
  for (;;) {
    const at = new Map<string, number>()
    for await (const r of readToEnd(log, Topics.actuations.name)) {
      const a = JSON.parse(r.value.toString()) as Actuation
      at.set(a.decision_event_id, Math.max(at.get(a.decision_event_id) ?? 0, r.timestamp))
    }
    if (at.size >= count || Date.now() > waitUntil) return at
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/**
 * A fresh mock cluster with one role process on it (given the cluster's options, the bench config
 * and `args`), ready, for `body`; everything torn down after.
 */
async function onMockCluster(role: 'actuator' | 'detect-worker', args: (dir: string) => string[], body: (log: KafkaLog) => Promise<void>,
  count = 1, onLine?: (line: string, child: number) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `banstream-bench-fleet-${role}-`))
  const cluster = await startMockCluster(1, Object.fromEntries(TOPICS.map((t) => [t, PARTITIONS])))
  const log = new KafkaLog(kafkaOptions(cluster))
  const children: ChildProcess[] = []
  try {
    const configDir = await benchConfigDir(join(dir, 'config'), LOG_PATH)
    const options = JSON.stringify({ ...kafkaOptions(cluster), report: undefined })
    await Promise.all(Array.from({ length: count }, async (_, c) => {
      const child = spawn(process.execPath, [...process.execArgv, here, role, options, configDir, ...args(dir)], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      await ready(child, (line) => onLine?.(line, c))
    }))
    await body(log)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await log.close()
    await cluster.stop()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}

function latencyPart(rate: number, seconds: number): Promise<void> {
  return onMockCluster('actuator', (dir) => [join(dir, 'fail2ban.log')], async (log) => {

    // One decision first, timed from once it is carried out: the actuator's group join is start-up, not latency.
    const warmUp = ban(0, Date.now())
    await log.append(Topics.decisions.name, [{ key: Buffer.from(partitionKey(warmUp.ip)), value: Buffer.from(JSON.stringify(warmUp)) }])
    await actuated(log, 1)

    const total = Math.round(rate * seconds)
    const t0 = Date.now()
    let sent = 1
    while (sent <= total) {
      const due = Math.min(total + 1, Math.floor(((Date.now() - t0) / 1000) * rate) + 2)
      const batch: ProducedRecord[] = []
      for (; sent < due; sent++) {
        const now = Date.now()
        const decision = ban(sent, now)
        batch.push({ key: Buffer.from(partitionKey(decision.ip)), value: Buffer.from(JSON.stringify(decision)), timestamp: now })
      }
      if (batch.length > 0) await log.append(Topics.decisions.name, batch)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }

    const decidedAt = new Map<string, number>()
    for await (const r of readToEnd(log, Topics.decisions.name)) decidedAt.set((JSON.parse(r.value.toString()) as BanIssued).event_id, r.timestamp)
    decidedAt.delete(warmUp.event_id)
    const actuatedAt = await actuated(log, total + 1)
    const latencies = [...decidedAt].flatMap(([id, at]) => (actuatedAt.has(id) ? [actuatedAt.get(id)! - at] : [])).sort((a, b) => a - b)
    console.log(`  decision → actuation (mock Kafka, 1 actuator, dry run): ${total} decisions at ${rate}/s over ${seconds} s, ` +
      `${latencies.length} actuated; p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies.at(-1)} ms`)
  })
}

/** Each host's log lines, in order, over the same span of event time. */
function hostLogs(linesPerHost: number): { host: string; lines: string[] }[] {
  const start = Date.UTC(2026, 10, 1)
  return spreadHosts().map((host, h) => ({
    host,
    lines: generateMailLog(linesPerHost, { failureShare: PIPELINE_FAILURE_SHARE, seed: 42 + h, start }).slice(0, -1).split('\n'),
  }))
}

function pipelinePart(lineRate: number, seconds: number, workers: number, tickMs: number): Promise<void> {
  const held: number[] = []
  const onLine = (line: string, w: number) => { held[w] = line.slice('held '.length).split(',').filter((p) => p !== '').length }
  const settled = () => held.filter((n) => n > 0).length === workers && held.reduce((a, b) => a + b, 0) === PARTITIONS
  return onMockCluster('detect-worker', () => [], async (log) => {
    const limit = Date.now() + 60_000
    while (!settled() && Date.now() < limit) await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    if (!settled()) throw new Error('the detect workers did not share every partition within 60 s')
    // The match group joins beside the decide group; its assignment lands within a few heartbeats.
    await new Promise((resolve) => setTimeout(resolve, 3000))

    const logs = hostLogs(Math.ceil((lineRate * seconds) / (PARTITIONS * HOSTS_PER_PARTITION)))
    const appendedAt = new Map<string, number>()
    const sentPerHost = logs.map(() => 0)
    const t0 = Date.now()
    let lateMs = 0
    for (;;) {
      const elapsed = Date.now() - t0
      const duePerHost = Math.min(logs[0]!.lines.length, Math.floor(((elapsed / 1000) * lineRate) / logs.length))
      const batch: ProducedRecord[] = []
      const now = Date.now()
      logs.forEach(({ host, lines }, h) => {
        if (sentPerHost[h]! >= duePerHost) return
        const grown = lines.slice(sentPerHost[h], duePerHost)
        sentPerHost[h] = duePerHost
        for (const line of grown) appendedAt.set(line, now)
        batch.push(lineBatchRecord({ stream: LOG_PATH, host, lines: grown.map((l) => Buffer.from(l)), received_at: now }))
      })
      if (batch.length > 0) await log.append(Topics.lines.name, batch)
      if (sentPerHost.every((n, h) => n >= logs[h]!.lines.length)) break
      const wait = tickMs - (Date.now() - now)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      else lateMs += -wait
    }
    const sendSecs = (Date.now() - t0) / 1000
    const lineRecordCount = (await log.endOffsets(Topics.lines.name)).reduce((a, b) => a + b, 0)
    await drain(log, lineRecordCount)

    const latencies: number[] = []
    for await (const r of readToEnd(log, Topics.decisions.name)) {
      const decision = JSON.parse(r.value.toString()) as BanIssued
      const cause = decision.type === 'BanIssued' ? decision.matches.at(-1) : undefined
      const at = cause === undefined ? undefined : appendedAt.get(cause)
      if (at !== undefined) latencies.push(r.timestamp - at)
    }
    latencies.sort((a, b) => a - b)
    const total = logs.reduce((sum, l) => sum + l.lines.length, 0)
    console.log(`  forward → decision (mock Kafka, ${workers} detect worker${workers > 1 ? 's' : ''}): ${total} lines at ${(total / sendSecs / 1e3).toFixed(1)} k lines/s ` +
      `(asked ${(lineRate / 1e3).toFixed(0)} k; sender late ${lateMs} ms in all), ${latencies.length} bans; ` +
      (latencies.length === 0 ? 'no ban to time: give more lines/s or seconds'
        : `p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies.at(-1)} ms`))
  }, workers, onLine)
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'throughput') await throughputPart(args[0] as 'embedded' | 'kafka', Number(args[1]), Number(args[2]), args[3] as 'backlog' | 'settled')
else if (mode === 'detect-worker') await detectWorkerPart(args[0]!, args[1]!)
else if (mode === 'actuator') await actuatorPart(args[0]!, args[1]!, args[2]!)
else if (mode === 'latency') await latencyPart(Number(args[0]), Number(args[1]))
else if (mode === 'pipeline') await pipelinePart(Number(args[0]), Number(args[1]), Number(args[2] ?? 1), Number(args[3] ?? PIPELINE_TICK_MS))
else await main(Number(mode ?? 250_000), Number(args[0] ?? 200), Number(args[1] ?? 15), Number(args[2] ?? 50_000))
