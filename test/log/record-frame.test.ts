import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame, encodeFrame, frameBytes, MIN_FRAME_BYTES } from '../../src/log/record-frame.js'

test('a frame decodes to the record it encodes', () => {
  const frame = encodeFrame(2 ** 40 + 7, 1_123_997_600_000, Buffer.from('192.0.2.1'), Buffer.from('sshd failure'), { source: 'host-a', 'content-type': 'application/json' })
  const result = decodeFrame(frame, 0, frame.length)
  assert.equal(result.status, 'ok')
  if (result.status !== 'ok') return
  assert.equal(result.size, frame.length)
  assert.equal(result.frame.offset, 2 ** 40 + 7)
  assert.equal(result.frame.timestamp, 1_123_997_600_000)
  assert.equal(result.frame.key?.toString(), '192.0.2.1')
  assert.equal(result.frame.value.toString(), 'sshd failure')
  assert.deepEqual(result.frame.headers, { source: 'host-a', 'content-type': 'application/json' })
})

test('a null key and an empty key stay distinct', () => {
  const none = decodeFrame(encodeFrame(0, 0, null, Buffer.from('v'), {}), 0, 1000)
  const empty = decodeFrame(encodeFrame(0, 0, Buffer.alloc(0), Buffer.from('v'), {}), 0, 1000)
  assert.ok(none.status === 'ok' && empty.status === 'ok')
  assert.equal(none.frame.key, null)
  assert.deepEqual(empty.frame.key, Buffer.alloc(0))
})

test('frameBytes predicts the encoded size and the smallest frame is MIN_FRAME_BYTES', () => {
  const headers = { 'héader': 'välue' }
  assert.equal(frameBytes(Buffer.from('k'), Buffer.from('value'), headers), encodeFrame(1, 2, Buffer.from('k'), Buffer.from('value'), headers).length)
  assert.equal(encodeFrame(0, 0, null, Buffer.alloc(0), {}).length, MIN_FRAME_BYTES)
})

test('a flipped byte in the body is a CRC mismatch', () => {
  const frame = encodeFrame(3, 0, null, Buffer.from('Failed password for root'), {})
  frame[frame.length - 5] = frame[frame.length - 5]! ^ 0x01
  assert.deepEqual(decodeFrame(frame, 0, frame.length), { status: 'corrupt', reason: 'CRC mismatch' })
})

test('a frame cut short asks for the bytes it still needs', () => {
  const frame = encodeFrame(3, 0, null, Buffer.from('value'), {})
  assert.deepEqual(decodeFrame(frame.subarray(0, 5), 0, 1000), { status: 'short', size: 8 })
  assert.deepEqual(decodeFrame(frame.subarray(0, frame.length - 1), 0, 1000), { status: 'short', size: frame.length })
})

test('a length beyond what the file can hold is corruption, not a short read', () => {
  const frame = encodeFrame(3, 0, null, Buffer.from('value'), {})
  assert.equal(decodeFrame(frame, 0, frame.length - 9).status, 'corrupt')
})
