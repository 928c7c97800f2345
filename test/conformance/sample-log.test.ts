import assert from 'node:assert/strict'
import { test } from 'node:test'
import { evalCondition, failJsonTime, parseSampleLog } from '../../src/conformance/sample-log.js'

const sample = [
  '# filterOptions: [{}, {"mode": "aggressive"}]',
  '#1',
  '# failJSON: { "time": "2005-02-25T14:34:10", "match": true , "host": "194.117.26.69" }',
  'Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user ROOT from 194.117.26.69 port 50273 ssh2',
  '',
  'Feb 25 14:34:11 belka sshd[31602]: a line without expectation',
  '# addFILE: "sshd-journal"',
].join('\n')

test('a failJSON line applies to the line that follows it', () => {
  const items = parseSampleLog(sample, 'sshd')
  const line = items.find((i) => i.kind === 'line')
  assert.deepEqual(line, {
    kind: 'line', lineno: 4,
    line: 'Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user ROOT from 194.117.26.69 port 50273 ssh2',
    expected: { time: '2005-02-25T14:34:10', match: true, host: '194.117.26.69' },
  })
})

test('a log line without failJSON is expected not to match', () => {
  const items = parseSampleLog(sample, 'sshd')
  assert.deepEqual(items.filter((i) => i.kind === 'line')[1], {
    kind: 'line', lineno: 6, line: 'Feb 25 14:34:11 belka sshd[31602]: a line without expectation', expected: {},
  })
})

test('filterOptions lists every option set the following lines run under', () => {
  const items = parseSampleLog(sample, 'sshd')
  assert.deepEqual(items[0], { kind: 'filterOptions', options: [{}, { mode: 'aggressive' }] })
  assert.deepEqual(items.at(-1), { kind: 'addFile', name: 'sshd-journal' })
})

test('invalid JSON in a directive names the file and line', () => {
  assert.throws(() => parseSampleLog('# failJSON: { nope', 'x'), /x:1: invalid JSON in failJSON/)
})

test('conditions compare name and options as fail2ban evaluates them', () => {
  const env = { name: 'sshd', opts: { mode: 'aggressive' } }
  assert.equal(evalCondition("name=='sshd'", env), true)
  assert.equal(evalCondition("name == 'sshd-journal'", env), false)
  assert.equal(evalCondition("opts.get('mode') != 'aggressive'", env), false)
  assert.equal(evalCondition("opts.get('mode') == 'aggressive' and name == 'sshd'", env), true)
  assert.equal(evalCondition("opts.get('logtype') == 'journal'", env), false)
  assert.throws(() => evalCondition('__import__("os")', env), /unsupported condition expression/)
})

test('a failJSON time is read as strptime reads it: one-digit fields, up to six fraction digits, no rollover', () => {
  const zurich = (text: string) => failJsonTime(text, 'Europe/Zurich')
  assert.equal(zurich('2005-03-7T02:09:33'), Date.parse('2005-03-07T02:09:33+01:00') / 1000)
  assert.equal(zurich('2005-8-14T9:5:7.25'), Date.parse('2005-08-14T09:05:07.250+02:00') / 1000)
  for (const bad of ['2005-02-30T12:00:00', '2005-08-14T24:00:00', '2005-08-14T12:60:00', '05-08-14T12:00:00', '2005-08-14T12:00:00.1234567']) {
    assert.throws(() => zurich(bad), /failJSON time/, bad)
  }
})
