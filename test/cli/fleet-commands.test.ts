import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test, type TestContext } from 'node:test'
import { KafkaLog } from '../../src/log/kafka/kafka-log.js'
import { lineBatchOf, lineBatchRecord } from '../../src/log/line-batch-record.js'
import { packageRoot } from '../../src/package-root.js'
import { startMockCluster, type MockCluster } from '../kafka/mock-cluster.js'
import { cliCommand, stopChild } from './cli-path.js'

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => done(port))
    }).on('error', fail)
  })
}

/** Runs the CLI to its end: exit code and output. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...cliCommand(), ...args], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => done({ code, stdout, stderr }))
  })
}

describe('fleet commands against a Kafka cluster (librdkafka mock)', () => {
  let cluster: MockCluster
  let brokers: string
  before(async () => {
    // The mock has no CreateTopics: the topics exist as an operator would have created them.
    cluster = await startMockCluster(1, { lines: 4, failures: 4, decisions: 4, commands: 4, actuations: 2 })
    brokers = cluster.brokers.join(',')
  })
  after(() => cluster.stop())

  test('topics create accepts topics that already have the asked partition counts; describe lists them', async () => {
    const created = await cli(['topics', 'create', '--kafka', brokers, '--partitions', '4', '--actuations-partitions', '2'])
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^failures: 4 partitions$/m)
    const described = await cli(['topics', 'describe', '--json'], { BANSTREAM_KAFKA_BROKERS: brokers })
    assert.equal(described.code, 0, described.stderr)
    const { topics, missing } = JSON.parse(described.stdout) as { topics: { topic: string; partitions: number }[]; missing: string[] }
    assert.deepEqual(topics.map((t) => [t.topic, t.partitions]).sort(), [['actuations', 2], ['commands', 4], ['decisions', 4], ['failures', 4], ['lines', 4]])
    assert.deepEqual(missing, [])
  })

  test('topics create refuses a topic whose partition count differs, naming it', async () => {
    const created = await cli(['topics', 'create', '--kafka', brokers, '--partitions', '8'])
    assert.notEqual(created.code, 0)
    assert.match(created.stderr, /lines/)
  })

  test('a fleet command without brokers says how to give them', async () => {
    const r = await cli(['topics', 'describe'], { BANSTREAM_KAFKA_BROKERS: '' })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--kafka host:port or set \$BANSTREAM_KAFKA_BROKERS/)
  })

  test('forward sends the lines of the jails\' logs to the lines topic, keyed by the host', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'banstream-forward-'))
    const config = join(dir, 'config')
    await mkdir(config)
    await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
    await writeFile(join(config, 'jail.conf'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\n`)
    await writeFile(join(dir, 'auth.log'), 'Nov 22 03:00:01 mx1 sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2\n')
    const child = spawn(process.execPath, [...cliCommand(), 'forward', '--kafka', brokers, '--config', config, '--data-dir', join(dir, 'data'), '--host', 'mx1'],
      { stdio: 'ignore', env: { ...process.env, BANSTREAM_KAFKA_IDEMPOTENT: '0' } })
    t.after(async () => {
      await stopChild(child)
      await rm(dir, { recursive: true, force: true })
    })
    await appendFile(join(dir, 'auth.log'), 'Nov 22 03:00:02 mx1 sshd[2]: Failed password for root from 192.0.2.7 port 23 ssh2\n')
    const log = new KafkaLog({ brokers: cluster.brokers, idempotent: false, clientLogLevel: 'nothing' })
    t.after(() => log.close())
    const lines: string[] = []
    const deadline = Date.now() + 60_000
    while (lines.length < 2 && Date.now() < deadline) {
      lines.length = 0
      const ends = await log.endOffsets('lines')
      for (const [partition, end] of ends.entries()) {
        for (const record of await log.read('lines', partition, 0, end)) {
          const batch = lineBatchOf(record)
          assert.equal(batch.host, 'mx1')
          assert.equal(record.key?.toString(), 'mx1')
          lines.push(...batch.lines.map(String))
        }
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    assert.deepEqual(lines.map((l) => l.slice(0, 15)), ['Nov 22 03:00:01', 'Nov 22 03:00:02'])
  })

  test('forward with --syslog-tcp sends what other hosts send, each batch keyed by the host its messages name', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'banstream-forward-syslog-'))
    const config = join(dir, 'config')
    await mkdir(config)
    await writeFile(join(config, 'jail.conf'), '')
    const port = await freePort()
    const child = spawn(process.execPath, [...cliCommand(), 'forward', '--kafka', brokers, '--config', config, '--data-dir', join(dir, 'data'),
      '--host', 'collector', '--syslog-tcp', `127.0.0.1:${port}`], { stdio: 'ignore', env: { ...process.env, BANSTREAM_KAFKA_IDEMPOTENT: '0' } })
    t.after(async () => {
      await stopChild(child)
      await rm(dir, { recursive: true, force: true })
    })
    const messages = ['<38>Nov 22 03:00:03 mx2 sshd[3]: Failed password for root from 192.0.2.8 port 22 ssh2\n',
      '<38>Nov 22 03:00:04 mx3 sshd[4]: Failed password for root from 192.0.2.9 port 22 ssh2\n']
    const sendUntilListening = async (): Promise<void> => {
      for (const deadline = Date.now() + 30_000; ;) {
        const sent = await new Promise<boolean>((done) => {
          const socket = connect(port, '127.0.0.1', () => socket.end(messages.join(''), () => done(true))).on('error', () => done(false))
        })
        if (sent) return
        if (Date.now() > deadline) throw new Error('forward never listened for syslog')
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    await sendUntilListening()
    const log = new KafkaLog({ brokers: cluster.brokers, idempotent: false, clientLogLevel: 'nothing' })
    t.after(() => log.close())
    const seen: string[] = []
    for (const deadline = Date.now() + 60_000; seen.length < 2 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      seen.length = 0
      for (const [partition, end] of (await log.endOffsets('lines')).entries()) {
        for (const record of await log.read('lines', partition, 0, end)) {
          const batch = lineBatchOf(record)
          if (batch.stream !== 'syslog') continue
          seen.push(...batch.lines.map((line) => `${record.key?.toString()} ${batch.host} ${String(line).slice(16, 19)}`))
        }
      }
    }
    assert.deepEqual(seen.sort(), ['mx2 mx2 mx2', 'mx3 mx3 mx3'])
  })

  /**
   * `banstream <role>` on the mock cluster with `--metrics`, for the rest of the test: its config holds
   * the built-in filters and `jailConf`; `args` may name files in its temporary directory.
   */
  async function fleetRole(t: TestContext, role: 'detect' | 'actuate', jailConf: (dir: string) => string, args: (dir: string) => string[] = () => []):
    Promise<{ port: number; log: KafkaLog }> {
    const dir = await mkdtemp(join(tmpdir(), `banstream-${role}-`))
    const config = join(dir, 'config')
    await mkdir(config)
    await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
    await writeFile(join(config, 'jail.conf'), jailConf(dir))
    const port = await freePort()
    const child = spawn(process.execPath, [...cliCommand(), role, '--kafka', brokers, '--config', config, ...args(dir), '--metrics', `127.0.0.1:${port}`],
      { stdio: 'ignore', env: { ...process.env, BANSTREAM_KAFKA_IDEMPOTENT: '0' } })
    const log = new KafkaLog({ brokers: cluster.brokers, idempotent: false, clientLogLevel: 'nothing' })
    t.after(async () => {
      await stopChild(child)
      await log.close()
      await rm(dir, { recursive: true, force: true })
    })
    return { port, log }
  }

  test('detect and actuate refuse a --metrics that is no listen address, before they start', async () => {
    for (const role of ['detect', 'actuate']) {
      const r = await cli([role, '--kafka', brokers, '--metrics', '127.0.0.1'])
      assert.equal(r.code, 2, role)
      assert.match(r.stderr, /^banstream: --metrics 127\.0\.0\.1: use host:port/m, role)
    }
  })

  test('detect refuses a --max-streams that is no count of 1 or more', async () => {
    const r = await cli(['detect', '--kafka', brokers, '--max-streams', '0'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^banstream: --max-streams 0: a whole number, 1 or more$/m)
  })

  test('detect counts on --metrics the lines and failures its jails matched', async (t) => {
    const { port, log } = await fleetRole(t, 'detect', () => `[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\n`)
    // Now as syslog writes it, in local time: detect runs live and counts lines of about now.
    const stamp = new Date().toString().slice(4, 24).replace(/ (\d{4}) /, ' ')
    await log.append('lines', [lineBatchRecord({
      stream: '/var/log/auth.log', host: 'mx9', received_at: Date.now(), position: { offset: 0 },
      lines: [`${stamp} mx9 sshd[7]: Failed password for root from 192.0.2.70 port 22 ssh2`, `${stamp} mx9 cron[8]: (root) CMD (true)`].map((l) => Buffer.from(l)),
    })])
    const counted = /^banstream_match_lines_total\{jail="sshd"\} 2$/m
    let metrics = ''
    const deadline = Date.now() + 60_000
    while (!counted.test(metrics) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200))
      metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '')
    }
    assert.match(metrics, counted)
    assert.match(metrics, /^banstream_match_failures_total\{jail="sshd"\} 1$/m)
    assert.match(metrics, /^banstream_match_streams_forgotten_total 0$/m)
  })

  test('actuate applies the decisions that target this host, reports each on actuations and counts them on --metrics', async (t) => {
    const { port, log } = await fleetRole(t, 'actuate', (dir) => `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\naction = nftables[port=ssh]\n`,
      (dir) => ['--host', 'mx1', '--dry-run', '--log-file', join(dir, 'actuate.log')])
    const now = Date.now()
    const ban = (ip: string, targets?: string[]) => ({
      type: 'BanIssued', event_id: `ban-${ip}`, cause_event_id: `f-${ip}`, jail: 'sshd', ip, failures: 3, ban_time_secs: 600, ban_count: 1,
      expires_at: new Date(now + 600_000).toISOString(), occurred_at: new Date(now).toISOString(), reason: 'threshold', matches: [],
      ...(targets !== undefined && { targets }),
    })
    await log.append('decisions', [ban('192.0.2.7'), ban('192.0.2.8', ['other-host']), ban('192.0.2.9', ['mx0', 'mx1'])].map((d) => ({ key: Buffer.from(d.ip), value: Buffer.from(JSON.stringify(d)) })))
    const seen: { host: string; ip: string; outcome: string }[] = []
    const deadline = Date.now() + 30_000
    while (seen.length < 2 && Date.now() < deadline) {
      seen.length = 0
      for (const [partition, end] of (await log.endOffsets('actuations')).entries()) {
        for (const record of await log.read('actuations', partition, 0, end)) seen.push(JSON.parse(record.value.toString()))
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    assert.deepEqual(seen.map((a) => [a.host, a.ip, a.outcome]).sort(), [['mx1', '192.0.2.7', 'dry-run'], ['mx1', '192.0.2.9', 'dry-run']])
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    assert.match(metrics, /^banstream_actuations_total\{backend="dry-run",outcome="dry-run"\} 2$/m)
  })
})
