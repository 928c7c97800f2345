import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { RouteActuator } from '../../../sinks/actuators/route-actuator.js'
import { parseRouteListing, routeJail, routeListArgv } from '../../../sinks/actuators/route-commands.js'
import { connectFrom, namespacePair, namespaceSkipReason, serveIn, sh, type NamespacePair } from '../../netns/netns-kit.js'
import { ban, lift, until } from './decision-fixtures.js'

// A real kernel: the actuator adds its routes inside the server's namespace; the
// server's replies to a banned client go nowhere, so the client's connect times out.
const PORT = 2222

const skip = await namespaceSkipReason()
if (skip) console.log(`# skipping the route namespace tests: ${skip}`)
let pair: NamespacePair

const connect = (host: string) => connectFrom(pair.client, host, PORT)
const inServer = (...argv: string[]) => sh('ip', 'netns', 'exec', pair.server, ...argv)

async function ours(family: 4 | 6): Promise<Map<string, string>> {
  return parseRouteListing(await inServer(...routeListArgv(family, 201)))
}

describe('route actuator in network namespaces', { skip }, () => {
  let listener: { close(): Promise<void> } | undefined
  const jails = [routeJail('sshd', {}), routeJail('postfix', { blocktype: 'blackhole' })]
  let actuator: RouteActuator

  before(async () => {
    pair = await namespacePair()
    actuator = new RouteActuator({ jails, command_prefix: ['ip', 'netns', 'exec', pair.server], command_timeout_ms: 10_000 })
    listener = serveIn(pair.server, PORT)
    await until('the listener', async () => (await connect('192.0.2.1')) === 'connected', 10_000)
    assert.deepEqual(await actuator.setup(), { ok: true })
  })

  after(async () => {
    await listener?.close()
    await pair?.remove()
  })

  test('a banned IPv4 client cannot connect, and can again once unbanned', async () => {
    const b = ban('sshd', '192.0.2.2', 600)
    assert.deepEqual(await actuator.actuate([b]), [{ decision_event_id: b.event_id, jail: 'sshd', ip: '192.0.2.2', outcome: 'applied' }])
    assert.deepEqual(await ours(4), new Map([['192.0.2.2', 'unreachable']]))
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.deepEqual(await actuator.actuate([lift(b)]), [{ decision_event_id: `lift-${b.event_id}`, jail: 'sshd', ip: '192.0.2.2', outcome: 'removed' }])
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a banned IPv6 network is blackholed, and passes once unbanned', async () => {
    assert.equal(await connect('2001:db8::1'), 'connected')
    // Narrower than the link's /64: the longest prefix wins over the connected route.
    const b = ban('postfix', '2001:db8::/120', 600)
    assert.equal((await actuator.actuate([b]))[0]!.outcome, 'applied')
    assert.deepEqual(await ours(6), new Map([['2001:db8::/120', 'blackhole']]))
    assert.equal(await connect('2001:db8::1'), 'timeout')
    await actuator.actuate([lift(b)])
    assert.equal(await connect('2001:db8::1'), 'connected')
  })

  test('applying a ban twice and lifting an absent one both succeed', async () => {
    const b = ban('sshd', '192.0.2.9', 600)
    assert.deepEqual((await actuator.actuate([b, b])).map((o) => o.outcome), ['applied', 'applied'])
    assert.equal((await actuator.actuate([b]))[0]!.outcome, 'applied')
    assert.deepEqual((await actuator.actuate([lift(b), lift(b)])).map((o) => o.outcome), ['removed', 'removed'])
    assert.deepEqual(await ours(4), new Map())
  })

  test('a route two jails need stays until both lift', async () => {
    const a = ban('sshd', '192.0.2.10', 600)
    const b = ban('postfix', '192.0.2.10', 600)
    await actuator.actuate([a, b])
    await actuator.actuate([lift(a)])
    assert.deepEqual(await ours(4), new Map([['192.0.2.10', 'unreachable']]))
    await actuator.actuate([lift(b)])
    assert.deepEqual(await ours(4), new Map())
  })

  test('a route of the system to the same address is neither counted as ours nor deleted', async () => {
    await inServer('ip', 'route', 'add', '192.0.2.11', 'dev', 'lo')
    const b = ban('sshd', '192.0.2.11', 600)
    const [applied] = await actuator.actuate([b])
    assert.equal(applied!.outcome, 'failed')
    assert.match(applied!.error!, /File exists/)
    assert.equal((await actuator.actuate([lift(b)]))[0]!.outcome, 'removed')
    assert.match(await inServer('ip', 'route', 'show', '192.0.2.11'), /^192\.0\.2\.11 dev lo/)
    await inServer('ip', 'route', 'del', '192.0.2.11', 'dev', 'lo')
  })

  test('a route deleted by hand comes back on reconcile, and routes of ended bans go', async () => {
    const kept = ban('sshd', '192.0.2.2', 600)
    const ended = ban('sshd', '192.0.2.12', 600)
    await actuator.actuate([kept, ended])
    await inServer('ip', 'route', 'del', '192.0.2.2', 'proto', '201')
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.deepEqual(await actuator.reconcile([kept]), { ok: true, added: 1, removed: 1 })
    assert.deepEqual(await ours(4), new Map([['192.0.2.2', 'unreachable']]))
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.deepEqual(await actuator.reconcile([]), { ok: true, added: 0, removed: 1 })
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a unicast route tagged with our number is no ban: the ban fails, and reconcile replaces the route', async () => {
    await inServer('ip', 'route', 'add', '192.0.2.14', 'dev', 'lo', 'proto', '201')
    const b = ban('sshd', '192.0.2.14', 600)
    const [applied] = await actuator.actuate([b])
    assert.equal(applied!.outcome, 'failed')
    assert.match(applied!.error!, /File exists/)
    assert.deepEqual(await actuator.reconcile([b]), { ok: true, added: 1, removed: 1 })
    assert.deepEqual(await ours(4), new Map([['192.0.2.14', 'unreachable']]))
    assert.deepEqual(await actuator.reconcile([]), { ok: true, added: 0, removed: 1 })
  })

  test('a ban already past its expiry is skipped, not routed', async () => {
    const old = { ...ban('sshd', '192.0.2.13', 600), expires_at: new Date(Date.now() - 1000).toISOString() }
    assert.equal((await actuator.actuate([old]))[0]!.outcome, 'skipped')
    assert.deepEqual(await ours(4), new Map())
  })
})
