import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { formatJournalEntry, journalMatchArgs } from '../../src/sources/journal-entry.js'
import { fixturePath } from './fixture-path.js'

const entries = readFileSync(fixturePath('journalctl-json.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as Record<string, unknown>)
const format = (i: number) => formatJournalEntry(entries[i]!)!

describe('formatJournalEntry (real journalctl -o json output)', () => {
  test('an sshd entry received over syslog: HOSTNAME SYSLOG_IDENTIFIER[SYSLOG_PID]: MESSAGE', () => {
    const line = format(2)
    assert.equal(line.line.toString(), 'vm sshd[4321]: Failed password for invalid user admin from 192.0.2.7 port 51234 ssh2')
    assert.equal(line.host, 'vm')
  })

  test('a message stays one line: trailing newlines go, those inside are written #012', () => {
    const entry = { ...entries[2]!, MESSAGE: 'hello\nsshd[1]: Failed password for root from 198.51.100.7 port 1 ssh2\n\n' }
    assert.equal(formatJournalEntry(entry)!.line.toString(), 'vm sshd[4321]: hello#012sshd[1]: Failed password for root from 198.51.100.7 port 1 ssh2')
  })

  test('the time is _SOURCE_REALTIME_TIMESTAMP in milliseconds, and the cursor is kept', () => {
    const line = format(2)
    assert.equal(line.time_ms, 1795314293783.748)
    assert.equal(line.cursor, entries[2]!.__CURSOR)
  })

  test('without _SOURCE_REALTIME_TIMESTAMP the time is __REALTIME_TIMESTAMP', () => {
    assert.equal(format(0).time_ms, 1795314286176.273)
  })

  test('an identifier without SYSLOG_PID takes _PID', () => {
    assert.equal(format(0).line.toString(), 'vm systemd-journald[7164]: Journal started')
    assert.equal(format(3).line.toString(), 'vm postfix/smtpd[777]: NOQUEUE: reject: RCPT from unknown[198.51.100.3]: 554 5.7.1 Service unavailable')
  })

  test('a MESSAGE that is not UTF-8 (a byte array in the JSON) keeps its bytes', () => {
    const expected = Buffer.concat([Buffer.from('vm sshd[7182]: Failed password for r'), Buffer.from([0xf6, 0xf6]), Buffer.from('t from 203.0.113.9 port 22 ssh2')])
    assert.deepEqual(format(5).line, expected)
  })

  test('an entry without SYSLOG_IDENTIFIER is tagged with _COMM[_PID]', () => {
    assert.equal(format(6).line.toString(), 'vm python3[7182]: client 192.0.2.50 denied')
  })
})

describe('formatJournalEntry (other shapes)', () => {
  test('a kernel entry carries its monotonic time as [%12.6f] seconds', () => {
    const line = formatJournalEntry({
      __REALTIME_TIMESTAMP: '1123977600000000',
      _SOURCE_MONOTONIC_TIMESTAMP: '12345678',
      _TRANSPORT: 'kernel',
      SYSLOG_IDENTIFIER: 'kernel',
      _HOSTNAME: 'fw1',
      MESSAGE: 'IN=eth0 OUT= SRC=192.0.2.4',
    })
    assert.equal(line?.line.toString(), 'fw1 kernel: [   12.345678] IN=eth0 OUT= SRC=192.0.2.4')
  })

  test('a MESSAGE given several times is joined with spaces', () => {
    const line = formatJournalEntry({ __REALTIME_TIMESTAMP: '1', _HOSTNAME: 'h', MESSAGE: ['a', [98]] })
    assert.equal(line?.line.toString(), 'h a b')
  })

  test('an entry without a timestamp is refused', () => {
    assert.equal(formatJournalEntry({ MESSAGE: 'x' }), undefined)
  })
})

describe('journalMatchArgs', () => {
  test('turns fail2ban journalmatch into journalctl match arguments', () => {
    assert.deepEqual(journalMatchArgs('_SYSTEMD_UNIT=sshd.service + _COMM=sshd'), ['_SYSTEMD_UNIT=sshd.service', '+', '_COMM=sshd'])
  })

  test('lines are alternatives too', () => {
    assert.deepEqual(journalMatchArgs('_SYSTEMD_UNIT=a.service\n\n_SYSTEMD_UNIT=b.service _COMM=b'), [
      '_SYSTEMD_UNIT=a.service',
      '+',
      '_SYSTEMD_UNIT=b.service',
      '_COMM=b',
    ])
  })
})
