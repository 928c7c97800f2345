import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ExecActuator } from '../../../sinks/actuators/exec-actuator.js'
import { runCommand } from '../../../sinks/actuators/run-command.js'
import type { JailConfig } from '../../../src/config/jail-config.js'
import { loadExecAction } from '../../../src/roles/exec-action.js'
import { connectFrom, namespacePair, namespaceSkipReason, serveIn, sh, type NamespacePair } from '../../netns/netns-kit.js'
import { ban, lift, until } from './decision-fixtures.js'

// fail2ban's own iptables.conf and route.conf, run by the exec backend inside the server's
// namespace: the client's packets are really refused or dropped.
const FAIL2BAN = '/work/shared/fail2ban'
const PORT = 2222

async function skipReason(): Promise<string | false> {
  const ns = await namespaceSkipReason()
  if (ns) return ns
  for (const tool of ['iptables', 'ip6tables']) {
    const r = await runCommand([tool, '-V'], '', 5_000)
    if (r.code !== 0) return `${tool} unavailable: ${r.stderr.trim()}`
  }
  return false
}
const skip = await skipReason()
if (skip) console.log(`# skipping the exec namespace tests: ${skip}`)

const jail = (name: string): JailConfig => ({ name, enabled: true, options: {}, actions: [], logpath: [] })

describe('exec actuator with fail2ban action files in network namespaces', { skip }, () => {
  let pair: NamespacePair
  let listener: { close(): Promise<void> } | undefined
  let inServer: (...argv: string[]) => Promise<string>
  const connect = (host: string) => connectFrom(pair.client, host, PORT)

  before(async () => {
    pair = await namespacePair()
    inServer = (...argv) => sh('ip', 'netns', 'exec', pair.server, ...argv)
    listener = serveIn(pair.server, PORT)
    await until('the listener', async () => (await connect('192.0.2.1')) === 'connected', 10_000)
  })

  after(async () => {
    await listener?.close()
    await pair?.remove()
  })

  test('iptables.conf refuses a banned client over IPv4 and IPv6, each family started at its first ban', async () => {
    const action = loadExecAction(FAIL2BAN, jail('sshd'), { name: 'iptables', args: { port: String(PORT), protocol: 'tcp' } })
    const actuator = new ExecActuator({ jails: [action], command_prefix: ['ip', 'netns', 'exec', pair.server] })
    assert.deepEqual(await actuator.setup(), { ok: true })
    assert.doesNotMatch(await inServer('iptables', '-S'), /f2b-sshd/)
    const v4 = ban('sshd', '192.0.2.2', 600)
    const v6 = ban('sshd', '2001:db8::2', 600)
    assert.deepEqual((await actuator.actuate([v4, v6])).map((o) => o.outcome), ['applied', 'applied'])
    assert.match(await inServer('iptables', '-S', 'f2b-sshd'), /^-A f2b-sshd -s 192\.0\.2\.2\/32 -j REJECT --reject-with icmp-port-unreachable$/m)
    assert.match(await inServer('ip6tables', '-S', 'f2b-sshd'), /^-A f2b-sshd -s 2001:db8::2\/128 -j REJECT --reject-with icmp6-port-unreachable$/m)
    assert.equal(await connect('192.0.2.1'), 'refused')
    // The first SYN's ICMPv6 error can be lost to neighbour discovery: give TCP its retry.
    assert.equal(await connectFrom(pair.client, '2001:db8::1', PORT, 3_000), 'refused')
    assert.deepEqual((await actuator.actuate([lift(v4), lift(v6)])).map((o) => o.outcome), ['removed', 'removed'])
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.equal(await connect('2001:db8::1'), 'connected')
    assert.deepEqual(await actuator.teardown(), { ok: true })
    assert.doesNotMatch(await inServer('iptables', '-S'), /f2b-sshd/)
    assert.doesNotMatch(await inServer('ip6tables', '-S'), /f2b-sshd/)
  })

  test('iptables.conf\'s actioncheck finds a removed jump, the action is restarted, and reconcile re-bans what the restart lost', async () => {
    const action = loadExecAction(FAIL2BAN, jail('sshd'), { name: 'iptables', args: { port: String(PORT), protocol: 'tcp' } })
    const actuator = new ExecActuator({ jails: [action], command_prefix: ['ip', 'netns', 'exec', pair.server] })
    const first = ban('sshd', '192.0.2.2', 600)
    await actuator.actuate([first])
    assert.equal(await connect('192.0.2.1'), 'refused')
    // Another tool deletes the jump into the jail's chain.
    await inServer('iptables', '-D', 'INPUT', '-p', 'tcp', '--dport', String(PORT), '-j', 'f2b-sshd')
    assert.equal(await connect('192.0.2.1'), 'connected')
    const second = ban('sshd', '192.0.2.99', 600)
    assert.equal((await actuator.actuate([second]))[0]!.outcome, 'applied')
    assert.match(await inServer('iptables', '-S', 'INPUT'), /-j f2b-sshd/)
    // actionstop flushed the chain with the first ban in it: reconcile puts it back.
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.deepEqual(await actuator.reconcile([first, second]), { ok: true, added: 1, removed: 0 })
    assert.equal(await connect('192.0.2.1'), 'refused')
    assert.deepEqual(await actuator.teardown(), { ok: true })
  })

  test('route.conf blackholes a banned client until the ban ends on this host\'s clock', async () => {
    let now = Date.now()
    const action = loadExecAction(FAIL2BAN, jail('recidive'), { name: 'route', args: {} })
    const actuator = new ExecActuator({ jails: [action], command_prefix: ['ip', 'netns', 'exec', pair.server], now: () => now })
    const b = ban('recidive', '192.0.2.2', 60)
    assert.deepEqual(await actuator.reconcile([b]), { ok: true, added: 1, removed: 0 })
    assert.match(await inServer('ip', 'route', 'show', 'type', 'unreachable'), /^unreachable 192\.0\.2\.2 /m)
    assert.equal(await connect('192.0.2.1'), 'timeout')
    now += 61_000
    assert.deepEqual(await actuator.reconcile([b]), { ok: true, added: 0, removed: 1 })
    assert.equal(await connect('192.0.2.1'), 'connected')
  })
})
