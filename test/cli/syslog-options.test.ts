import assert from 'node:assert/strict'
import { test } from 'node:test'
import { syslogOf } from '../../src/cli/syslog-options.js'

test('no --syslog-udp or --syslog-tcp: no syslog server, and --syslog-allow alone is a mistake', () => {
  assert.equal(syslogOf({ syslogAllow: [] }), undefined)
  assert.throws(() => syslogOf({ syslogAllow: ['192.0.2.0/24'] }), /--syslog-allow names senders of a syslog server: add --syslog-udp or --syslog-tcp/)
})

test('on loopback the senders default to loopback', () => {
  assert.deepEqual(syslogOf({ syslogUdp: '127.0.0.1:5514', syslogAllow: [] }), {
    udp: { address: '127.0.0.1', port: 5514 }, allowed_senders: ['127.0.0.0/8', '::1'],
  })
  assert.deepEqual(syslogOf({ syslogTcp: ':514', syslogAllow: [] })?.tcp, { address: '127.0.0.1', port: 514 })
})

test('listening beyond loopback needs the senders named, since a sender can get any address banned', () => {
  assert.throws(() => syslogOf({ syslogUdp: '127.0.0.1:514', syslogTcp: '0.0.0.0:514', syslogAllow: [] }),
    /syslog on 0\.0\.0\.0: name the hosts that may send with --syslog-allow/)
  assert.deepEqual(syslogOf({ syslogTcp: '[::]:6514', syslogAllow: ['10.0.0.0/8', '2001:db8::/32'] }), {
    tcp: { address: '::', port: 6514 }, allowed_senders: ['10.0.0.0/8', '2001:db8::/32'],
  })
})

test('a listen address or sender that is not one is refused with the option named', () => {
  assert.throws(() => syslogOf({ syslogUdp: '514', syslogAllow: [] }), /--syslog-udp 514: use host:port/)
  assert.throws(() => syslogOf({ syslogUdp: '0.0.0.0:514', syslogAllow: ['mail.example.com'] }), /--syslog-allow: 'mail.example.com' is not an address or network/)
})
