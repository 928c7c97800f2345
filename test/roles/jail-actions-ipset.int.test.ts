import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Actuation } from '../../schemas/events/actuation.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { packageRoot } from '../../src/package-root.js'
import { ActuateWorker } from '../../src/roles/actuate-worker.js'
import { prepareJailActions, type JailActions } from '../../src/roles/jail-actions.js'
import { loadRunJails } from '../../src/roles/run-jails.js'
import { Fail2banLog } from '../../sinks/fail2ban-log.js'
import { connectFrom, ipsetSkipReason, namespacePair, sh, type NamespacePair } from '../netns/netns-kit.js'

// fail2ban's iptables action names in jail.conf reach the ipset backend, and the actuate worker hands
// their decisions to it: real ipset and iptables in a network namespace.
const PORT = 2222
const OTHER_PORT = 2223

const skip = await ipsetSkipReason()
if (skip) console.log(`# skipping the jail actions + ipset namespace test: ${skip}`)

const JAIL_CONF = (dir: string) => `[DEFAULT]
enabled = true
filter = sshd
logpath = ${dir}/auth.log
chain = <known/chain>

[sshd]
action = iptables-ipset-proto6[name=sshd, port=${PORT}, protocol=tcp, blocktype=DROP, chain="%(chain)s"]
         nftables[port=${OTHER_PORT}, protocol=tcp, blocktype=drop]

[postfix]
action = iptables-allports[name=mail, protocol=tcp]

[hostile]
action = iptables-multiport[name=hostile, port="22;reboot"]
`

describe('jail actions with the ipset backend in network namespaces', { skip }, () => {
  let pair: NamespacePair
  let dir: string
  let listener: ChildProcess | undefined
  let actions: JailActions
  const notes: string[] = []

  before(async () => {
    pair = await namespacePair()
    dir = await mkdtemp(join(tmpdir(), 'banstream-ipset-actions-'))
    const config = join(dir, 'config')
    await mkdir(config)
    await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
    await writeFile(join(config, 'jail.conf'), JAIL_CONF(dir))
    await writeFile(join(dir, 'auth.log'), '')
    const { jails } = loadRunJails(config, () => Date.now() / 1000)
    const inServer = { command_prefix: ['ip', 'netns', 'exec', pair.server], command_timeout_ms: 10_000 }
    actions = await prepareJailActions(jails, { note: (level, message) => notes.push(`${level}: ${message}`), nftables: inServer, ipset: inServer })
    listener = spawn('ip', ['netns', 'exec', pair.server, process.execPath, '-e',
      `for (const p of [${PORT}, ${OTHER_PORT}]) require('net').createServer((s) => s.end()).listen(p, '::')`], { stdio: 'ignore' })
  })

  after(async () => {
    if (listener?.pid !== undefined) {
      listener.kill('SIGKILL')
      await new Promise((r) => listener!.exitCode !== null || listener!.signalCode !== null ? r(undefined) : listener!.once('exit', r))
    }
    await pair?.remove()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })

  test('iptables-ipset*, iptables-multiport and iptables-allports go to the ipset backend; a bad port is logged only', async () => {
    assert.deepEqual(actions.of('sshd').map((a) => a.backend), ['ipset', 'nftables'])
    assert.deepEqual(actions.of('postfix').map((a) => a.backend), ['ipset'])
    assert.deepEqual(actions.of('hostile').map((a) => a.backend), ['dry-run'])
    assert.ok(notes.some((n) => /^error: .*invalid port "22;reboot".* is logged, not applied$/.test(n)), notes.join('\n'))
    assert.deepEqual([...actions.backends.keys()].sort(), ['ipset', 'nftables'])
    const rules = await sh('ip', 'netns', 'exec', pair.server, 'iptables', '-S')
    assert.match(rules, /^-A INPUT -j bs-sshd$/m)
    assert.match(rules, /^-A bs-mail -p tcp -m set --match-set bs-mail src -j REJECT --reject-with icmp-port-unreachable$/m)
  })

  test('the actuate worker applies a ban through both backends of the jail and reports each', async () => {
    const log = await EmbeddedLog.open({ dataDir: join(dir, 'data'), report: () => {}, fsync: 'never' })
    await log.createTopic('decisions', 1)
    await log.createTopic('actuations', 1)
    const fail2banLog = new Fail2banLog({ path: join(dir, 'banstream.log') })
    const worker = ActuateWorker.start({ log, host: 'srv', fail2banLog, actions: () => actions, report: () => {} })
    try {
      const now = Date.now()
      const ban: BanIssued = {
        type: 'BanIssued', event_id: 'ban-1', cause_event_id: 'failure-1', jail: 'sshd', ip: '192.0.2.2', failures: 3, ban_time_secs: 600,
        ban_count: 1, expires_at: new Date(now + 600_000).toISOString(), occurred_at: new Date(now).toISOString(), reason: 'threshold', matches: [],
      }
      await log.append('decisions', [{ key: Buffer.from(ban.ip), value: Buffer.from(JSON.stringify(ban)) }])
      const end = Date.now() + 10_000
      let actuations: Actuation[] = []
      while (actuations.length < 2 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100))
        actuations = []
        for await (const r of readToEnd(log, 'actuations')) actuations.push(JSON.parse(r.value.toString()) as Actuation)
      }
      assert.deepEqual(actuations.map((a) => [a.jail, a.ip, a.backend, a.outcome]).sort(),
        [['sshd', '192.0.2.2', 'ipset', 'applied'], ['sshd', '192.0.2.2', 'nftables', 'applied']])
      assert.equal(await connectFrom(pair.client, '192.0.2.1', PORT), 'timeout')
      assert.equal(await connectFrom(pair.client, '192.0.2.1', OTHER_PORT), 'timeout')
    } finally {
      await worker.stop()
      await fail2banLog.close()
      await log.close()
    }
  })
})
