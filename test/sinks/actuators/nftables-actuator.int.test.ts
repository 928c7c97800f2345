import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { BanIssued } from '../../../schemas/events/ban-issued.js'
import { NftablesActuator } from '../../../sinks/actuators/nftables-actuator.js'
import { nftablesJail, parseSetListing } from '../../../sinks/actuators/nftables-commands.js'
import { runCommand } from '../../../sinks/actuators/run-command.js'
import { connectFrom, namespacePair, namespaceSkipReason, sh, type NamespacePair } from '../../netns/netns-kit.js'
import { ban, lift, until } from './decision-fixtures.js'

// A real firewall: a server and a client namespace joined by a veth pair; the
// actuator runs nft inside the server's namespace and the client tries to connect.
const PORT = 2222
const OTHER_PORT = 2223

const skip = await namespaceSkipReason()
if (skip) console.log(`# skipping the nftables namespace tests: ${skip}`)
let pair: NamespacePair
let SRV = ''
let CLI = ''

const connect = (host: string, port = PORT) => connectFrom(pair.client, host, port)

async function setElements(set: string): Promise<string[]> {
  const json = await sh('ip', 'netns', 'exec', SRV, 'nft', '-j', 'list', 'set', 'inet', 'banstream', set)
  return [...(parseSetListing(json).get(set)?.keys() ?? [])]
}

