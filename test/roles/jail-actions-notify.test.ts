import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { SMTPServer } from 'smtp-server'
import type { Actuation } from '../../schemas/events/actuation.js'
import { packageRoot } from '../../src/package-root.js'
import { prepareJailActions, type JailActions } from '../../src/roles/jail-actions.js'
import { loadRunJails } from '../../src/roles/run-jails.js'
import { ban, lift, until } from '../sinks/actuators/decision-fixtures.js'
import { startActuating } from './actuate-kit.js'

// A jail.conf naming fail2ban's sendmail-whois-lines and banstream's webhook: the actuate worker
// hands the jail's decisions to the mail and webhook backends, which reach a real SMTP server and
// a real HTTP endpoint.
describe('jail actions with the mail and webhook backends', () => {
  let dir: string
  let smtp: SMTPServer
  let http: Server
  let actions: JailActions
  const mails: string[] = []
  const posts: string[] = []

  before(async () => {
    smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => { mails.push(Buffer.concat(chunks).toString('utf8')); callback() })
      },
    })
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r))
    http = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => { posts.push(Buffer.concat(chunks).toString('utf8')); res.writeHead(204).end() })
    })
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))

    dir = await mkdtemp(join(tmpdir(), 'banstream-notify-actions-'))
    const config = join(dir, 'config')
    await mkdir(config)
    await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
    await writeFile(join(config, 'webhook.secret'), 's3cret\n')
    await writeFile(join(dir, 'auth.log'), '')
    await writeFile(join(config, 'jail.conf'), `[sshd]
enabled = true
filter = sshd
logpath = ${dir}/auth.log
destemail = ops@example.net
action = sendmail-whois-lines[dest="%(destemail)s", sender="banstream@<fq-hostname>", smtp_host=127.0.0.1, smtp_port=${(smtp.server.address() as AddressInfo).port}]
         webhook[url="http://127.0.0.1:${(http.address() as AddressInfo).port}/ban", secret_file=webhook.secret]
`)
    const { jails } = loadRunJails(config, () => Date.now() / 1000)
    actions = await prepareJailActions(jails, { note: () => {}, mail: { whois: null }, webhook: { host: 'srv' } })
  })

  after(async () => {
    await new Promise<void>((r) => smtp.close(r))
    await new Promise<void>((r) => http.close(() => r()))
    await rm(dir, { recursive: true, force: true })
  })

  test('the actuate worker mails a ban, posts it and its unban, and reports each', async () => {
    assert.deepEqual(actions.of('sshd').map((a) => a.backend), ['mail:sendmail-whois-lines', 'webhook'])
    const actuating = await startActuating(dir, 'srv', actions)
    try {
      const b = { ...ban('sshd', '192.0.2.2', 600), matches: ['sshd[5]: Failed password for root from 192.0.2.2 port 4242 ssh2'] }
      await actuating.decide([b, lift(b)])
      let actuations: Actuation[] = []
      await until('four actuations', async () => (actuations = await actuating.actuations()).length >= 4, 10_000)
      assert.deepEqual(actuations.map((a) => [a.decision_event_id === b.event_id ? 'ban' : 'unban', a.backend, a.outcome]).sort(), [
        ['ban', 'mail', 'applied'], ['ban', 'webhook', 'applied'], ['unban', 'mail', 'removed'], ['unban', 'webhook', 'removed'],
      ])
      assert.equal(mails.length, 1)
      assert.match(mails[0]!, /^Subject: \[Fail2Ban\] sshd: banned 192\.0\.2\.2 from /m)
      assert.match(mails[0]!, /^To: ops@example\.net\r$/m)
      assert.match(mails[0]!, /Failed password for root from 192\.0\.2\.2 port 4242 ssh2/)
      assert.deepEqual(posts.map((p) => [JSON.parse(p).type, JSON.parse(p).host]), [['BanIssued', 'srv'], ['BanLifted', 'srv']])
    } finally {
      await actuating.stop()
    }
  })
})
