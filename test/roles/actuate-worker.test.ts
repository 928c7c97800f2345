import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome, ActuatorBackend } from '../../sinks/actuators/actuator-backend.js'
import type { JailActions } from '../../src/roles/jail-actions.js'
import { ban, until } from '../sinks/actuators/decision-fixtures.js'
import { startActuating } from './actuate-kit.js'

/** A backend that records what it was given; `hold` keeps each call pending until released. */
function recording(name: string, options: { detached?: boolean; hold?: boolean } = {}) {
  const applied: string[] = []
  const held: (() => void)[] = []
  const backend: ActuatorBackend = {
    name,
    ...(options.detached ? { detached: true } : {}),
    setup: async () => ({ ok: true }),
    actuate: async (decisions: readonly Decision[]): Promise<ActuationOutcome[]> => {
      if (options.hold) await new Promise<void>((release) => held.push(release))
      applied.push(...decisions.map((d) => d.ip))
      return decisions.map((d) => ({ decision_event_id: d.event_id, jail: d.jail, ip: d.ip, outcome: 'applied' }))
    },
  }
  return { backend, applied, release: () => held.splice(0).forEach((r) => r()) }
}

test('a notification that hangs holds back no ban: the firewall applies the next decisions meanwhile, and the mail is recorded once told', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-actuate-worker-'))
  const firewall = recording('nftables')
  const mail = recording('mail', { detached: true, hold: true })
  const actions: JailActions = {
    of: () => [{ backend: 'mail:sendmail-whois', text: 'sendmail-whois' }, { backend: 'nftables', text: 'nftables' }],
    backends: new Map([['mail:sendmail-whois', mail.backend], ['nftables', firewall.backend]]),
  }
  const actuating = await startActuating(dir, 'mx1', actions)
  t.after(async () => {
    mail.release()
    await actuating.stop()
    await rm(dir, { recursive: true, force: true })
  })
  await actuating.decide([ban('sshd', '192.0.2.1', 600)])
  await until('the first ban applied', async () => firewall.applied.includes('192.0.2.1'), 10_000)
  await actuating.decide([ban('sshd', '192.0.2.2', 600)])
  await until('the second ban applied while the first mail still hangs', async () => firewall.applied.includes('192.0.2.2'), 10_000)
  assert.deepEqual(mail.applied, [])
  assert.deepEqual((await actuating.actuations()).map((a) => [a.backend, a.ip]), [['nftables', '192.0.2.1'], ['nftables', '192.0.2.2']])
  mail.release()
  await until('both mails recorded', async () => (await actuating.actuations()).filter((a) => a.backend === 'mail').length === 2, 10_000)
})