describe('nftables actuator in network namespaces', { skip }, () => {
  let listener: ChildProcess | undefined
  const services = new Map([['bs-test', PORT]])
  const jails = [
    nftablesJail('sshd', { port: 'bs-test', protocol: 'tcp', blocktype: 'drop' }, services),
    nftablesJail('postfix', { port: String(PORT), protocol: 'tcp', blocktype: 'reject' }, services),
  ]
  let actuator: NftablesActuator

  before(async () => {
    pair = await namespacePair()
    SRV = pair.server
    CLI = pair.client
    actuator = new NftablesActuator({ jails, command_prefix: ['ip', 'netns', 'exec', SRV], command_timeout_ms: 10_000 })
    listener = spawn('ip', ['netns', 'exec', SRV, process.execPath, '-e',
      `for (const p of [${PORT}, ${OTHER_PORT}]) require('net').createServer((s) => s.end()).listen(p, '::')`], { stdio: 'ignore' })
    await until('the listener', async () => (await connect('192.0.2.1')) === 'connected', 10_000)
    const setup = await actuator.setup()
    assert.deepEqual(setup, { ok: true })
  })

  after(async () => {
    if (listener?.pid !== undefined) {
      listener.kill('SIGKILL')
      await new Promise((r) => listener!.exitCode !== null || listener!.signalCode !== null ? r(undefined) : listener!.once('exit', r))
    }
    await pair?.remove()
  })

  test('a dropped IPv4 address cannot connect, and can again once unbanned', async () => {
    const b = ban('sshd', '192.0.2.2', 600)
    assert.deepEqual(await actuator.apply([b]), [{ decision_event_id: b.event_id, jail: 'sshd', ip: '192.0.2.2', outcome: 'applied' }])
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.deepEqual(await actuator.lift([lift(b)]), [{ decision_event_id: `lift-${b.event_id}`, jail: 'sshd', ip: '192.0.2.2', outcome: 'removed' }])
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a rejected IPv4 address is refused', async () => {
    const b = ban('postfix', '192.0.2.2', 600)
    assert.equal((await actuator.apply([b]))[0]!.outcome, 'applied')
    assert.equal(await connect('192.0.2.1'), 'refused')
    await actuator.lift([lift(b)])
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a ban covers only its jail ports', async () => {
    const b = ban('sshd', '192.0.2.2', 600)
    await actuator.apply([b])
    assert.equal(await connect('192.0.2.1', OTHER_PORT), 'connected')
    await actuator.lift([lift(b)])
  })

  test('IPv6: an address and a /64 network are dropped, and pass once unbanned', async () => {
    const single = ban('sshd', '2001:db8::2', 600)
    await actuator.apply([single])
    assert.deepEqual(await setElements('sshd-v6'), ['2001:db8::2'])
    assert.equal(await connect('2001:db8::1'), 'timeout')
    await actuator.lift([lift(single)])
    assert.equal(await connect('2001:db8::1'), 'connected')
    const network = ban('sshd', '2001:db8::/64', 600)
    await actuator.apply([network])
    assert.deepEqual(await setElements('sshd-v6-net'), ['2001:db8::/64'])
    assert.equal(await connect('2001:db8::1'), 'timeout')
    await actuator.lift([lift(network)])
    assert.equal(await connect('2001:db8::1'), 'connected')
  })

  test('a ban with a 2 s time vanishes from the set when it expires, IPv4 and IPv6', async () => {
    await actuator.apply([ban('sshd', '192.0.2.2', 2), ban('sshd', '2001:db8::2', 2)])
    assert.deepEqual(await setElements('sshd-v4'), ['192.0.2.2'])
    assert.deepEqual(await setElements('sshd-v6'), ['2001:db8::2'])
    await until('the elements to expire', async () => (await setElements('sshd-v4')).length === 0 && (await setElements('sshd-v6')).length === 0, 8_000)
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('applying a ban twice and lifting an absent one both succeed', async () => {
    const b = ban('sshd', '192.0.2.2', 600)
    assert.equal((await actuator.apply([b]))[0]!.outcome, 'applied')
    assert.equal((await actuator.apply([b]))[0]!.outcome, 'applied')
    assert.deepEqual(await setElements('sshd-v4'), ['192.0.2.2'])
    assert.equal((await actuator.lift([lift(b)]))[0]!.outcome, 'removed')
    assert.equal((await actuator.lift([lift(b)]))[0]!.outcome, 'removed')
    assert.deepEqual(await setElements('sshd-v4'), [])
  })

  test('a re-ban with a longer time extends the element; a shorter one does not cut it', async () => {
    const short = ban('sshd', '192.0.2.7', 100)
    const long = ban('sshd', '192.0.2.7', 5000)
    await actuator.apply([short])
    await actuator.apply([long])
    await actuator.apply([short])
    const json = await sh('ip', 'netns', 'exec', SRV, 'nft', '-j', 'list', 'set', 'inet', 'banstream', 'sshd-v4')
    const left = parseSetListing(json).get('sshd-v4')?.get('192.0.2.7')
    assert.ok(left !== undefined && left !== null && left > 4000, `time left ${left}`)
    await actuator.lift([lift(long)])
  })

  test('a batch with a bad decision applies the rest and reports the bad one', async () => {
    const good = ban('sshd', '192.0.2.8', 600)
    const unknownJail = ban('nginx', '192.0.2.9', 600)
    const notAnAddress = ban('sshd', '192.0.2.9 } ; flush ruleset', 600)
    const expired = ban('sshd', '192.0.2.10', 600)
    const outcomes = await actuator.apply([good, unknownJail, notAnAddress, { ...expired, expires_at: new Date(Date.now() - 1000).toISOString() }])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'failed', 'failed', 'skipped'])
    assert.match(outcomes[1]!.error!, /no nftables action/)
    assert.match(outcomes[2]!.error!, /not an address/)
    assert.deepEqual(await setElements('sshd-v4'), ['192.0.2.8'])
    await actuator.lift([lift(good)])
  })

  test('rules flushed, a set emptied or the table deleted by hand come back by reconcile; stale elements go', async () => {
    const nft = (...args: string[]) => sh('ip', 'netns', 'exec', SRV, 'nft', ...args)
    const active = ban('sshd', '192.0.2.2', 600)
    await actuator.apply([active])
    await nft('add', 'element', 'inet', 'banstream', 'sshd-v4', '{ 198.51.100.7 }')
    // `flush table` removes the rules and keeps the sets' elements.
    await nft('flush', 'table', 'inet', 'banstream')
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.deepEqual(await actuator.reconcile([active]), { ok: true, added: 0, removed: 1 })
    assert.deepEqual(await setElements('sshd-v4'), ['192.0.2.2'])
    assert.equal(await connect('192.0.2.1'), 'timeout')
    await nft('flush', 'set', 'inet', 'banstream', 'sshd-v4')
    assert.equal(await connect('192.0.2.1'), 'connected')
    assert.deepEqual(await actuator.reconcile([active]), { ok: true, added: 1, removed: 0 })
    assert.equal(await connect('192.0.2.1'), 'timeout')
    await nft('delete', 'table', 'inet', 'banstream')
    assert.deepEqual(await actuator.reconcile([active]), { ok: true, added: 1, removed: 0 })
    assert.equal(await connect('192.0.2.1'), 'timeout')
    assert.deepEqual(await actuator.reconcile([active]), { ok: true, added: 0, removed: 0 })
    assert.deepEqual(await actuator.reconcile([]), { ok: true, added: 0, removed: 1 })
    assert.equal(await connect('192.0.2.1'), 'connected')
  })

  test('a ban after the table vanished sets it up again', async () => {
    await sh('ip', 'netns', 'exec', SRV, 'nft', 'delete', 'table', 'inet', 'banstream')
    const b = ban('sshd', '192.0.2.2', 600)
    assert.equal((await actuator.apply([b]))[0]!.outcome, 'applied')
    assert.equal(await connect('192.0.2.1'), 'timeout')
    await actuator.lift([lift(b)])
  })

  test('a full set fails the bans past its size with nft\'s error', async () => {
    const small = new NftablesActuator({ jails, table: { table: 'bs-small', set_size: 2 }, command_prefix: ['ip', 'netns', 'exec', SRV] })
    assert.deepEqual(await small.setup(), { ok: true })
    const outcomes = await small.apply([ban('sshd', '198.51.100.1', 600), ban('sshd', '198.51.100.2', 600), ban('sshd', '198.51.100.3', 600)])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'applied', 'failed'])
    assert.match(outcomes[2]!.error!, /set sshd-v4 is full: .*Too many open files in system/)
    assert.deepEqual(await small.teardown(), { ok: true })
    assert.deepEqual(await small.teardown(), { ok: true })
  })

  test('once a set is full, the batch\'s other bans for it fail at once, without two nft runs each; other sets\' bans apply', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'banstream-nft-runs-'))
    try {
      const counting = join(dir, 'nft')
      await writeFile(counting, `#!/bin/sh\necho run >> ${join(dir, 'runs')}\nexec nft "$@"\n`, { mode: 0o755 })
      const small = new NftablesActuator({ jails, table: { table: 'bs-full', set_size: 2 }, command_prefix: ['ip', 'netns', 'exec', SRV], nft: counting, conntrack: null })
      assert.deepEqual(await small.setup(), { ok: true })
      const bans = Array.from({ length: 40 }, (_, i) => ban('sshd', `198.51.100.${i + 1}`, 600))
      bans.splice(20, 0, ban('sshd', '2001:db8::9', 600))
      const outcomes = await small.apply(bans)
      const runs = (await readFile(join(dir, 'runs'), 'utf8')).trim().split('\n').length
      assert.deepEqual(outcomes.map((o) => o.outcome), [
        'applied', 'applied', ...Array(18).fill('failed'), 'applied', ...Array(20).fill('failed'),
      ])
      for (const o of outcomes.filter((x) => x.outcome === 'failed')) assert.match(o.error!, /^set sshd-v4 is full: .*Too many open files in system/)
      assert.ok(runs <= 12, `${runs} nft runs for 41 bans`)
      assert.deepEqual(await small.teardown(), { ok: true })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('in a full set, lifting an absent address succeeds and lifting a present one makes room', async () => {
    const small = new NftablesActuator({ jails, table: { table: 'bs-full', set_size: 2 }, command_prefix: ['ip', 'netns', 'exec', SRV], conntrack: null })
    assert.deepEqual(await small.setup(), { ok: true })
    try {
      const [a, b, c] = ['198.51.100.1', '198.51.100.2', '198.51.100.3'].map((ip) => ban('sshd', ip, 600)) as [BanIssued, BanIssued, BanIssued]
      assert.deepEqual((await small.apply([a, b])).map((o) => o.outcome), ['applied', 'applied'])
      assert.deepEqual(await small.lift([lift(c)]), [{ decision_event_id: `lift-${c.event_id}`, jail: 'sshd', ip: c.ip, outcome: 'removed' }])
      assert.deepEqual((await small.lift([lift(a)])).map((o) => o.outcome), ['removed'])
      assert.deepEqual((await small.apply([c])).map((o) => o.outcome), ['applied'])
      const listed = parseSetListing(await sh('ip', 'netns', 'exec', SRV, 'nft', '-j', 'list', 'set', 'inet', 'bs-full', 'sshd-v4')).get('sshd-v4')
      assert.deepEqual([...(listed?.keys() ?? [])].sort(), ['198.51.100.2', '198.51.100.3'])
    } finally {
      await small.teardown()
    }
  })

  test('a ban ends the banned address\'s tracked flows', async () => {
    // A stateful rule elsewhere makes the namespace track connections.
    await runCommand(['ip', 'netns', 'exec', SRV, 'nft', '-f', '-'],
      'add table inet bs-ct\nadd chain inet bs-ct in { type filter hook input priority 0; policy accept; }\nadd rule inet bs-ct in ct state established,related accept\n', 5_000)
    const holder = spawn('ip', ['netns', 'exec', CLI, process.execPath, '-e',
      `const s = require('net').connect(${OTHER_PORT}, '192.0.2.1'); s.on('error', () => {}); setTimeout(() => process.exit(0), 20000)`], { stdio: 'ignore' })
    try {
      const flows = async () => (await sh('ip', 'netns', 'exec', SRV, 'conntrack', '-L', '-f', 'ipv4', '-s', '192.0.2.2')).trim()
      await until('a tracked flow', async () => (await flows()) !== '', 5_000)
      const b = ban('sshd', '192.0.2.2', 600)
      const [o] = await actuator.apply([b])
      assert.deepEqual(o, { decision_event_id: b.event_id, jail: 'sshd', ip: '192.0.2.2', outcome: 'applied' })
      assert.equal(await flows(), '')
      await actuator.lift([lift(b)])
    } finally {
      holder.kill('SIGKILL')
      await runCommand(['ip', 'netns', 'exec', SRV, 'nft', 'delete', 'table', 'inet', 'bs-ct'], '', 5_000)
    }
  })
})
