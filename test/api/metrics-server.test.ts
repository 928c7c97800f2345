import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Counter, Registry } from 'prom-client'
import { startMetricsServer } from '../../src/api/metrics-server.js'

test('the metrics server answers GET /metrics with the registry in Prometheus text format, and nothing else', async () => {
  const registry = new Registry()
  new Counter({ name: 'banstream_test_total', help: 'a test counter', registers: [registry] }).inc(3)
  const app = await startMetricsServer(registry, { host: '127.0.0.1', port: 0 })
  try {
    const address = app.server.address()
    assert.ok(address !== null && typeof address === 'object')
    const res = await fetch(`http://127.0.0.1:${address.port}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    assert.match(await res.text(), /^banstream_test_total 3$/m)
    assert.equal((await fetch(`http://127.0.0.1:${address.port}/v1/bans`)).status, 404)
  } finally {
    await app.close()
  }
})
