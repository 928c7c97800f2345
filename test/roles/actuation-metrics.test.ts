import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import type { Actuation } from '../../schemas/events/actuation.js'
import { ActuationMetrics, isSetFull } from '../../src/roles/actuation-metrics.js'

function actuation(backend: string, jail: string, outcome: Actuation['outcome'], error?: string): Actuation {
  return {
    type: 'Actuation', event_id: `a-${backend}-${jail}-${outcome}`, decision_event_id: 'ban-1', host: 'srv', jail, ip: '192.0.2.7',
    backend, action: `${backend}[port=ssh]`, outcome, ...(error !== undefined ? { error } : {}), occurred_at: '2026-11-22T06:00:00.000Z',
  }
}

async function values(registry: Registry, name: string): Promise<[Record<string, unknown>, number][]> {
  const metric = await registry.getSingleMetric(name)!.get()
  return metric.values.map((v) => [v.labels, v.value] as [Record<string, unknown>, number]).sort((a, b) => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0])))
}

test('each actuation counts once under its backend and outcome', async () => {
  const registry = new Registry()
  new ActuationMetrics(registry).count([
    actuation('nftables', 'sshd', 'applied'), actuation('nftables', 'sshd', 'applied'), actuation('nftables', 'sshd', 'removed'),
    actuation('ipset', 'sshd', 'failed', 'ipset v7.17: Kernel error received: Operation not permitted'), actuation('dry-run', 'sshd', 'dry-run'),
  ])
  assert.deepEqual(await values(registry, 'banstream_actuations_total'), [
    [{ backend: 'dry-run', outcome: 'dry-run' }, 1],
    [{ backend: 'ipset', outcome: 'failed' }, 1],
    [{ backend: 'nftables', outcome: 'applied' }, 2],
    [{ backend: 'nftables', outcome: 'removed' }, 1],
  ])
  assert.deepEqual(await values(registry, 'banstream_actuator_set_full_total'), [])
})

test('a ban failed on a full set counts under its backend and jail as well', async () => {
  const registry = new Registry()
  const metrics = new ActuationMetrics(registry)
  metrics.count([actuation('ipset', 'postfix', 'failed', 'set bs-postfix is full: ipset v7.17: Error in line 3: Hash is full, cannot add more elements')])
  metrics.count([actuation('nftables', 'sshd', 'failed', 'set sshd-v4 is full: Error: Could not process rule: Too many open files in system')])
  assert.deepEqual(await values(registry, 'banstream_actuator_set_full_total'), [
    [{ backend: 'ipset', jail: 'postfix' }, 1],
    [{ backend: 'nftables', jail: 'sshd' }, 1],
  ])
  assert.match(await registry.metrics(), /^banstream_actuations_total\{backend="ipset",outcome="failed"\} 1$/m)
})

test('only a failure worded "set <name> is full: " is a full set', () => {
  assert.equal(isSetFull({ outcome: 'failed', error: 'set bs-sshd is full: Hash is full' }), true)
  assert.equal(isSetFull({ outcome: 'failed', error: 'Hash is full' }), false)
  assert.equal(isSetFull({ outcome: 'failed' }), false)
  assert.equal(isSetFull({ outcome: 'applied', error: 'set bs-sshd is full: Hash is full' }), false)
})
