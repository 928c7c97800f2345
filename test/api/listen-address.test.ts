import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseListenAddress } from '../../src/api/listen-address.js'

test('host:port, [v6]:port and :port are listen addresses; anything else is not', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 })
  assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 })
  assert.deepEqual(parseListenAddress('[::1]:9464'), { host: '::1', port: 9464 })
  assert.deepEqual(parseListenAddress(':9464'), { host: '127.0.0.1', port: 9464 })
  for (const bad of ['9464', '127.0.0.1', '::1:9464', '127.0.0.1:65536', '127.0.0.1:port', 'a b:1', '[::1]:', '']) {
    assert.equal(parseListenAddress(bad), undefined, bad)
  }
})
