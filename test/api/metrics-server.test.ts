import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Counter, Registry } from 'prom-client'
import { parseListenAddress, startMetricsServer } from '../../src/api/metrics-server.js'

test('host:port, [v6]:port and :port are listen addresses; anything else is not', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 })
  assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 })
  assert.deepEqual(parseListenAddress('[::1]:9464'), { host: '::1', port: 9464 })
  assert.deepEqual(parseListenAddress(':9464'), { host: '127.0.0.1', port: 9464 })
  for (const bad of ['9464', '127.0.0.1', '::1:9464', '127.0.0.1:65536', '127.0.0.1:port', 'a b:1', '[::1]:', '']) {
    assert.equal(parseListenAddress(bad), undefined, bad)
  }
})

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
