import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FailureDetected } from '../../../schemas/events/failure-detected.js'
import { Decision } from '../../../schemas/events/decision.js'
import { assertValid, decodeEvent, InvalidEventError, validate } from '../../../schemas/events/validate.js'

const failure = {
  type: 'FailureDetected', event_id: 'e1', jail: 'sshd', ip: '192.0.2.1', host: 'mail1',
  matches: ['Failed password for root from 192.0.2.1'], occurred_at: '2005-08-14T12:00:00+02:00',
  source: '/var/log/auth.log', regex_index: 0,
}

test('accepts a well-formed failure', () => {
  assert.equal(validate(FailureDetected, failure).ok, true)
})

test('names the field a malformed event lacks', () => {
  const { ip: _, ...noIp } = failure
  const result = validate(FailureDetected, noIp)
  assert.equal(result.ok, false)
  assert.ok(!result.ok && result.errors.some((e) => e.startsWith('/ip')))
})

test('rejects a time that is not an RFC 3339 date-time', () => {
  assert.equal(validate(FailureDetected, { ...failure, occurred_at: 'Aug 14 12:00:00' }).ok, false)
})

test('rejects fields the schema does not know', () => {
  assert.equal(validate(FailureDetected, { ...failure, extra: 1 }).ok, false)
})

test('tells a ban from a lift by type', () => {
  const lift = { type: 'BanLifted', event_id: 'l1', ban_event_id: 'b1', jail: 'sshd', ip: '192.0.2.1', occurred_at: '2005-08-14T10:10:00Z', reason: 'expired' }
  assert.equal(validate(Decision, lift).ok, true)
  assert.equal(validate(Decision, { ...lift, type: 'BanIssued' }).ok, false)
})

test('decodes a JSON record and reports one that is not JSON', () => {
  assert.equal(decodeEvent(FailureDetected, Buffer.from(JSON.stringify(failure))).ok, true)
  assert.equal(decodeEvent(FailureDetected, '{not json').ok, false)
})

test('assertValid throws a coded error', () => {
  assert.throws(() => assertValid(FailureDetected, {}), (e: unknown) => e instanceof InvalidEventError && e.code === 'BANSTREAM_ERR_INVALID_EVENT')
})

test('takes a time in the form toISOString writes exactly when Date.parse reads it', () => {
  for (const month of ['00', '01', '02', '12', '13']) {
    for (const day of ['00', '01', '28', '29', '30', '31', '32']) {
      for (const clock of ['00:00:00.000', '23:59:59.999', '24:00:00.000', '12:60:00.000', '12:00:60.000']) {
        const occurred_at = `2026-${month}-${day}T${clock}Z`
        assert.equal(validate(FailureDetected, { ...failure, occurred_at }).ok, !Number.isNaN(Date.parse(occurred_at)), occurred_at)
      }
    }
  }
})
