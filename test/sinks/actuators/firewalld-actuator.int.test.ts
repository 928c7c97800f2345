import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { FirewalldActuator } from '../../../sinks/actuators/firewalld-actuator.js'
import { addressLines } from '../../../sinks/actuators/backend-kit.js'
import { firewalldJail, parseDirectRules } from '../../../sinks/actuators/firewalld-commands.js'
import { runCommand } from '../../../sinks/actuators/run-command.js'
import { stopChild } from '../../cli/cli-path.js'
import { connectFrom, namespacePair, namespaceSkipReason, serveIn, sh, type NamespacePair } from '../../netns/netns-kit.js'
import { ban, lift, until } from './decision-fixtures.js'

// A real firewalld: a private D-Bus system bus started here, firewalld inside
// the server's namespace with its configuration in a temporary directory
// (default zone trusted, so only our rules block), and the client connecting.
const PORT = 2222
const OTHER_PORT = 2223

async function toolsSkipReason(): Promise<string | false> {
  const ns = await namespaceSkipReason()
  if (ns) return ns
  for (const tool of [['firewall-cmd', '--help'], ['firewalld', '--help'], ['dbus-daemon', '--version'], ['ipset', '-v'], ['iptables', '-V']]) {
    const r = await runCommand(tool, '', 10_000)
    if (r.code !== 0) return `${tool[0]} unavailable: ${r.stderr.trim()}`
  }
  return existsSync('/usr/share/dbus-1/system.conf') ? false : 'no D-Bus system bus configuration'
}

const skip = await toolsSkipReason()
if (skip) console.log(`# skipping the firewalld namespace tests: ${skip}`)
let pair: NamespacePair
let dir = ''
let prefix: string[] = []

const connect = (host: string, port = PORT) => connectFrom(pair.client, host, port)
const firewallCmd = (...args: string[]) => sh(...prefix, 'firewall-cmd', ...args)
const entries = async (set: string) => addressLines(await firewallCmd(`--ipset=${set}`, '--get-entries'))

