import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { clickHouseTime, storableEventJson, UnstorableEventError } from '../../../schemas/clickhouse/rows.js'
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

/** What storableEventJson gives for the event written as `text`, as bytes. */
function storable(event: object, columns = failures, text = JSON.stringify(event)): Buffer {
  return storableEventJson(Buffer.from(text), JSON.parse(text) as Record<string, unknown>, columns)
}

describe('storableEventJson', () => {
  it('gives the JSON itself when its address and times are canonical', () => {
    const event = { ...failure, occurred_at: '2026-11-22T09:00:00.500Z' }
    const json = Buffer.from(JSON.stringify(event))
    assert.equal(storableEventJson(json, event, failures), json)
    const network = { ...event, ip: '2001:db8:1::/48' }
    assert.deepEqual(storable(network), Buffer.from(JSON.stringify(network)))
  })

  it('writes the event anew with its address and times canonical when they are not', () => {
    const written = JSON.parse(storable({ ...failure, ip: '::ffff:192.0.2.7' }).toString('utf8')) as unknown
    assert.deepEqual(written, { ...failure, occurred_at: '2026-11-22T09:00:00.500Z' })
    const rolled = JSON.parse(storable({ ...failure, ip: '2001:DB8:0:0::1/64', occurred_at: '2026-02-30t00:00:00z' }).toString('utf8')) as unknown
    assert.deepEqual(rolled, { ...failure, ip: '2001:db8::/64', occurred_at: '2026-03-02T00:00:00.000Z' })
  })

  it('writes every time of a decision canonical and keeps a null one null', () => {
    const ban: BanIssued = {
      type: 'BanIssued', event_id: '1b7d7a52-7d5c-8f3e-9d1a-2b4c6d8e0f12', cause_event_id: failure.event_id, jail: 'sshd', ip: '192.0.2.0/24', failures: 5, ban_time_secs: 600,
      ban_count: 1, expires_at: '2026-11-22T10:10:00+01:00', occurred_at: '2026-11-22T09:00:00.000Z', reason: 'threshold', matches: [],
    }
    assert.deepEqual(JSON.parse(storable(ban, decisions).toString('utf8')), { ...ban, expires_at: '2026-11-22T09:10:00.000Z' })
    const permanent = { ...ban, expires_at: null, occurred_at: '2026-11-22T09:00:00.000Z' }
    assert.deepEqual(storable(permanent, decisions), Buffer.from(JSON.stringify(permanent)))
    const lift: BanLifted = {
      type: 'BanLifted', event_id: '2b7d7a52-7d5c-8f3e-9d1a-2b4c6d8e0f12', ban_event_id: ban.event_id, jail: 'sshd', ip: '192.0.2.0/24',
      occurred_at: '2026-11-22T09:10:00.000Z', reason: 'expired',
    }
    assert.deepEqual(storable(lift, decisions), Buffer.from(JSON.stringify(lift)))
  })

  it('writes the event anew, on one line and in UTF-8, when its JSON has a line break or other bytes', () => {
    const event = { ...failure, occurred_at: '2026-11-22T09:00:00.500Z' }
    assert.deepEqual(storable(event, failures, JSON.stringify(event, null, 2)), Buffer.from(JSON.stringify(event)))
    const latin1 = Buffer.from(JSON.stringify({ ...event, user: 'caf\u00e9', matches: ['caf\u00e9'] }), 'latin1')
    const decoded = JSON.parse(latin1.toString('utf8')) as Record<string, unknown>
    assert.deepEqual(storableEventJson(latin1, decoded, failures), Buffer.from(JSON.stringify({ ...event, user: 'caf\ufffd', matches: ['caf\ufffd'] })))
  })

  it('refuses an address that is none and a time that is none', () => {
    assert.throws(() => storable({ ...failure, ip: 'mail.example.com' }), UnstorableEventError)
    assert.throws(() => storable({ ...failure, occurred_at: 'yesterday' }), UnstorableEventError)
    for (const day of ['2026-11-00', '2026-13-01', '2026-00-10']) {
      assert.throws(() => storable({ ...failure, occurred_at: `${day}T09:00:00.000Z` }), UnstorableEventError, day)
    }
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
