import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { clickHouseTime, eventRow, eventRowJson, UnstorableEventError } from '../../../schemas/clickhouse/rows.js'
import { eventTable } from '../../../schemas/clickhouse/tables.js'
import type { BanIssued } from '../../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../../schemas/events/ban-lifted.js'
import type { FailureDetected } from '../../../schemas/events/failure-detected.js'

const failures = eventTable('failures').columns
const decisions = eventTable('decisions').columns

const failure: FailureDetected = {
  type: 'FailureDetected', event_id: '0b7d7a52-7d5c-8f3e-9d1a-2b4c6d8e0f12', jail: 'sshd', ip: '192.0.2.7', host: 'mx1', user: "o'brien \"ip\":\"x\"",
  matches: ['Failed password for root from 192.0.2.7 "occurred_at":"2026-01-01T00:00:00.000Z"', 'ünïcödé ✓'],
  occurred_at: '2026-11-22T10:00:00.5+01:00', source: '/var/log/auth.log', regex_index: 2,
}

/** The row eventRowJson splices from the event's JSON text, read back as an object. */
function spliced(event: object, columns = failures, text = JSON.stringify(event)): unknown {
  const json = eventRowJson(Buffer.from(text), JSON.parse(text) as Record<string, unknown>, columns)
  return json === null ? null : JSON.parse(json.toString('utf8'))
}

describe('eventRowJson', () => {
  it('gives the row eventRow gives, with the address and times in their stored forms', () => {
    assert.deepEqual(spliced(failure), eventRow(failure, failures))
    assert.deepEqual(spliced({ ...failure, ip: '2001:db8:1::/48' }), eventRow({ ...failure, ip: '2001:db8:1::/48' }, failures))
  })

  it('replaces every time of a decision and keeps a null one null', () => {
    const ban: BanIssued = {
      type: 'BanIssued', event_id: '1b7d7a52-7d5c-8f3e-9d1a-2b4c6d8e0f12', cause_event_id: failure.event_id, jail: 'sshd', ip: '192.0.2.0/24', failures: 5, ban_time_secs: 600,
      ban_count: 1, expires_at: '2026-11-22T09:10:00.000Z', occurred_at: '2026-11-22T09:00:00.000Z', reason: 'threshold', matches: [],
    }
    assert.deepEqual(spliced(ban, decisions), eventRow(ban, decisions))
    const permanent = { ...ban, expires_at: null }
    assert.deepEqual(spliced(permanent, decisions), { ...(eventRow(permanent, decisions) as object), expires_at: null })
    const lift: BanLifted = {
      type: 'BanLifted', event_id: '2b7d7a52-7d5c-8f3e-9d1a-2b4c6d8e0f12', ban_event_id: ban.event_id, jail: 'sshd', ip: '192.0.2.0/24',
      occurred_at: '2026-11-22T09:10:00.000Z', reason: 'expired',
    }
    assert.deepEqual(spliced(lift, decisions), eventRow(lift, decisions))
  })

  it('declines JSON that is not in the compact form, has a line break or is not UTF-8', () => {
    assert.equal(spliced(failure, failures, JSON.stringify(failure, null, 2)), null)
    assert.equal(spliced(failure, failures, JSON.stringify(failure).replace('"ip":', '"ip" :')), null)
    assert.equal(spliced(failure, failures, JSON.stringify(failure).replace('"ip":"192', '"ip":"\\u0031\\u0039\\u0032')), null)
    const latin1 = Buffer.from(JSON.stringify({ ...failure, user: 'caf\u00e9' }), 'latin1')
    assert.equal(eventRowJson(latin1, { ...failure, user: 'caf\u00e9' }, failures), null)
  })
})

describe('clickHouseTime', () => {
  it('writes any RFC 3339 time in UTC with milliseconds, rolling an impossible day over as Date.parse does', () => {
    assert.equal(clickHouseTime('2026-11-22T09:00:00.123Z'), '2026-11-22 09:00:00.123')
    assert.equal(clickHouseTime('2026-11-22T10:00:00.5+01:00'), '2026-11-22 09:00:00.500')
    assert.equal(clickHouseTime('2026-11-22t09:00:00z'), '2026-11-22 09:00:00.000')
    assert.equal(clickHouseTime('2026-02-30T00:00:00.000Z'), '2026-03-02 00:00:00.000')
    assert.equal(clickHouseTime('2024-02-29T23:59:59.999Z'), '2024-02-29 23:59:59.999')
    assert.throws(() => clickHouseTime('2026-11-22T09:00:60.000Z'), UnstorableEventError)
  })
})
