import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Registry } from 'prom-client'
import type { Actuation } from '../../schemas/events/actuation.js'
import { IpsetActuator } from '../../sinks/actuators/ipset-actuator.js'
import { ipsetJail } from '../../sinks/actuators/ipset-commands.js'
import { Fail2banLog } from '../../sinks/fail2ban-log.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { ActuationMetrics } from '../../src/roles/actuation-metrics.js'
import { ActuateWorker } from '../../src/roles/actuate-worker.js'
import type { JailActions } from '../../src/roles/jail-actions.js'
import { ipsetSkipReason, namespacePair, type NamespacePair } from '../netns/netns-kit.js'
import { ban, until } from '../sinks/actuators/decision-fixtures.js'

// A full set through the whole worker: real ipset in a network namespace, the worker's Actuation
// events and its counters.
const skip = await ipsetSkipReason()
if (skip) console.log(`# skipping the full-set metric namespace test: ${skip}`)

describe('actuation metrics with a full ipset in a network namespace', { skip }, () => {
  let pair: NamespacePair
  let dir: string

  before(async () => {
    pair = await namespacePair()
    dir = await mkdtemp(join(tmpdir(), 'banstream-set-full-'))
  })

  after(async () => {
    await pair?.remove()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })

  test('a ban past maxelem 2 fails with "is full" and counts once in banstream_actuator_set_full_total', async () => {
    const backend = new IpsetActuator({
      jails: [ipsetJail('small', { port: '2222', maxelem: '2' }, new Map())], command_prefix: ['ip', 'netns', 'exec', pair.server], command_timeout_ms: 10_000,
    })
    assert.deepEqual(await backend.setup(), { ok: true })
    const actions: JailActions = { of: () => [{ backend: 'ipset', text: 'iptables-ipset[name=small, port=2222, maxelem=2]' }], backends: new Map([['ipset', backend]]) }
    const registry = new Registry()
    const log = await EmbeddedLog.open({ dataDir: join(dir, 'data'), report: () => {}, fsync: 'never' })
    await log.createTopic('decisions', 1)
    await log.createTopic('actuations', 1)
    const fail2banLog = new Fail2banLog({ path: join(dir, 'banstream.log') })
    const worker = ActuateWorker.start({ log, host: 'srv', fail2banLog, actions: () => actions, report: () => {}, metrics: new ActuationMetrics(registry) })
    try {
      const bans = ['198.51.100.1', '198.51.100.2', '198.51.100.3'].map((ip) => ban('small', ip, 600))
      for (const b of bans) await log.append('decisions', [{ key: Buffer.from(b.ip), value: Buffer.from(JSON.stringify(b)) }])
      let actuations: Actuation[] = []
      await until('three actuations', async () => {
        actuations = []
        for await (const r of readToEnd(log, 'actuations')) actuations.push(JSON.parse(r.value.toString()) as Actuation)
        return actuations.length === 3
      }, 10_000)
      assert.deepEqual(actuations.map((a) => [a.ip, a.outcome]), [['198.51.100.1', 'applied'], ['198.51.100.2', 'applied'], ['198.51.100.3', 'failed']])
      assert.match(actuations[2]!.error!, /^set bs-small is full: .*Hash is full/)
      const text = await registry.metrics()
      assert.match(text, /^banstream_actuator_set_full_total\{backend="ipset",jail="small"\} 1$/m)
      assert.match(text, /^banstream_actuations_total\{backend="ipset",outcome="applied"\} 2$/m)
      assert.match(text, /^banstream_actuations_total\{backend="ipset",outcome="failed"\} 1$/m)
    } finally {
      await worker.stop()
      await fail2banLog.close()
      await log.close()
    }
  })
})
