import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { banMail, MAIL_ACTIONS, mailJail, MailInputError } from '../../../sinks/actuators/mail-message.js'
import { ACTION_BACKENDS } from '../../../src/roles/action-backends.js'
import { ban } from './decision-fixtures.js'

const HOST = 'mx1.example.net'

describe('mail action arguments', () => {
  test('take fail2ban\'s [Init] defaults, qualified with this host like sendmail', () => {
    const settings = mailJail('sshd', 'sendmail-whois-lines', {}, HOST)
    assert.deepEqual(settings.dest, ['root@mx1.example.net'])
    assert.equal(settings.sender, 'fail2ban@mx1.example.net')
    assert.equal(settings.sendername, 'Fail2Ban')
    assert.equal(settings.name, 'sshd')
    assert.equal(settings.grepmax, 1000)
    assert.deepEqual(settings.smtp, { host: 'localhost', port: 25, tls: 'none' })
  })

  test('read jail.conf\'s sender with <fq-hostname>, a list of recipients and a name', () => {
    const settings = mailJail('sshd', 'mail-whois', { sender: 'root@<fq-hostname>', dest: 'a@example.net, b@example.org c', name: 'ssh-guard', sendername: 'Ban Bot' }, HOST)
    assert.equal(settings.sender, 'root@mx1.example.net')
    assert.deepEqual(settings.dest, ['a@example.net', 'b@example.org', 'c@mx1.example.net'])
    assert.equal(settings.name, 'ssh-guard')
    assert.equal(settings.sendername, 'Ban Bot')
  })

  test('require verified TLS for a remote SMTP server unless told otherwise', () => {
    assert.deepEqual(mailJail('sshd', 'sendmail', { smtp_host: 'relay.example.net' }, HOST).smtp, { host: 'relay.example.net', port: 25, tls: 'starttls' })
    assert.deepEqual(mailJail('sshd', 'sendmail', { smtp_host: 'relay.example.net', smtp_tls: 'tls' }, HOST).smtp, { host: 'relay.example.net', port: 465, tls: 'tls' })
    assert.deepEqual(mailJail('sshd', 'sendmail', { smtp_host: '::1', smtp_port: '2525' }, HOST).smtp, { host: '::1', port: 2525, tls: 'none' })
  })

  test('refuse addresses, names and servers that could carry a header or a command', () => {
    const refused: Record<string, string>[] = [
      { dest: 'ops@example.net\r\nBcc: x@evil.example' },
      { dest: 'Ops <ops@example.net>' },
      { sender: 'a@b;rm -rf /' },
      { sendername: 'Fail2Ban\r\nBcc: x@evil.example' },
      { name: 'sshd\nBcc: x' },
      { dest: ' , ' },
      { smtp_host: 'relay.example.net -oQ' },
      { smtp_port: '0' },
      { smtp_tls: 'maybe' },
      { grepmax: '-1' },
    ]
    for (const args of refused) assert.throws(() => mailJail('sshd', 'sendmail', args, HOST), MailInputError, JSON.stringify(args))
  })
})

describe('ban mail', () => {
  const settings = (action: string, args: Record<string, string> = {}) => mailJail('sshd', action, args, HOST)

  test('lists at most grepmax lines, the latest ones, under fail2ban\'s heading', () => {
    const b = { ...ban('sshd', '192.0.2.7', 600), matches: ['one', 'two', 'three'] }
    const mail = banMail(settings('mail-whois-lines', { grepmax: '2' }), b, '192.0.2.7', 'whois text')
    assert.ok(mail.text.includes('Lines containing failures of 192.0.2.7 (max 2)\ntwo\nthree\n'), mail.text)
    assert.ok(mail.text.includes('Here is more information about 192.0.2.7 :\n\nwhois text\n'))
  })

  test('words the ipmatches and ipjailmatches headings with the failure count', () => {
    const b = { ...ban('sshd', '192.0.2.7', 600), matches: ['one'] }
    assert.match(banMail(settings('sendmail-whois-ipmatches'), b, '192.0.2.7', '').text, /Matches with 3 failures IP:192\.0\.2\.7\none\n/)
    assert.match(banMail(settings('sendmail-whois-ipjailmatches', { name: 'ssh' }), b, '192.0.2.7', '').text, /Matches for ssh with 3 failures IP:192\.0\.2\.7\none\n/)
  })

  test('has the subject fail2ban gives it', () => {
    assert.equal(banMail(settings('sendmail'), ban('sshd', '192.0.2.7', 600), '192.0.2.7', undefined).subject, '[Fail2Ban] sshd: banned 192.0.2.7 from mx1.example.net')
  })
})

describe('mail backend kind', () => {
  // The kind that carries out an action: the first in ACTION_BACKENDS to claim it.
  const firstClaim = (name: string) => ACTION_BACKENDS.map((k) => k.claims({ name, args: {} })).find((key) => key !== undefined)

  test('claims each of fail2ban\'s mail actions, one backend per action file', () => {
    for (const name of Object.keys(MAIL_ACTIONS)) {
      assert.ok(existsSync(join('/work/shared/fail2ban/action.d', `${name}.conf`)) || !existsSync('/work/shared/fail2ban/action.d'), `${name} is one of fail2ban's actions`)
      assert.equal(firstClaim(name), `mail:${name}`)
    }
  })

  test('leaves the buffered and geoip mail actions alone', () => {
    for (const name of ['sendmail-buffered', 'mail-buffered', 'sendmail-geoip-lines', 'sendmail-common']) {
      assert.ok(!firstClaim(name)?.startsWith('mail:'), name)
    }
  })
})
