import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lineBatchOf, lineBatchRecord, LineRecordError } from '../../src/log/line-batch-record.js'
import type { LogRecord } from '../../src/log/log.js'
import type { LineBatch } from '../../src/sources/source.js'

function stored(batch: LineBatch): LogRecord {
  const record = lineBatchRecord(batch)
  return { ...record, key: record.key, headers: record.headers ?? {}, timestamp: 0, topic: 'lines', partition: 0, offset: 7 }
}

test('a batch survives the lines record byte for byte, invalid UTF-8, empty lines and its backlog mark included', () => {
  const batch: LineBatch = {
    stream: '/var/log/auth.log',
    host: 'mail1',
    lines: [Buffer.from('Nov 22 03:00:01 mail1 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2'), Buffer.alloc(0), Buffer.from([0xff, 0xfe, 0x41])],
    position: { path: '/var/log/auth.log', dev: '1', ino: '2', offset: 123 },
    received_at: 1_790_000_000_000,
    backlog: true,
  }
  const back = lineBatchOf(stored(batch))
  assert.deepEqual(back, batch)
  assert.equal(stored(batch).key!.toString(), 'mail1')
})

test('journal times travel with their lines', () => {
  const batch: LineBatch = { stream: 'journald:sshd', host: 'h', lines: [Buffer.from('a'), Buffer.from('b')], times: [1, 2], received_at: 5 }
  assert.deepEqual(lineBatchOf(stored(batch)).times, [1, 2])
})

test('a record that does not hold the lines its header counts is refused with its place named', () => {
  const record = stored({ stream: 's', host: 'h', lines: [Buffer.from('a')], received_at: 1 })
  record.headers['count'] = '2'
  assert.throws(() => lineBatchOf(record), (e: Error) => e instanceof LineRecordError && /lines record 0\/7/.test(e.message))
  assert.throws(() => lineBatchOf({ ...record, headers: {} }), LineRecordError)
})
