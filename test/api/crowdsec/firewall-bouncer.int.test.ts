import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../../src/api/build-api.js'
import { namespaceSkipReason, sh } from '../../netns/netns-kit.js'
import { MemoryControlPort } from '../control/memory-control-port.js'

const BOUNCER = '/usr/bin/crowdsec-firewall-bouncer'
const KEY = 'firewall-bouncer-key'
const skip = existsSync(BOUNCER) ? await namespaceSkipReason() : `${BOUNCER} is not installed`

/** Polls a condition the bouncer process brings about on its own schedule (its update_frequency), up to a deadline. */
async function eventually(what: string, probe: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await delay(100)
  }
}

/*
 * The bouncer runs in a network namespace of its own (its nftables tables
 * stay there), reaching the API in this process over a veth pair:
 * 198.51.100.1 here, 198.51.100.2 in the namespace. The API listens beyond
 * loopback, so it needs a token; the bouncer uses its bouncer key.
 */
describe('crowdsec-firewall-bouncer (nftables) pointed at banstream', { skip }, () => {
  const id = randomBytes(3).toString('hex')
  const ns = `bs-fwb-${id}`
  let dir = ''
  let app: FastifyInstance
  let bouncer: ChildProcess
  let output = ''
  const control = new MemoryControlPort([{ name: 'sshd', file_list: [], ban_time_secs: 14_400 }], () => new Date())

  const startApi = () => buildApi({
    control, tokens: [{ token: 'operator', role: 'operate' }], bind: '198.51.100.1', bouncerKeys: [KEY], bouncerPullsFile: join(dir, 'bouncer-pulls.json'),
  })

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'banstream-fwbouncer-'))
    await sh('ip', 'netns', 'add', ns)
    await sh('ip', 'link', 'add', `bs-h-${id}`, 'type', 'veth', 'peer', 'name', `bs-n-${id}`, 'netns', ns)
    await sh('ip', 'addr', 'add', '198.51.100.1/30', 'dev', `bs-h-${id}`)
    await sh('ip', 'link', 'set', `bs-h-${id}`, 'up')
    await sh('ip', '-n', ns, 'addr', 'add', '198.51.100.2/30', 'dev', `bs-n-${id}`)
    await sh('ip', '-n', ns, 'link', 'set', `bs-n-${id}`, 'up')
    await sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
    app = startApi()
    await app.listen({ host: '198.51.100.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    writeFileSync(join(dir, 'bouncer.yaml'), [
      'mode: nftables', `pid_dir: ${dir}/`, 'update_frequency: 1s', 'daemonize: false', 'log_mode: stdout', 'log_level: info',
      `api_url: http://198.51.100.1:${port}/`, `api_key: ${KEY}`, 'disable_ipv6: false', 'deny_action: DROP', 'deny_log: false',
      'supported_decisions_types:', '  - ban',
      'nftables:', '  ipv4:', '    enabled: true', '    set-only: false', '    table: crowdsec', '    chain: crowdsec-chain',
      '  ipv6:', '    enabled: true', '    set-only: false', '    table: crowdsec6', '    chain: crowdsec6-chain',
      'prometheus:', '  enabled: false', '  listen_addr: 127.0.0.1', '  listen_port: 60601', '',
    ].join('\n'))
    bouncer = spawn('ip', ['netns', 'exec', ns, BOUNCER, '-c', join(dir, 'bouncer.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] })
    bouncer.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    bouncer.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  })
  after(async () => {
    if (bouncer && bouncer.exitCode === null) {
      const exited = new Promise((resolve) => bouncer.once('exit', resolve))
      bouncer.kill('SIGTERM')
      await exited
    }
    await app?.close()
    await sh('ip', 'netns', 'del', ns).catch(() => undefined)
    await sh('ip', 'link', 'del', `bs-h-${id}`).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  })

  const setHolds = async (family: 'ip' | 'ip6', set: string, address: string) => {
    const listed = await sh('ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'set', family, family === 'ip' ? 'crowdsec' : 'crowdsec6', set).catch(() => '')
    return listed.includes(`"${address}"`)
  }

  test('puts a banned address into its nftables set and takes it out at the unban', async () => {
    await control.ban('sshd', ['192.0.2.7'], {})
    await eventually(`192.0.2.7 in the set\n${output}`, () => setHolds('ip', 'crowdsec-blacklists', '192.0.2.7'))
    const ruleset = await sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'chain', 'ip', 'crowdsec', 'crowdsec-chain')
    assert.match(ruleset, /ip saddr @crowdsec-blacklists .*drop/)

    await control.unban(undefined, ['192.0.2.7'])
    await eventually(`192.0.2.7 out of the set\n${output}`, async () => !(await setHolds('ip', 'crowdsec-blacklists', '192.0.2.7')))
  })

  test('bans an IPv6 address in the IPv6 set', async () => {
    await control.ban('sshd', ['2001:db8::99'], {})
    await eventually(`2001:db8::99 in the set\n${output}`, () => setHolds('ip6', 'crowdsec6-blacklists', '2001:db8::99'))
  })

  test('an unban made while banstream restarts leaves the set once the bouncer pulls from the new process', async () => {
    await control.ban('sshd', ['192.0.2.20', '192.0.2.21'], {})
    await eventually(`192.0.2.20 and .21 in the set\n${output}`, async () =>
      (await setHolds('ip', 'crowdsec-blacklists', '192.0.2.20')) && (await setHolds('ip', 'crowdsec-blacklists', '192.0.2.21')))
    const { port } = app.server.address() as { port: number }
    await app.close()
    await control.unban(undefined, ['192.0.2.20'])
    // A ban that began and ended while the bouncer could not pull: it is told as deleted though never added.
    await control.ban('sshd', ['192.0.2.22'], {})
    await control.unban(undefined, ['192.0.2.22'])
    app = startApi()
    await app.listen({ host: '198.51.100.1', port })
    await eventually(`192.0.2.20 out of the set\n${output}`, async () => !(await setHolds('ip', 'crowdsec-blacklists', '192.0.2.20')))
    assert.equal(await setHolds('ip', 'crowdsec-blacklists', '192.0.2.21'), true)
    assert.ok(bouncer.exitCode === null, output)
  })
})
