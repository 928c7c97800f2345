import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { addressLines, inRuns, SerialQueue, triage } from '../../../sinks/actuators/backend-kit.js'
import { ban, lift } from './decision-fixtures.js'

describe('backend kit', () => {
  test('a listing of addresses reads as canonical addresses and networks, skipping other lines', () => {
    const shown = '   192.0.2.7\n   2001:db8:0::1\n   198.51.100.0/24\nNo ALTQ support in kernel\n\n'
    assert.deepEqual(addressLines(shown), new Set(['192.0.2.7', '2001:db8::1', '198.51.100.0/24']))
  })

  test('triage fails what locate refuses, skips bans already over and keeps the rest with their target', () => {
    const now = Date.now()
    const good = ban('sshd', '192.0.2.1', 600)
    const over = { ...ban('sshd', '192.0.2.2', 600), expires_at: new Date(now - 1000).toISOString() }
    const stranger = ban('nginx', '192.0.2.3', 600)
    const lifted = lift(over)
    const { outcomes, pending } = triage([good, over, stranger, lifted],
      (d) => (d.jail === 'sshd' ? { where: `set-${d.ip}` } : { error: `jail ${d.jail} is not here` }), now)
    assert.deepEqual(pending, [{ where: 'set-192.0.2.1', decision: good }, { where: 'set-192.0.2.2', decision: lifted }])
    assert.equal(outcomes.get(over)!.outcome, 'skipped')
    assert.deepEqual(outcomes.get(stranger), { decision_event_id: stranger.event_id, jail: 'nginx', ip: '192.0.2.3', outcome: 'failed', error: 'jail nginx is not here' })
  })

  test('decisions are carried out a run of bans or of lifts at a time, outcomes in their order', async () => {
    const a = ban('sshd', '192.0.2.1', 600)
    const b = ban('sshd', '192.0.2.2', 600)
    const runs: string[] = []
    const outcomes = await inRuns([a, b, lift(a), b],
      async (bans) => { runs.push(`ban ${bans.length}`); return bans.map((x) => ({ decision_event_id: x.event_id, jail: x.jail, ip: x.ip, outcome: 'applied' as const })) },
      async (lifts) => { runs.push(`lift ${lifts.length}`); return lifts.map((x) => ({ decision_event_id: x.event_id, jail: x.jail, ip: x.ip, outcome: 'removed' as const })) })
    assert.deepEqual(runs, ['ban 2', 'lift 1', 'ban 1'])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'applied', 'removed', 'applied'])
  })

  test('a serial queue runs one step at a time, in order, past a step that rejects', async () => {
    const queue = new SerialQueue()
    const seen: number[] = []
    let release!: () => void
    const first = queue.run(() => new Promise<void>((r) => { release = r }).then(() => { seen.push(1) }))
    const failing = queue.run(async () => { seen.push(2); throw new Error('boom') })
    const third = queue.run(async () => { seen.push(3) })
    await Promise.resolve()
    assert.deepEqual(seen, [])
    release()
    await first
    await assert.rejects(failing, /boom/)
    await third
    assert.deepEqual(seen, [1, 2, 3])
  })
})
