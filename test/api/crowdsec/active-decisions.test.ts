import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ActiveDecisions } from '../../../src/api/crowdsec/active-decisions.js'
import { decisionFilter } from '../../../src/api/crowdsec/decision-feed.js'
import type { BannedEntry } from '../../../src/api/control/control-port.js'

const NOW = Date.parse('2026-11-22T10:00:00Z')

/** The bans as the control port lists them: fresh objects at every call. */
function listed(): BannedEntry[] {
  return [
    { jail: 'sshd', ip: '192.0.2.1', expires_at: '2026-11-22T11:00:00.000Z', event_id: 'a' },
    { jail: 'recidive', ip: '2001:db8::/64', expires_at: null, event_id: 'b' },
  ]
}

describe('ActiveDecisions', () => {
  test('gives the same map while the listed bans are the same, as a bouncer with nothing new is told', () => {
    const decisions = new ActiveDecisions()
    const first = decisions.of(listed(), NOW)
    assert.deepEqual([...first.keys()], ['192.0.2.1', '2001:db8::/64'])
    assert.equal(decisions.of(listed(), NOW + 60_000), first)
  })

  test('builds anew when a ban is added, lifted or issued again', () => {
    const decisions = new ActiveDecisions()
    const first = decisions.of(listed(), NOW)
    const added = decisions.of([...listed(), { jail: 'sshd', ip: '192.0.2.7', expires_at: '2026-11-22T11:00:00.000Z', event_id: 'c' }], NOW)
    assert.notEqual(added, first)
    assert.deepEqual([...added.keys()], ['192.0.2.1', '2001:db8::/64', '192.0.2.7'])
    assert.deepEqual([...decisions.of(listed().slice(1), NOW).keys()], ['2001:db8::/64'])
    const reissued = listed()
    reissued[0] = { ...reissued[0]!, event_id: 'd' }
    assert.notEqual(decisions.of(reissued, NOW).get('192.0.2.1')!.decision.id, first.get('192.0.2.1')!.decision.id)
  })

  test('drops a ban once it has ended, though the list still holds it', () => {
    const decisions = new ActiveDecisions()
    decisions.of(listed(), NOW)
    assert.deepEqual([...decisions.of(listed(), NOW + 3_600_000).keys()], ['2001:db8::/64'])
  })

  test('gives each filter its own view, the same one while the decisions stay', () => {
    const decisions = new ActiveDecisions()
    const ranges = decisionFilter({ scopes: 'range' })
    const view = decisions.filtered(listed(), NOW, ranges)
    assert.deepEqual([...view.keys()], ['2001:db8::/64'])
    assert.deepEqual([...decisions.filtered(listed(), NOW, decisionFilter({})).keys()], ['192.0.2.1'])
    assert.equal(decisions.filtered(listed(), NOW, ranges), view)
  })
})