describe('firewalld actuator in network namespaces', { skip }, () => {
  let bus: ChildProcess | undefined
  let firewalld: ChildProcess | undefined
  const listeners: { close(): Promise<void> }[] = []
  const services = new Map([['bs-test', PORT]])
  const jails = [
    firewalldJail('sshd', 'firewallcmd-ipset', { port: 'bs-test', blocktype: 'DROP' }, services),
    firewalldJail('postfix', 'firewallcmd-multiport', { port: String(PORT) }, services),
  ]
  let actuator: FirewalldActuator

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bs-firewalld-'))
    writeFileSync(join(dir, 'firewalld.conf'), 'DefaultZone=trusted\n')
    const address = `unix:path=${join(dir, 'bus')}`
    bus = spawn('dbus-daemon', ['--config-file=/usr/share/dbus-1/system.conf', `--address=${address}`, '--nofork', '--nopidfile'], { stdio: 'ignore' })
    await until('the D-Bus socket', async () => existsSync(join(dir, 'bus')), 10_000)
    pair = await namespacePair()
    prefix = ['ip', 'netns', 'exec', pair.server, 'env', `DBUS_SYSTEM_BUS_ADDRESS=${address}`]
    firewalld = spawn(prefix[0]!, [...prefix.slice(1), 'firewalld', '--nofork', '--nopid', '--system-config', dir, '--log-target', 'console'],
      { stdio: 'ignore' })
    await until('firewalld', async () => (await runCommand([...prefix, 'firewall-cmd', '--state'], '', 10_000)).stdout.trim() === 'running', 60_000)
    actuator = new FirewalldActuator({ jails, command_prefix: prefix })
    listeners.push(serveIn(pair.server, PORT), serveIn(pair.server, OTHER_PORT))
    await until('the listener', async () => (await connect('192.0.2.1')) === 'connected', 10_000)
    assert.deepEqual(await actuator.setup(), { ok: true })
  })

  after(async () => {
    for (const listener of listeners) await listener.close()
    for (const child of [firewalld, bus]) if (child) await stopChild(child)
    await pair?.remove()
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  test('setup creates the sets and one direct rule per set, and a second setup adds nothing', async () => {
    assert.deepEqual(await actuator.setup(), { ok: true })
    const sets = (await firewallCmd('--get-ipsets')).trim().split(/\s+/).sort()
    assert.deepEqual(sets, ['f2b-postfix', 'f2b-postfix-net', 'f2b-postfix-net6', 'f2b-postfix6', 'f2b-sshd', 'f2b-sshd-net', 'f2b-sshd-net6', 'f2b-sshd6'])
    const rules = parseDirectRules(await firewallCmd('--direct', '--get-all-rules')).map((r) => r.join(' '))
    assert.equal(rules.length, 8, rules.join('\n'))
    assert.ok(rules.includes('ipv4 filter INPUT_direct 0 -p tcp -m multiport --dports 2222 -m set --match-set f2b-sshd src -j DROP'), rules.join('\n'))
    assert.ok(rules.includes('ipv6 filter INPUT_direct 0 -m conntrack --ctstate NEW -p tcp -m multiport --dports 2222 -m set --match-set f2b-postfix6 src ' +
      '-j REJECT --reject-with icmp6-port-unreachable'), rules.join('\n'))
  })

  test('a dropped IPv4 address cannot connect to its jail port, can to others, and can again once unbanned', async () => {
    const b = ban('sshd', '192.0.2.2', 600)
    assert.deepEqual(await actuator.actuate([b]), [{ decision_event_id: b.event_id, jail: 'sshd', ip: '192.0.2.2', outcome: 'applied' }])
    assert.deepEqual(await entries('f2b-sshd'), new Set(['192.0.2.2']))
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.equal(await connect('192.0.2.1', OTHER_PORT), 'connected')
    assert.deepEqual(await actuator.actuate([lift(b)]), [{ decision_event_id: `lift-${b.event_id}`, jail: 'sshd', ip: '192.0.2.2', outcome: 'removed' }])
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a rejected address is refused, IPv4 and IPv6', async () => {
    const v4 = ban('postfix', '192.0.2.2', 600)
    const v6 = ban('postfix', '2001:db8::2', 600)
    // The server must know the client's link address, or its first ICMPv6 reply waits on neighbour discovery and is lost.
    assert.equal(await connect('2001:db8::1'), 'connected')
    assert.deepEqual((await actuator.actuate([v4, v6])).map((o) => o.outcome), ['applied', 'applied'])
    assert.equal(await connect('192.0.2.1'), 'refused')
    assert.equal(await connectFrom(pair.client, '2001:db8::1', PORT, 3_000), 'refused')
    await actuator.actuate([lift(v4), lift(v6)])
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.equal(await connect('2001:db8::1'), 'connected')
  })

  test('a banned network is dropped through the hash:net set', async () => {
    const b = ban('sshd', '192.0.2.0/24', 600)
    assert.equal((await actuator.actuate([b]))[0]!.outcome, 'applied')
    assert.deepEqual(await entries('f2b-sshd-net'), new Set(['192.0.2.0/24']))
    assert.equal(await connect('192.0.2.1'), 'timeout')
    await actuator.actuate([lift(b)])
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('applying a ban twice and lifting an absent one both succeed; a refused entry fails alone', async () => {
    const b = ban('sshd', '192.0.2.9', 600)
    assert.deepEqual((await actuator.actuate([b, b])).map((o) => o.outcome), ['applied', 'applied'])
    assert.equal((await actuator.actuate([b]))[0]!.outcome, 'applied')
    assert.deepEqual((await actuator.actuate([lift(b), lift(b)])).map((o) => o.outcome), ['removed', 'removed'])
    const wide = ban('sshd', '198.51.100.0/24', 600)
    const inside = ban('sshd', '198.51.100.0/25', 600)
    const other = ban('sshd', '203.0.113.0/24', 600)
    await actuator.actuate([wide])
    const outcomes = await actuator.actuate([inside, other])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['failed', 'applied'])
    assert.match(outcomes[0]!.error!, /overlaps/)
    await actuator.actuate([lift(wide), lift(other)])
  })

  test('reconcile restores an entry removed by hand and removes ended bans', async () => {
    const kept = ban('sshd', '192.0.2.2', 600)
    const ended = ban('sshd', '192.0.2.12', 600)
    await actuator.actuate([kept, ended])
    await firewallCmd('--ipset=f2b-sshd', '--remove-entry=192.0.2.2')
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.deepEqual(await actuator.reconcile([kept]), { ok: true, added: 1, removed: 1 })
    assert.deepEqual(await entries('f2b-sshd'), new Set(['192.0.2.2']))
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.deepEqual(await actuator.reconcile([]), { ok: true, added: 0, removed: 1 })
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test("a jail's changed ports replace its old rule", async () => {
    const moved = new FirewalldActuator({
      jails: [firewalldJail('sshd', 'firewallcmd-ipset', { port: String(OTHER_PORT), blocktype: 'DROP' }, services), jails[1]!],
      command_prefix: prefix,
    })
    assert.deepEqual(await moved.setup(), { ok: true })
    const rules = parseDirectRules(await firewallCmd('--direct', '--get-all-rules')).map((r) => r.join(' '))
    assert.equal(rules.filter((r) => r.includes('--match-set f2b-sshd')).every((r) => r.includes(`--dports ${OTHER_PORT}`)), true, rules.join('\n'))
    assert.equal(rules.length, 8)
    assert.deepEqual(await actuator.setup(), { ok: true })
  })
})
