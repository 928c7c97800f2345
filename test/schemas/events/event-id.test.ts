import { test } from 'node:test'
import assert from 'node:assert/strict'
import { eventId, recordEventId, uniformFromId } from '../../../schemas/events/event-id.js'

test('the same input position gives the same id', () => {
  assert.equal(recordEventId('failures', 3, 1042, 'sshd'), recordEventId('failures', 3, 1042, 'sshd'))
})

test('another position or jail gives another id', () => {
  const id = recordEventId('failures', 3, 1042, 'sshd')
  assert.notEqual(recordEventId('failures', 3, 1043, 'sshd'), id)
  assert.notEqual(recordEventId('failures', 3, 1042, 'postfix'), id)
})

test('parts do not run into each other', () => {
  assert.notEqual(eventId('ab', 'c'), eventId('a', 'bc'))
})

test('an id is shaped as a version 8 UUID', () => {
  assert.match(eventId('x'), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
})

test('draws the same number in [0, 1) from the same id', () => {
  const u = uniformFromId('ban-1')
  assert.equal(uniformFromId('ban-1'), u)
  assert.ok(u >= 0 && u < 1)
})

test('ids stay what earlier versions made, so a history that keeps them still drops redelivered events', () => {
  assert.equal(eventId('FailureDetected', 'mx1', '/var/log/mail.log', '{"offset":123456}', 17, 0, 'sshd'), '3ecb1742-e798-8ead-9eeb-4259f4b28f95')
})
