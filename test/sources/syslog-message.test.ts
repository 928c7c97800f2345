import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { renderSyslogMessage, traditionalTimestamp } from '../../src/sources/syslog-message.js'

// 2005-08-14 12:00:00 CEST, the conformance samples' reference time.
const context = { remote_address: '192.0.2.1', received_at: Date.parse('2005-08-14T10:00:00Z'), time_zone: 'Europe/Zurich' }
const render = (message: string | Buffer) => {
  const rendered = renderSyslogMessage(Buffer.isBuffer(message) ? message : Buffer.from(message), context)
  return rendered && { host: rendered.host, line: rendered.line.toString('utf8') }
}

describe('renderSyslogMessage', () => {
  test('RFC 3164 with a hostname keeps the timestamp, host, tag and message', () => {
    assert.deepEqual(render("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"), {
      host: 'mymachine',
      line: "Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    })
  })

  test('RFC 3164 without a hostname (as a local daemon sends it) takes the sender address', () => {
    assert.deepEqual(render('<38>Aug 4 11:58:58 sshd[4321]: Failed password for root from 192.0.2.7 port 22 ssh2'), {
      host: '192.0.2.1',
      line: 'Aug  4 11:58:58 192.0.2.1 sshd[4321]: Failed password for root from 192.0.2.7 port 22 ssh2',
    })
  })

  test('RFC 3164 with an RFC 3339 timestamp renders it in the configured zone', () => {
    assert.deepEqual(render('<13>2005-08-14T10:00:00.123456Z web1 nginx: denied'), {
      host: 'web1',
      line: 'Aug 14 12:00:00 web1 nginx: denied',
    })
  })

  test('a message without PRI or timestamp gets the receipt time and the sender address', () => {
    assert.deepEqual(render('just text'), { host: '192.0.2.1', line: 'Aug 14 12:00:00 192.0.2.1 just text' })
  })

  test('a stamp shaped like RFC 3339 that names no instant (hour 25, month 13) gets the receipt time', () => {
    assert.deepEqual(render('<34>1 2026-11-23T25:00:00Z web1 sshd 7 - - Failed password for root from 192.0.2.9 port 22 ssh2'), {
      host: 'web1', line: 'Aug 14 12:00:00 web1 sshd[7]: Failed password for root from 192.0.2.9 port 22 ssh2',
    })
    assert.deepEqual(render('<34>2026-13-45T10:00:00Z web1 sshd[7]: Failed password for root from 192.0.2.9 port 22 ssh2'), {
      host: 'web1', line: 'Aug 14 12:00:00 web1 sshd[7]: Failed password for root from 192.0.2.9 port 22 ssh2',
    })
  })

  test('RFC 5424 becomes HOSTNAME APP-NAME[PROCID]: MSG without structured data and BOM', () => {
    assert.deepEqual(
      render(
        '<165>1 2005-08-14T03:14:15.000003-07:00 mymachine.example.com myproc 8710 ID47 [exampleSDID@32473 iut="3" eventSource="Appl\\]ication"] \ufeffAn application event',
      ),
      { host: 'mymachine.example.com', line: 'Aug 14 12:14:15 mymachine.example.com myproc[8710]: An application event' },
    )
  })

  test('RFC 5424 with nil fields uses the sender address and omits PROCID', () => {
    assert.deepEqual(render('<34>1 2005-08-14T10:00:00Z - sshd - - - Failed password for root from 192.0.2.9'), {
      host: '192.0.2.1',
      line: 'Aug 14 12:00:00 192.0.2.1 sshd: Failed password for root from 192.0.2.9',
    })
  })

  test('control characters are escaped as rsyslog does', () => {
    assert.equal(render('<13>Aug 14 12:00:00 h app: a\tb\nc')?.line, 'Aug 14 12:00:00 h app: a#011b#012c')
  })

  test('message bytes that are not UTF-8 stay as they are', () => {
    const rendered = renderSyslogMessage(Buffer.concat([Buffer.from('<13>Aug 14 12:00:00 h app: r'), Buffer.from([0xf6]), Buffer.from('t')]), context)
    assert.deepEqual(rendered?.line.subarray(-3), Buffer.from([0x72, 0xf6, 0x74]))
  })

  test('an empty message is refused', () => {
    assert.equal(render('\n'), undefined)
  })
})

describe('traditionalTimestamp', () => {
  test('pads the day with a space and uses the given zone', () => {
    assert.equal(traditionalTimestamp(Date.parse('2005-01-04T23:30:05Z'), 'Europe/Zurich'), 'Jan  5 00:30:05')
  })
})
