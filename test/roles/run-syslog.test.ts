import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Decision } from '../../schemas/events/decision.js'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { Topics } from '../../schemas/topics.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { builtinConfigDir } from '../../src/package-root.js'
import { RunRole } from '../../src/roles/run.js'
import { tempDir, waitFor } from './run-test-kit.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** An RFC 3164 message as a host's syslog daemon sends it: local time, no year. */
function rfc3164(atMs: number, host: string, text: string): string {
  const d = new Date(atMs)
  const two = (n: number) => String(n).padStart(2, '0')
  return `<38>${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${host} ${text}`
}

/** An RFC 5424 message, octet-counted as RFC 6587 frames it over TCP. */
function octetCounted5424(atMs: number, host: string, app: string, pid: number, text: string): string {
  const message = `<22>1 ${new Date(atMs).toISOString()} ${host} ${app} ${pid} - - ${text}`
  return `${Buffer.byteLength(message)} ${message}`
}

async function sendUdp(port: number, message: string, from = '127.0.0.1'): Promise<void> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, from, () => resolve()))
  await new Promise<void>((resolve, reject) => socket.send(message, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())))
  socket.close()
}

async function sendTcp(port: number, data: string): Promise<void> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  await new Promise<void>((resolve) => socket.end(data, () => resolve()))
}

describe('banstream run with a syslog server: jails with backend = syslog read what other hosts send', () => {
  let role: RunRole
  let decisions: Decision[] = []
  let failures: FailureDetected[] = []
  let metrics = ''

  before(async () => {
    const work = tempDir('banstream-run-syslog-')
    const config = join(work, 'config')
    mkdirSync(config)
    symlinkSync(join(builtinConfigDir(), 'filter.d'), join(config, 'filter.d'))
    writeFileSync(join(config, 'jail.conf'), [
      '[DEFAULT]', 'backend = syslog', 'maxretry = 2', 'findtime = 600', 'bantime = 600', '',
      '[sshd]', 'enabled = true', 'filter = sshd', '',
      '[postfix]', 'enabled = true', 'filter = postfix[mode=more]', '',
    ].join('\n'))
    role = await RunRole.start({
      configDir: config,
      dataDir: join(work, 'data'),
      control: { port: 0 },
      fsync: 'never',
      // Only 127.0.0.1 may send: a datagram from another loopback address stands for a host not listed.
      syslog: { udp: { address: '127.0.0.1', port: 0 }, tcp: { address: '127.0.0.1', port: 0 }, allowed_senders: ['127.0.0.1'] },
      note: () => undefined,
    })
    const { udp, tcp } = role.syslogAddresses
    const now = Date.now()
    for (const [i, pid] of [4101, 4102].entries()) {
      await sendUdp(udp!.port, rfc3164(now - 2000 + i, 'bastion', `sshd[${pid}]: Failed password for root from 192.0.2.31 port 5${pid} ssh2`))
    }
    // The same attack from a sender not allowed would ban 192.0.2.32; it must never arrive.
    for (const pid of [4201, 4202, 4203]) {
      await sendUdp(udp!.port, rfc3164(now - 1000, 'bastion', `sshd[${pid}]: Failed password for root from 192.0.2.32 port 5${pid} ssh2`), '127.0.0.2')
    }
    await sendTcp(tcp!.port, [now - 1500, now - 1400].map((atMs, i) => octetCounted5424(atMs, 'mail1', 'postfix/smtpd', 777 + i,
      'NOQUEUE: reject: RCPT from unknown[203.0.113.40]: 554 5.7.1 <x@example.com>: Relay access denied; from=<a@example.org> to=<x@example.com> proto=ESMTP helo=<x>')).join(''))

    const decided = async () => {
      const out: Decision[] = []
      for await (const record of readToEnd(role.log, Topics.decisions.name)) out.push(JSON.parse(record.value.toString('utf8')) as Decision)
      return out
    }
    await waitFor('both bans', async () => (decisions = await decided()).filter((d) => d.type === 'BanIssued').length >= 2, 10_000)
    for await (const record of readToEnd(role.log, Topics.failures.name)) failures.push(JSON.parse(record.value.toString('utf8')) as FailureDetected)
    metrics = await (await fetch(`${role.controlUrl!}/metrics`)).text()
  })
  after(async () => {
    await role?.stop()
  })

  test('failures sent over UDP (RFC 3164) and TCP (RFC 5424, octet counting) are banned by their jails', () => {
    const bans = decisions.filter((d) => d.type === 'BanIssued').map((d) => `${d.jail} ${d.ip}`).sort()
    assert.deepEqual(bans, ['postfix 203.0.113.40', 'sshd 192.0.2.31'])
  })

  test('each failure names the host its message named, and the ban targets that host', () => {
    assert.deepEqual([...new Set(failures.map((f) => `${f.jail} ${f.host}`))].sort(), ['postfix mail1', 'sshd bastion'])
    const targets = Object.fromEntries(decisions.filter((d) => d.type === 'BanIssued').map((d) => [d.jail, d.type === 'BanIssued' ? d.targets : undefined]))
    assert.deepEqual(targets, { sshd: ['bastion'], postfix: ['mail1'] })
  })

  test('a sender not in the allowed list is refused, never counted, and the refusal is in /metrics', () => {
    assert.equal(failures.some((f) => f.ip === '192.0.2.32'), false)
    assert.match(metrics, /banstream_syslog_events_total\{event="refused_senders"\} 3/)
    assert.match(metrics, /banstream_syslog_events_total\{event="messages"\} 4/)
  })
})
