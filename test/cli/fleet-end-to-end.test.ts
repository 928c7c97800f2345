import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import type { Actuation } from '../../schemas/events/actuation.js'
import { KafkaLog } from '../../src/log/kafka/kafka-log.js'
import { packageRoot } from '../../src/package-root.js'
import { startMockCluster } from '../kafka/mock-cluster.js'
import { cliCommand, stopChild } from './cli-path.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const syslogTime = (d = new Date()) => `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${d.toTimeString().slice(0, 8)}`

test('the fleet on Kafka: forward on a host, detect, and the host\'s actuator bans the attacker its logs showed; another host\'s does not', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-fleet-'))
  const config = join(dir, 'config')
  await mkdir(config)
  await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
  await writeFile(join(config, 'jail.conf'),
    `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\nmaxretry = 3\nignoreself = false\naction = nftables[port=ssh]\n`)
  await writeFile(join(dir, 'auth.log'), '')
  const cluster = await startMockCluster(1, { lines: 2, failures: 4, decisions: 4, commands: 4, actuations: 2 })
  const env = { ...process.env, BANSTREAM_KAFKA_BROKERS: cluster.brokers.join(','), BANSTREAM_KAFKA_IDEMPOTENT: '0' }
  const children: ChildProcess[] = []
  const role = (...args: string[]) => {
    const child = spawn(process.execPath, [...cliCommand(), ...args], { stdio: 'ignore', env })
    children.push(child)
  }
  const log = new KafkaLog({ brokers: cluster.brokers, idempotent: false, clientLogLevel: 'nothing' })
  t.after(async () => {
    for (const child of children) await stopChild(child)
    await log.close()
    await cluster.stop()
    await rm(dir, { recursive: true, force: true })
  })
  role('forward', '--config', config, '--data-dir', join(dir, 'forward'), '--host', 'mx1')
  role('detect', '--config', config)
  role('actuate', '--config', config, '--host', 'mx1', '--dry-run', '--log-file', join(dir, 'actuate.log'))
  role('actuate', '--config', config, '--host', 'mx2', '--dry-run', '--log-file', join(dir, 'actuate-mx2.log'))
  for (let n = 0; n < 3; n++) {
    await appendFile(join(dir, 'auth.log'), `${syslogTime()} mx1 sshd[${300 + n}]: Failed password for root from 192.0.2.66 port ${5000 + n} ssh2\n`)
  }
  const seen: Actuation[] = []
  const deadline = Date.now() + 60_000
  while (seen.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500))
    for (const [partition, end] of (await log.endOffsets('actuations')).entries()) {
      for (const record of await log.read('actuations', partition, 0, end)) seen.push(JSON.parse(record.value.toString()) as Actuation)
    }
  }
  assert.deepEqual(seen.map((a) => [a.host, a.jail, a.ip, a.outcome]), [['mx1', 'sshd', '192.0.2.66', 'dry-run']])
  // Once mx2's actuator has read past the ban, it has still reported nothing: the ban targets mx1, whose logs showed the failures.
  const ends = await log.endOffsets('decisions')
  while (Date.now() < deadline) {
    const read = await Promise.all(ends.map(async (end, p) => ((await log.committed('actuate-mx2', 'decisions', p)) ?? 0) >= end))
    if (read.every(Boolean)) break
    await new Promise((r) => setTimeout(r, 500))
  }
  const after: Actuation[] = []
  for (const [partition, end] of (await log.endOffsets('actuations')).entries()) {
    for (const record of await log.read('actuations', partition, 0, end)) after.push(JSON.parse(record.value.toString()) as Actuation)
  }
  assert.deepEqual(after.map((a) => a.host), ['mx1'])
})
