import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Actuation } from '../../schemas/events/actuation.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { packageRoot } from '../../src/package-root.js'
import { RunRole } from '../../src/roles/run.js'
import { connectFrom, namespacePair, namespaceSkipReason, type NamespacePair } from '../netns/netns-kit.js'

// The whole job on real hosts: an "attacker" namespace fails to log in to a small service in a "server"
// namespace that writes sshd's failure lines to a log; banstream reads it, bans, and nftables drops the attacker.
const PORT = 2222
const skip = await namespaceSkipReason()
if (skip) console.log(`# skipping the banstream run + nftables namespace test: ${skip}`)

// sshd's own words for a failed password, in local time as syslog writes it.
const LOGIN_SERVICE = `
const [log, port] = process.argv.slice(1)
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
let pid = 4000
require('net').createServer((s) => {
  // The client hangs up at once; its reset must not end the service.
  s.on('error', () => {})
  const d = new Date()
  const when = months[d.getMonth()] + ' ' + String(d.getDate()).padStart(2) + ' ' + d.toTimeString().slice(0, 8)
  require('fs').appendFileSync(log, when + ' srv sshd[' + (pid++) + ']: Failed password for root from ' + s.remoteAddress + ' port ' + s.remotePort + ' ssh2\\n')
  s.end('Permission denied\\n')
}).listen(Number(port), '0.0.0.0')
`

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > end) assert.fail(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('banstream run with nftables in network namespaces', { skip }, () => {
  let pair: NamespacePair
  let dir: string
  let service: ChildProcess | undefined
  let role: RunRole | undefined

  before(async () => {
    pair = await namespacePair()
    dir = await mkdtemp(join(tmpdir(), 'banstream-run-nft-'))
    const config = join(dir, 'config')
    await mkdir(config)
    await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
    await writeFile(join(config, 'jail.conf'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\n` +
      `maxretry = 3\nfindtime = 10m\nbantime = 1h\nignoreself = false\naction = nftables[port=${PORT}, protocol=tcp, blocktype=drop]\n`)
    await writeFile(join(dir, 'auth.log'), '')
    service = spawn('ip', ['netns', 'exec', pair.server, process.execPath, '-e', LOGIN_SERVICE, join(dir, 'auth.log'), String(PORT)], { stdio: 'ignore' })
    await eventually('the login service', async () => ((await connectFrom(pair.client, '192.0.2.1', PORT)) === 'connected' ? true : undefined))
    await writeFile(join(dir, 'auth.log'), '')
    role = await RunRole.start({
      configDir: config, dataDir: join(dir, 'data'), control: { port: 0 }, fsync: 'never', host: 'srv', note: () => {},
      nftables: { command_prefix: ['ip', 'netns', 'exec', pair.server], command_timeout_ms: 10_000 },
    })
  })

  after(async () => {
    await role?.stop()
    if (service?.pid !== undefined && service.exitCode === null) {
      service.kill('SIGKILL')
      await new Promise((r) => service!.once('exit', r))
    }
    await pair?.remove()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })

  test('three failed logins ban the attacker: its next connection is dropped; an unban lets it in again', async () => {
    for (let n = 0; n < 3; n++) assert.equal(await connectFrom(pair.client, '192.0.2.1', PORT), 'connected')
    await eventually('the ban', async () => ((await role!.control.banned()).length === 1 ? true : undefined))
    assert.equal(await eventually('the drop', async () => {
      const r = await connectFrom(pair.client, '192.0.2.1', PORT)
      return r === 'timeout' ? r : undefined
    }), 'timeout')
    const actuations: Actuation[] = []
    for await (const r of readToEnd(role!.log, 'actuations')) actuations.push(JSON.parse(r.value.toString()) as Actuation)
    assert.deepEqual(actuations.map((a) => [a.host, a.jail, a.ip, a.backend, a.outcome]), [['srv', 'sshd', '192.0.2.2', 'nftables', 'applied']])

    assert.equal(await role!.control.unban('sshd', ['192.0.2.2']), 1)
    assert.equal(await eventually('the unban', async () => {
      const r = await connectFrom(pair.client, '192.0.2.1', PORT)
      return r === 'connected' ? r : undefined
    }), 'connected')
  })
})
