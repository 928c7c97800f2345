import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { SMTPServer } from 'smtp-server'
import { MailActuator } from '../../../sinks/actuators/mail-actuator.js'
import { mailJail } from '../../../sinks/actuators/mail-message.js'
import { ban, lift } from './decision-fixtures.js'

interface Delivered {
  readonly from: string
  readonly to: readonly string[]
  /** Header lines as sent, folded lines unfolded. */
  readonly headers: readonly string[]
  readonly body: string
}

let server: SMTPServer
let port: number
const delivered: Delivered[] = []

// A real SMTP server: keeps every message it is given, refuses mail to refused@example.net.
before(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      callback(address.address === 'refused@example.net' ? Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }) : null)
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const split = raw.indexOf('\r\n\r\n')
        const headers = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n')
        const encoding = headers.find((h) => /^content-transfer-encoding:/i.test(h))?.split(':')[1]?.trim().toLowerCase()
        const body = raw.slice(split + 4)
        delivered.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          headers,
          body: encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : body.replace(/\r\n/g, '\n'),
        })
        callback()
      })
    },
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.server.address() as AddressInfo).port
})
after(() => new Promise<void>((r) => server.close(r)))

function decodeQuotedPrintable(text: string): string {
  const bytes = Buffer.from(text.replace(/=\r\n/g, '').replace(/\r\n/g, '\n').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1')
  return bytes.toString('utf8')
}

function header(mail: Delivered, name: string): string | undefined {
  const line = mail.headers.find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))
  return line?.slice(name.length + 1).trim()
}

/** A backend for one jail's `action`, mailing through the test server; whois is `echo`, so the mail shows what it was given. */
function actuator(action: string, args: Record<string, string> = {}, now?: () => number): MailActuator {
  const settings = mailJail('sshd', action, { dest: 'ops@example.net', smtp_host: '127.0.0.1', smtp_port: String(port), ...args }, 'mx1.example.net')
  return new MailActuator({ jails: [settings], whois: 'echo', ...(now ? { now } : {}) })
}

async function mailOf(backend: MailActuator, decision: Parameters<MailActuator['actuate']>[0][number]): Promise<Delivered> {
  const before = delivered.length
  const [outcome] = await backend.actuate([decision])
  assert.equal(outcome!.outcome, 'applied', outcome!.error)
  assert.equal(delivered.length, before + 1)
  return delivered.at(-1)!
}

describe('mail actuator', () => {
  test('mails a sendmail-whois-lines ban with fail2ban\'s subject, the whois text and the matched lines', async () => {
    const lines = ['Nov 22 06:00:01 mx1 sshd[71]: Failed password for root from 192.0.2.7 port 22', 'Nov 22 06:00:03 mx1 sshd[71]: Failed password for admin from 192.0.2.7 port 22']
    const mail = await mailOf(actuator('sendmail-whois-lines'), { ...ban('sshd', '192.0.2.7', 600), matches: lines })
    assert.equal(header(mail, 'Subject'), '[Fail2Ban] sshd: banned 192.0.2.7 from mx1.example.net')
    assert.equal(header(mail, 'From'), 'Fail2Ban <fail2ban@mx1.example.net>')
    assert.equal(header(mail, 'To'), 'ops@example.net')
    assert.equal(mail.from, 'fail2ban@mx1.example.net')
    assert.deepEqual(mail.to, ['ops@example.net'])
    assert.match(mail.body, /The IP 192\.0\.2\.7 has just been banned by Fail2Ban after\n3 attempts against sshd\./)
    assert.match(mail.body, /Here is more information about 192\.0\.2\.7 :\n\n192\.0\.2\.7\n/)
    assert.ok(mail.body.includes(`Lines containing failures of 192.0.2.7 (max 1000)\n${lines.join('\n')}\n`), mail.body)
  })

  test('a matched line carrying CR LF and a header stays in the body and adds no header or recipient', async () => {
    const hostile = 'sshd[9]: Invalid user x from 192.0.2.8\r\nBcc: victim@evil.example\r\nSubject: pwned'
    const mail = await mailOf(actuator('sendmail-whois-matches', { name: 'sshd' }), { ...ban('sshd', '192.0.2.8', 600), matches: [hostile] })
    assert.deepEqual(mail.to, ['ops@example.net'])
    assert.equal(header(mail, 'Bcc'), undefined)
    assert.deepEqual(mail.headers.filter((h) => /^subject:/i.test(h)), ['Subject: [Fail2Ban] sshd: banned 192.0.2.8 from mx1.example.net'])
    assert.match(mail.body, /Matches:\n\nsshd\[9\]: Invalid user x from 192\.0\.2\.8\n+Bcc: victim@evil\.example\n+Subject: pwned\n/)
  })

  test('looks up a banned network by its first address and names the network in the subject', async () => {
    const mail = await mailOf(actuator('mail-whois'), ban('sshd', '2001:db8::/64', 600))
    assert.equal(header(mail, 'Subject'), '[Fail2Ban] sshd: banned 2001:db8::/64 from mx1.example.net')
    assert.match(mail.body, /Here is more information about 2001:db8::\/64 :\n\n2001:db8::\n/)
  })

  test('a sendmail ban has neither whois text nor lines', async () => {
    const mail = await mailOf(actuator('sendmail'), { ...ban('sshd', '192.0.2.9', 600), matches: ['a line'] })
    assert.doesNotMatch(mail.body, /more information|a line/)
    assert.match(mail.body, /Regards,\n\nFail2Ban\n$/)
  })

  test('an unban sends no mail and is reported removed', async () => {
    const before = delivered.length
    const b = ban('sshd', '192.0.2.10', 600)
    const [outcome] = await actuator('sendmail-whois-lines').actuate([lift(b)])
    assert.equal(outcome!.outcome, 'removed')
    assert.equal(delivered.length, before)
  })

  test('a ban already over when it arrives is skipped, not mailed', async () => {
    const before = delivered.length
    const b = ban('sshd', '192.0.2.11', 60)
    const [outcome] = await actuator('sendmail-whois-lines', {}, () => Date.parse(b.expires_at!) + 1).actuate([b])
    assert.equal(outcome!.outcome, 'skipped')
    assert.equal(delivered.length, before)
  })

  test('a recipient the server refuses fails the ban with the server\'s answer', async () => {
    const [outcome] = await actuator('sendmail', { dest: 'refused@example.net' }).actuate([ban('sshd', '192.0.2.12', 600)])
    assert.equal(outcome!.outcome, 'failed')
    assert.match(outcome!.error!, /550/)
  })

  test('no SMTP server listening fails the ban, and the next decision still gets its outcome', async () => {
    const settings = mailJail('sshd', 'sendmail', { smtp_host: '127.0.0.1', smtp_port: '1' }, 'mx1.example.net')
    const backend = new MailActuator({ jails: [settings], whois: null })
    const b = ban('sshd', '192.0.2.13', 600)
    const outcomes = await backend.actuate([b, lift(b), ban('postfix', '192.0.2.14', 600)])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['failed', 'removed', 'failed'])
    assert.match(outcomes[0]!.error!, /ECONNREFUSED/)
    assert.match(outcomes[2]!.error!, /jail postfix has no mail action/)
  })
})
