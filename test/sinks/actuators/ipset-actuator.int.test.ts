import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { IpsetActuator } from '../../../sinks/actuators/ipset-actuator.js'
import { ipsetJail, parseIpsetSave } from '../../../sinks/actuators/ipset-commands.js'
import { runCommand } from '../../../sinks/actuators/run-command.js'
import { connectFrom, namespacePair, namespaceSkipReason, sh, type NamespacePair } from '../../netns/netns-kit.js'
import { ban, lift, until } from './decision-fixtures.js'

// A real firewall: a server and a client namespace joined by a veth pair; the
// actuator runs ipset and iptables inside the server's namespace and the client tries to connect.
const PORT = 2222
const OTHER_PORT = 2223

async function toolsSkipReason(): Promise<string | false> {
  const ns = await namespaceSkipReason()
  if (ns) return ns
  for (const tool of [['ipset', '-v'], ['iptables', '-V'], ['ip6tables', '-V'], ['iptables-restore', '-V'], ['ip6tables-restore', '-V']]) {
    const r = await runCommand(tool, '', 5_000)
    if (r.code !== 0) return `${tool[0]} unavailable: ${r.stderr.trim()}`
  }
  return false
}

const skip = await toolsSkipReason()
if (skip) console.log(`# skipping the ipset namespace tests: ${skip}`)
else console.log(`# ${(await sh('iptables', '-V')).trim()}, ${(await sh('ipset', '-v')).trim()}`)
let pair: NamespacePair
let SRV = ''
let CLI = ''

const connect = (host: string, port = PORT) => connectFrom(pair.client, host, port)
const inServer = (...argv: string[]) => sh('ip', 'netns', 'exec', SRV, ...argv)

async function members(set: string): Promise<Map<string, number | null>> {
  return parseIpsetSave(await inServer('ipset', 'save', set)).get(set) ?? new Map()
}

describe('ipset + iptables actuator in network namespaces', { skip }, () => {
  let listener: ChildProcess | undefined
  const services = new Map([['bs-test', PORT]])
  const jails = [
    ipsetJail('sshd', { port: 'bs-test', protocol: 'tcp', blocktype: 'DROP' }, services),
    ipsetJail('postfix', { port: String(PORT), protocol: 'tcp' }, services),
  ]
  let actuator: IpsetActuator

  before(async () => {
    pair = await namespacePair()
    SRV = pair.server
    CLI = pair.client
    actuator = new IpsetActuator({ jails, command_prefix: ['ip', 'netns', 'exec', SRV], command_timeout_ms: 10_000 })
    listener = spawn('ip', ['netns', 'exec', SRV, process.execPath, '-e',
      `for (const p of [${PORT}, ${OTHER_PORT}]) require('net').createServer((s) => s.end()).listen(p, '::')`], { stdio: 'ignore' })
    await until('the listener', async () => (await connect('192.0.2.1')) === 'connected', 10_000)
    assert.deepEqual(await actuator.setup(), { ok: true })
  })

  after(async () => {
    if (listener?.pid !== undefined) {
      listener.kill('SIGKILL')
      await new Promise((r) => listener!.exitCode !== null || listener!.signalCode !== null ? r(undefined) : listener!.once('exit', r))
    }
    await pair?.remove()
  })

  test('setup twice leaves one jump per jail and one rule per set in its chain, for iptables and ip6tables', async () => {
    assert.deepEqual(await actuator.setup(), { ok: true })
    for (const tool of ['iptables', 'ip6tables']) {
      const rules = await inServer(tool, '-S')
      assert.equal(rules.split('\n').filter((l) => l === '-A INPUT -j bs-sshd').length, 1, rules)
      assert.equal(rules.split('\n').filter((l) => l.startsWith('-A bs-sshd ')).length, 2, rules)
      assert.match(rules, /^-A bs-sshd -p tcp -m multiport --dports 2222 -m set --match-set bs-sshd(-v6)? src -j DROP$/m)
      assert.match(rules, /^-A bs-sshd -p tcp -m multiport --dports 2222 -m set --match-set bs-sshd-net6? src -j DROP$/m)
    }
  })

  test('a dropped IPv4 address cannot connect, and can again once unbanned', async () => {
    const b = ban('sshd', '192.0.2.2', 600)
    assert.deepEqual(await actuator.apply([b]), [{ decision_event_id: b.event_id, jail: 'sshd', ip: '192.0.2.2', outcome: 'applied' }])
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.deepEqual(await actuator.lift([lift(b)]), [{ decision_event_id: `lift-${b.event_id}`, jail: 'sshd', ip: '192.0.2.2', outcome: 'removed' }])
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a rejected address is refused, IPv4 and IPv6', async () => {
    const v4 = ban('postfix', '192.0.2.2', 600)
    const v6 = ban('postfix', '2001:db8::2', 600)
    // The server must know the client's link address, or its first ICMPv6 reply waits on neighbour discovery and is lost.
    assert.equal(await connect('2001:db8::1'), 'connected')
    assert.deepEqual((await actuator.apply([v4, v6])).map((o) => o.outcome), ['applied', 'applied'])
    assert.equal(await connect('192.0.2.1'), 'refused')
    assert.equal(await connectFrom(pair.client, '2001:db8::1', PORT, 3_000), 'refused')
    await actuator.lift([lift(v4), lift(v6)])
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.equal(await connect('2001:db8::1'), 'connected')
  })

  test('a dropped IPv6 address cannot connect; the ban covers only its jail ports', async () => {
    const b = ban('sshd', '2001:db8::2', 600)
    await actuator.apply([b])
    assert.deepEqual([...(await members('bs-sshd-v6')).keys()], ['2001:db8::2'])
    assert.equal(await connect('2001:db8::1'), 'timeout')
    assert.equal(await connect('2001:db8::1', OTHER_PORT), 'connected')
    await actuator.lift([lift(b)])
    assert.equal(await connect('2001:db8::1'), 'connected')
  })

  test('a ban with a 2 s time vanishes from the set when ipset times it out, IPv4 and IPv6', async () => {
    await actuator.apply([ban('sshd', '192.0.2.2', 2), ban('sshd', '2001:db8::2', 2)])
    assert.equal((await members('bs-sshd')).has('192.0.2.2'), true)
    assert.equal((await members('bs-sshd-v6')).has('2001:db8::2'), true)
    await until('the elements to expire', async () => (await members('bs-sshd')).size === 0 && (await members('bs-sshd-v6')).size === 0, 8_000)
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('applying a ban twice and lifting an absent one both succeed; a permanent ban has no timeout', async () => {
    const b = ban('sshd', '192.0.2.2', -1)
    assert.equal((await actuator.apply([b]))[0]!.outcome, 'applied')
    assert.equal((await actuator.apply([b]))[0]!.outcome, 'applied')
    assert.deepEqual(await members('bs-sshd'), new Map([['192.0.2.2', null]]))
    assert.equal((await actuator.lift([lift(b)]))[0]!.outcome, 'removed')
    assert.equal((await actuator.lift([lift(b)]))[0]!.outcome, 'removed')
    assert.deepEqual(await members('bs-sshd'), new Map())
  })

  test('a re-ban with a longer time extends the entry; a shorter one does not cut it', async () => {
    const short = ban('sshd', '192.0.2.7', 100)
    const long = ban('sshd', '192.0.2.7', 5000)
    await actuator.apply([short])
    await actuator.apply([long])
    await actuator.apply([short])
    const left = (await members('bs-sshd')).get('192.0.2.7')
    assert.ok(left !== undefined && left !== null && left > 4000, `time left ${left}`)
    await actuator.lift([lift(long)])
  })

  test('a banned network is dropped, IPv4 and IPv6, and passes once unbanned', async () => {
    const v4 = ban('sshd', '192.0.2.0/24', 600)
    const v6 = ban('sshd', '2001:db8::/64', 600)
    assert.deepEqual((await actuator.apply([v4, v6])).map((o) => o.outcome), ['applied', 'applied'])
    assert.deepEqual([...(await members('bs-sshd-net')).keys()], ['192.0.2.0/24'])
    assert.deepEqual([...(await members('bs-sshd-net6')).keys()], ['2001:db8::/64'])
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.equal(await connect('2001:db8::1'), 'timeout')
    await actuator.lift([lift(v4), lift(v6)])
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.equal(await connect('2001:db8::1'), 'connected')
  })

  test('a batch with bad decisions applies the rest and reports each bad one', async () => {
    const good = ban('sshd', '192.0.2.8', 600)
    const unknownJail = ban('nginx', '192.0.2.9', 600)
    const notAnAddress = ban('sshd', '192.0.2.9\nflush bs-sshd', 600)
    const everyone = ban('sshd', '0.0.0.0/0', 600)
    const expired = { ...ban('sshd', '192.0.2.10', 600), expires_at: new Date(Date.now() - 1000).toISOString() }
    const outcomes = await actuator.apply([good, unknownJail, notAnAddress, everyone, expired])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'failed', 'failed', 'failed', 'skipped'])
    assert.match(outcomes[1]!.error!, /no ipset action/)
    assert.match(outcomes[2]!.error!, /not an address/)
    assert.match(outcomes[3]!.error!, /not an address or network that can be banned/)
    assert.deepEqual([...(await members('bs-sshd')).keys()], ['192.0.2.8'])
    await actuator.lift([lift(good)])
  })

  test('a full set fails the bans past maxelem with ipset\'s error, and the bans before and after it are applied', async () => {
    const small = new IpsetActuator({
      jails: [ipsetJail('small', { port: String(OTHER_PORT), maxelem: '2' }, services)], command_prefix: ['ip', 'netns', 'exec', SRV],
    })
    assert.deepEqual(await small.setup(), { ok: true })
    const outcomes = await small.apply([ban('small', '198.51.100.1', 600), ban('small', '198.51.100.2', 600),
      ban('small', '198.51.100.3', 600), ban('small', '2001:db8::7', 600), ban('small', '198.51.100.4', 600)])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'applied', 'failed', 'applied', 'failed'])
    assert.match(outcomes[2]!.error!, /^set bs-small is full: .*Hash is full/)
    assert.match(outcomes[4]!.error!, /^set bs-small is full: /)
    assert.deepEqual((await small.apply([ban('small', '198.51.100.1', 900)])).map((o) => o.outcome), ['applied'])
    assert.deepEqual(await small.teardown(), { ok: true })
    assert.deepEqual(await small.teardown(), { ok: true })
    assert.doesNotMatch(await inServer('iptables', '-S'), /bs-small/)
    assert.doesNotMatch(await inServer('ipset', 'list', '-n'), /bs-small/)
  })

  test('an ipset flush, a flushed chain or a deleted jump come back by reconcile; stale entries go', async () => {
    const active = ban('sshd', '192.0.2.2', 600)
    await actuator.apply([active])
    await inServer('ipset', 'add', 'bs-sshd', '198.51.100.7')
    await inServer('ipset', 'add', 'bs-sshd-net6', '2001:db8:1::/48')
    assert.deepEqual(await actuator.reconcile([active]), { ok: true, added: 0, removed: 2 })
    assert.deepEqual([...(await members('bs-sshd')).keys()], ['192.0.2.2'])
    assert.deepEqual(await members('bs-sshd-net6'), new Map())
    await inServer('ipset', 'flush', 'bs-sshd')
    assert.equal(await connect('192.0.2.1'), 'connected')
    const drift = await actuator.check([active])
    assert.ok('add' in drift && drift.add.length === 1 && drift.remove.length === 0, JSON.stringify(drift))
    assert.deepEqual(await members('bs-sshd'), new Map())
    assert.deepEqual(await actuator.reconcile([active]), { ok: true, added: 1, removed: 0 })
    assert.equal(await connect('192.0.2.1'), 'timeout')
    const left = (await members('bs-sshd')).get('192.0.2.2')
    assert.ok(left !== undefined && left !== null && left > 590 && left <= 600, `time left ${left}`)
    await inServer('iptables', '-F', 'bs-sshd')
    await inServer('iptables', '-D', 'INPUT', '-j', 'bs-sshd')
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.deepEqual(await actuator.reconcile([active]), { ok: true, added: 0, removed: 0 })
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.deepEqual(await actuator.reconcile([]), { ok: true, added: 0, removed: 1 })
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a ban after the rules and sets were removed sets them up again', async () => {
    await inServer('iptables', '-D', 'INPUT', '-j', 'bs-sshd')
    await inServer('iptables', '-F', 'bs-sshd')
    await inServer('ip6tables', '-D', 'INPUT', '-j', 'bs-sshd')
    await inServer('ip6tables', '-F', 'bs-sshd')
    await inServer('ipset', 'destroy', 'bs-sshd')
    const b = ban('sshd', '192.0.2.2', 600)
    assert.equal((await actuator.apply([b]))[0]!.outcome, 'applied')
    assert.equal(await connect('192.0.2.1'), 'timeout')
    await actuator.lift([lift(b)])
  })

  test('a ban ends the banned address\'s tracked flows', async () => {
    await inServer('iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
    const holder = spawn('ip', ['netns', 'exec', CLI, process.execPath, '-e',
      `const s = require('net').connect(${OTHER_PORT}, '192.0.2.1'); s.on('error', () => {}); setTimeout(() => process.exit(0), 20000)`], { stdio: 'ignore' })
    try {
      const flows = async () => (await inServer('conntrack', '-L', '-f', 'ipv4', '-s', '192.0.2.2')).trim()
      await until('a tracked flow', async () => (await flows()) !== '', 5_000)
      const b = ban('sshd', '192.0.2.2', 600)
      const [o] = await actuator.apply([b])
      assert.deepEqual(o, { decision_event_id: b.event_id, jail: 'sshd', ip: '192.0.2.2', outcome: 'applied' })
      assert.equal(await flows(), '')
      await actuator.lift([lift(b)])
    } finally {
      holder.kill('SIGKILL')
      await runCommand(['ip', 'netns', 'exec', SRV, 'iptables', '-D', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'], '', 5_000)
    }
  })

  test('teardown removes jumps, chains and sets', async () => {
    assert.deepEqual(await actuator.teardown(), { ok: true })
    for (const tool of ['iptables', 'ip6tables']) assert.doesNotMatch(await inServer(tool, '-S'), /bs-/)
    assert.equal((await inServer('ipset', 'list', '-n')).trim(), '')
  })
})
